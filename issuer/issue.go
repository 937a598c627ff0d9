package issuer

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/schemas"
)

// Issuance formats (VC-API options.format).
const (
	// FormatLDPVC is a JSON-LD credential with an embedded Data Integrity
	// proof (VC 2.0 or 1.1).
	FormatLDPVC = "ldp_vc"
	// FormatSDJWT is an SD-JWT VC (IETF, typ dc+sd-jwt) in compact form.
	FormatSDJWT = "dc+sd-jwt"
)

// SD-JWT VC types of agentid's credential types.
const (
	VCTAgentIdentity   = "https://agentid.dev/vct/agent-identity/v1"
	VCTAgentDelegation = "https://agentid.dev/vct/agent-delegation/v1"
)

// vctFor maps credential types to their SD-JWT VC type.
var vctFor = map[string]string{
	"AgentIdentityCredential":   VCTAgentIdentity,
	"AgentDelegationCredential": VCTAgentDelegation,
}

// bitstringStatusContext defines BitstringStatusListEntry for VC 1.1
// credentials (the VC 2.0 context defines it itself).
const bitstringStatusContext = "https://www.w3.org/ns/credentials/status/v1"

// IssueOptions are the VC-API issuance options agentid understands.
type IssueOptions struct {
	// Format is FormatLDPVC (default) or FormatSDJWT.
	Format string
	// Cryptosuite is dataintegrity.EdDSARDFC2022 (the default) or
	// dataintegrity.ECDSARDFC2019; ldp_vc only. It picks the default
	// issuer identity, and must fit the key of an issuer that is named.
	Cryptosuite string
	// VCT is the SD-JWT VC type, for credential types agentid has no vct
	// for; dc+sd-jwt only.
	VCT string
	// NoStatus leaves status entries out (VC-API options.credentialStatus
	// false): the credential can then be neither revoked nor suspended.
	NoStatus bool
	// SDJWTEvidence carries the credential's evidence over to the SD-JWT
	// VC as its (selectively disclosable) evidence claim; dc+sd-jwt only.
	SDJWTEvidence bool
}

// Issued is an issued credential.
type Issued struct {
	// Record is the stored credential.
	Record *store.IssuedCredential
	// Credential is the signed credential: a map for ldp_vc, the compact
	// SD-JWT string for dc+sd-jwt.
	Credential any
	// Status are its status list entries.
	Status []StatusRef
}

// StatusRef is a credential's entry in a status list.
type StatusRef struct {
	ListID  string `json:"statusListId"`
	List    string `json:"statusListCredential"`
	Kind    string `json:"kind"`
	Purpose string `json:"statusPurpose"`
	Index   int    `json:"statusListIndex"`
}

// plan is what Issue has decided before it touches the database.
type plan struct {
	orgID    string
	identity store.IssuerIdentity
	signer   keys.Signer
	vm       string
	suite    string
	format   string
	doc      map[string]any
	cred     *credential.Credential
	sd       *sdjwt.VC
	purposes []statusSpec
	// newID is set when plan gave the credential a fresh random id, which
	// no stored credential can have.
	newID bool
}

// statusSpec is one status entry to allocate.
type statusSpec struct {
	kind, purpose string
	bits          int
}

// Issue issues a credential as the organization orgID. The credential
// (decoded JSON; VC 2.0 or 1.1) gets, where missing, the organization's
// default issuer identity for the format and cryptosuite, an id
// ("urn:uuid:…") and its start of validity (validFrom, or issuanceDate for
// 1.1); then, unless opts.NoStatus, status entries: for ldp_vc a revocation
// and a suspension BitstringStatusListEntry, for dc+sd-jwt one Token Status
// List reference. It must pass the data model, JSON-LD safe mode and its
// JSON Schemas, all checked before anything is written. The status indexes
// are drawn and the credential signed; then the indexes are claimed and
// the credential stored, in one transaction, committed before Issue
// returns.
//
// Bad input fails with ErrInvalidCredential, ErrInvalidOptions or
// ErrUnknownIssuer, a taken id with ErrCredentialExists; each carries a
// problem naming the fields (JSON pointers under /credential and /options).
// doc is not modified.
func (s *Service) Issue(ctx context.Context, orgID string, doc map[string]any, opts IssueOptions) (*Issued, error) {
	p, err := s.plan(ctx, orgID, doc, opts)
	if err != nil {
		return nil, err
	}
	// A credential id given by the caller may be taken: find out before
	// signing. (Storing checks again, as part of the same transaction.)
	if !p.newID {
		if _, err := s.store.IssuedCredentialByID(ctx, orgID, p.cred.ID(), false); err == nil {
			return nil, conflict(ErrCredentialExists, fmt.Sprintf("the organization has issued a credential with id %s already", p.cred.ID()))
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("issue: %w", err)
		}
	}

	var out *Issued
	for attempt := 1; ; attempt++ {
		var lists []*store.StatusList
		if lists, err = s.openLists(ctx, p); err == nil {
			out, err = s.issueTx(ctx, p, lists)
		}
		if err == nil {
			s.noteAllocated(ctx, lists)
			break
		}
		var full *listFullError
		if errors.As(err, &full) {
			s.markFull(ctx, full.list)
		}
		if attempt == 3 || !(store.Retryable(err) || full != nil) {
			break
		}
		s.log.WarnContext(ctx, "retrying issuance", "attempt", attempt, "error", err)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, conflict(ErrCredentialExists, fmt.Sprintf("the organization has issued a credential with id %s already", p.cred.ID()))
	case err != nil:
		return nil, fmt.Errorf("issue %s: %w", p.cred.ID(), err)
	}
	return out, nil
}

// issueTx allocates an index on each of lists (one per status purpose of
// p), signs and stores the credential, in one transaction.
//
// The indexes are drawn and the credential signed before the transaction:
// the transaction, which the group commit (batch.go) shares among the
// issuances queued at the time, only claims the drawn indexes and stores
// the credentials, so the database's write lock (SQLite's one writer) is
// held for inserts, not for canonicalization and signing. An index another
// issuer claimed since the draw costs a new draw and a new signature.
func (s *Service) issueTx(ctx context.Context, p *plan, lists []*store.StatusList) (*Issued, error) {
	s.commits.signing.Add(1)
	defer s.commits.signing.Add(-1)
	for range 16 {
		rowID := newOrderedID()
		refs := make([]StatusRef, 0, len(p.purposes))
		for i, sp := range p.purposes {
			ref, err := s.draw(ctx, lists[i], sp)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
		rec, signed, err := s.sign(ctx, p, refs)
		if err != nil {
			return nil, err
		}
		rec.ID = rowID
		err = s.storeIssued(ctx, rec, refs)
		var taken *indexTakenError
		if errors.As(err, &taken) {
			continue // another issuer claimed it since the draw: draw again
		}
		if err != nil {
			return nil, err
		}
		return &Issued{Record: rec, Credential: signed, Status: refs}, nil
	}
	return nil, fmt.Errorf("allocate status indexes: %w: too many collisions", store.ErrConflict)
}

// indexTakenError is a drawn status index that another issuer claimed
// before the transaction did.
type indexTakenError struct{ err error }

func (e *indexTakenError) Error() string { return e.err.Error() }
func (e *indexTakenError) Unwrap() error { return e.err }

// storeIssued claims the status indexes refs and stores the signed credential
// rec, in one transaction shared with the other issuances queued at the time
// (group commit, batch.go).
func (s *Service) storeIssued(ctx context.Context, rec *store.IssuedCredential, refs []StatusRef) error {
	return s.commit(ctx, rec, refs)
}

// errListFull is a list on which random draws found no free index.
var errListFull = errors.New("status list full")

// listFullError names the list that is full.
type listFullError struct {
	list *store.StatusList
	err  error
}

func (e *listFullError) Error() string {
	return fmt.Sprintf("status list %s: %v: %v", e.list.ID, errListFull, e.err)
}

func (e *listFullError) Unwrap() []error { return []error{errListFull, e.err} }

// listKey names the lists of one issuer, kind and purpose.
type listKey struct{ issuer, kind, purpose string }

// openList is the cached list a process draws indexes from.
type openList struct {
	list    *store.StatusList
	counted int       // allocations counted in the database at checked
	since   int       // allocations this process made since
	checked time.Time // when they were last counted
}

// recountEvery bounds how long a process goes without counting a list's
// allocations (other processes allocate too).
const recountEvery = 30 * time.Second

// openLists returns, for each status purpose of p, the list to draw from:
// the cached open list, or the one the database says is open (created
// when there is none).
func (s *Service) openLists(ctx context.Context, p *plan) ([]*store.StatusList, error) {
	out := make([]*store.StatusList, 0, len(p.purposes))
	for _, sp := range p.purposes {
		key := listKey{p.identity.DID, sp.kind, sp.purpose}
		s.openMu.Lock()
		ol := s.open[key]
		s.openMu.Unlock()
		if ol == nil {
			l, err := s.store.OpenStatusList(ctx, store.StatusListSpec{
				OrganizationID: p.orgID, IssuerDID: p.identity.DID, Kind: sp.kind, Purpose: sp.purpose,
				Size: s.listSize, Bits: sp.bits, FullPercent: s.listFull,
			})
			if err != nil {
				return nil, err
			}
			ol = &openList{list: l, counted: l.Used, checked: s.now()}
			s.openMu.Lock()
			if cur := s.open[key]; cur != nil {
				ol = cur
			} else {
				s.open[key] = ol
			}
			s.openMu.Unlock()
		}
		out = append(out, ol.list)
	}
	return out, nil
}

// noteAllocated counts one allocation on each of lists, and now and then
// (when the list may have reached its fill level, or every recountEvery)
// counts the list's entries in the database, records the count, and stops
// using a list that is full.
func (s *Service) noteAllocated(ctx context.Context, lists []*store.StatusList) {
	for _, l := range lists {
		key := listKey{l.IssuerDID, l.Kind, l.Purpose}
		full := l.Size * s.listFull / 100
		s.openMu.Lock()
		ol := s.open[key]
		recount := false
		if ol != nil && ol.list.ID == l.ID {
			ol.since++
			if ol.counted+ol.since >= full || s.now().Sub(ol.checked) > recountEvery {
				recount = true
				ol.checked = s.now()
			}
		}
		s.openMu.Unlock()
		if recount {
			s.recount(ctx, key, l)
		}
	}
}

// recount counts the allocations of l and drops it from the cache when it
// has reached its fill level.
func (s *Service) recount(ctx context.Context, key listKey, l *store.StatusList) {
	n, err := s.store.CountStatusListEntries(ctx, l.ID)
	if err == nil {
		err = s.store.NoteStatusListUsage(ctx, l.ID, n)
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not count a status list's allocations", "list", l.ID, "error", err)
		return
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	ol := s.open[key]
	if ol == nil || ol.list.ID != l.ID {
		return
	}
	ol.counted, ol.since = n, 0
	if n*100 >= l.Size*s.listFull {
		delete(s.open, key)
		s.log.InfoContext(ctx, "status list reached its fill level; opening the next", "list", l.ID, "allocated", n, "size", l.Size)
	}
}

// lookupFromPercent is the fill level of a list, in percent, from which
// draw asks the database whether a drawn index is taken before the
// credential is signed. Below it a drawn index is taken rarely (less than
// one draw in 16), and a taken one costs only a new draw and signature
// when the group commit finds it: less than a lookup for every draw.
const lookupFromPercent = 6

// sparse reports whether list, as far as this process knows, is filled
// below lookupFromPercent.
func (s *Service) sparse(list *store.StatusList) bool {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	ol := s.open[listKey{list.IssuerDID, list.Kind, list.Purpose}]
	if ol == nil || ol.list.ID != list.ID {
		return false
	}
	return (ol.counted+ol.since)*100 < list.Size*lookupFromPercent
}

// draw picks a random index of list for sp that, unless the list is
// sparse, no committed entry holds. The unique key on (list, index), when
// the index is claimed, is the guarantee; the group commit checks the
// drawn indexes before it inserts; the lookup here only makes a collision
// with committed entries unlikely to cost a signature.
func (s *Service) draw(ctx context.Context, list *store.StatusList, sp statusSpec) (StatusRef, error) {
	var takenErr error
	lookup := !s.sparse(list)
	idx, err := statuslist.RandomIndex(rand.Reader, list.Size, func(i int) bool {
		if !lookup {
			return false
		}
		taken, err := s.store.StatusIndexTaken(ctx, list.ID, i)
		if err != nil {
			takenErr = err
			return true
		}
		return taken
	})
	if takenErr != nil {
		return StatusRef{}, takenErr
	}
	if err != nil {
		// Every draw was taken: the list is fuller than this process
		// knew. Issue records it as full and retries on the next list.
		return StatusRef{}, &listFullError{list: list, err: err}
	}
	return StatusRef{ListID: list.ID, List: s.StatusListURL(list.ID), Kind: sp.kind, Purpose: sp.purpose, Index: idx}, nil
}

// markFull records list as full, in the database and in the cache.
func (s *Service) markFull(ctx context.Context, list *store.StatusList) {
	if err := s.store.NoteStatusListUsage(ctx, list.ID, list.Size); err != nil {
		s.log.WarnContext(ctx, "could not mark a status list full", "list", list.ID, "error", err)
	}
	s.openMu.Lock()
	defer s.openMu.Unlock()
	key := listKey{list.IssuerDID, list.Kind, list.Purpose}
	if ol := s.open[key]; ol != nil && ol.list.ID == list.ID {
		delete(s.open, key)
	}
}

// sign completes the credential with its status entries and signs it.
func (s *Service) sign(ctx context.Context, p *plan, refs []StatusRef) (*store.IssuedCredential, any, error) {
	rec := &store.IssuedCredential{
		OrganizationID: p.orgID,
		CredentialID:   p.cred.ID(),
		IssuerDID:      p.identity.DID,
		Format:         p.format,
		Status:         store.CredentialActive,
		CreatedAt:      s.now().UTC(),
	}
	types, err := store.JoinTypes(p.cred.Types())
	if err != nil {
		return nil, nil, invalid(ErrInvalidCredential, "the credential's types cannot be stored", field("/credential/type", err.Error()))
	}
	rec.Types = types
	if subs := p.cred.Subjects(); len(subs) > 0 {
		rec.SubjectID, _ = subs[0]["id"].(string)
		rec.PrincipalDID, _ = subs[0]["principal"].(string)
		if rec.PrincipalDID == "" {
			rec.PrincipalDID, _ = subs[0]["delegator"].(string)
		}
	}
	if t, ok := p.cred.NotBefore(); ok {
		rec.ValidFrom = &t
	}
	if t, ok := p.cred.NotAfter(); ok {
		rec.ValidUntil = &t
	}

	if p.format == FormatSDJWT {
		vc := *p.sd
		if len(refs) == 1 {
			vc.Status = map[string]any{"status_list": map[string]any{"idx": refs[0].Index, "uri": refs[0].List}}
		}
		vc.IssuedAt = s.clock()
		compact, err := sdjwt.IssueVC(ctx, p.signer, vc, sdjwt.IssueOptions{Disclose: disclosable(vc.Claims)})
		if err != nil {
			return nil, nil, fmt.Errorf("sign SD-JWT VC: %w", err)
		}
		rec.Document = compact
		return rec, compact, nil
	}

	doc := p.doc
	if len(refs) > 0 {
		doc = p.cred.Clone().Map()
		doc["credentialStatus"] = statusEntries(refs)
	}
	signed, err := dataintegrity.Sign(ctx, doc, p.signer, dataintegrity.ProofOptions{
		Cryptosuite: p.suite, VerificationMethod: p.vm, Created: s.clock(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign credential: %w", err)
	}
	raw, err := json.Marshal(signed)
	if err != nil {
		return nil, nil, fmt.Errorf("encode signed credential: %w", err)
	}
	rec.Document = string(raw)
	return rec, signed, nil
}

// statusEntries are the credentialStatus entries of refs.
func statusEntries(refs []StatusRef) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		idx := strconv.Itoa(r.Index)
		out = append(out, map[string]any{
			"id":                   r.List + "#" + idx,
			"type":                 statuslist.EntryType,
			"statusPurpose":        r.Purpose,
			"statusListIndex":      idx,
			"statusListCredential": r.List,
		})
	}
	return out
}

// plan checks the request and decides everything that needs no database
// writes: issuer identity and key, defaults, the status entries' shape, the
// SD-JWT VC. Every check of the input happens here, so bad input writes
// nothing.
func (s *Service) plan(ctx context.Context, orgID string, in map[string]any, opts IssueOptions) (*plan, error) {
	var fields []problem.FieldError
	switch opts.Format {
	case "":
		opts.Format = FormatLDPVC
	case FormatLDPVC, FormatSDJWT:
	default:
		fields = append(fields, field("/options/format", fmt.Sprintf("unknown format %q: want %s or %s", opts.Format, FormatLDPVC, FormatSDJWT)))
	}
	switch opts.Cryptosuite {
	case "", dataintegrity.EdDSARDFC2022, dataintegrity.ECDSARDFC2019:
		if opts.Cryptosuite != "" && opts.Format == FormatSDJWT {
			fields = append(fields, field("/options/cryptosuite", "a cryptosuite applies to ldp_vc only; an SD-JWT VC is signed with the issuer key's JOSE algorithm"))
		}
	default:
		fields = append(fields, field("/options/cryptosuite", fmt.Sprintf("unknown cryptosuite %q: want %s or %s", opts.Cryptosuite, dataintegrity.EdDSARDFC2022, dataintegrity.ECDSARDFC2019)))
	}
	if opts.VCT != "" && opts.Format != FormatSDJWT {
		fields = append(fields, field("/options/vct", "vct applies to dc+sd-jwt only"))
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidOptions, "the issuance options are not usable", fields...)
	}
	if in == nil {
		return nil, invalid(ErrInvalidCredential, "a credential is required", field("/credential", "required: the credential to issue"))
	}
	if _, ok := in["proof"]; ok {
		return nil, invalid(ErrInvalidCredential, "the credential to issue carries a proof", field("/credential/proof", "must be absent: the issuer adds the proof"))
	}
	if _, ok := in["credentialStatus"]; ok && !opts.NoStatus {
		return nil, invalid(ErrInvalidCredential, "the credential carries status entries",
			field("/credential/credentialStatus", "must be absent: the issuer adds status entries (or set options.credentialStatus to false)"))
	}

	p := &plan{orgID: orgID, format: opts.Format, suite: opts.Cryptosuite}
	p.cred = credential.NewCredential(in).Clone()
	p.doc = p.cred.Map()
	if err := s.pickIssuer(ctx, p, opts); err != nil {
		return nil, err
	}

	// Defaults.
	now := s.clock().Format(time.RFC3339)
	if _, ok := p.doc["id"]; !ok {
		p.doc["id"] = "urn:uuid:" + newOrderedID()
		p.newID = true
	}
	switch p.cred.Version() {
	case credential.V2:
		if _, ok := p.doc["validFrom"]; !ok {
			p.doc["validFrom"] = now
		}
	case credential.V1:
		if _, ok := p.doc["issuanceDate"]; !ok {
			p.doc["issuanceDate"] = now
		}
	}

	// Status entries, with placeholder values of the final shape, so that
	// the checks below see the credential as it will be signed.
	if !opts.NoStatus {
		if p.format == FormatSDJWT {
			p.purposes = []statusSpec{{store.StatusListToken, store.StatusPurposeToken, 2}}
		} else {
			p.purposes = []statusSpec{
				{store.StatusListBitstring, statuslist.PurposeRevocation, 1},
				{store.StatusListBitstring, statuslist.PurposeSuspension, 1},
			}
			if p.cred.Version() == credential.V1 && !hasContext(p.cred, bitstringStatusContext) {
				if ctxs, ok := p.doc["@context"].([]any); ok {
					p.doc["@context"] = append(slices.Clone(ctxs), bitstringStatusContext)
				}
			}
		}
	}
	check := p.doc
	if p.format == FormatLDPVC && len(p.purposes) > 0 {
		check = p.cred.Clone().Map()
		placeholder := s.StatusListURL("00000000")
		check["credentialStatus"] = statusEntries([]StatusRef{
			{List: placeholder, Purpose: statuslist.PurposeRevocation},
			{List: placeholder, Purpose: statuslist.PurposeSuspension},
		})
	}
	if err := validateCredential(ctx, credential.NewCredential(check)); err != nil {
		return nil, err
	}
	if _, err := store.JoinTypes(p.cred.Types()); err != nil {
		return nil, invalid(ErrInvalidCredential, "the credential's types cannot be stored", field("/credential/type", err.Error()))
	}
	if p.cred.ID() == "" {
		return nil, invalid(ErrInvalidCredential, "the credential's id is not usable", field("/credential/id", "must be a URL"))
	}
	if p.format == FormatSDJWT {
		vc, err := sdJWTFrom(p, opts.VCT)
		if err != nil {
			return nil, err
		}
		if ev, ok := p.cred.Map()["evidence"]; ok && opts.SDJWTEvidence {
			vc.Claims["evidence"] = ev
		}
		p.sd = vc
	}
	return p, nil
}

// pickIssuer settles the issuer identity, its signer and the cryptosuite.
func (s *Service) pickIssuer(ctx context.Context, p *plan, opts IssueOptions) error {
	ids, err := s.store.IssuerIdentities(ctx, p.orgID)
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	named, obj := p.cred.Issuer()
	_, present := p.doc["issuer"]
	_, objID := obj["id"]
	var id *store.IssuerIdentity
	want := []keys.KeyType{keys.Ed25519}
	switch {
	case p.format == FormatSDJWT:
		want = []keys.KeyType{keys.P256, keys.P384, keys.Ed25519}
	case p.suite == dataintegrity.ECDSARDFC2019:
		want = []keys.KeyType{keys.P256, keys.P384}
	}
	switch {
	case named != "":
		if strings.HasPrefix(named, "did:web:") && !slices.ContainsFunc(ids, func(i store.IssuerIdentity) bool { return i.DID == named }) {
			// An organization created since the server started gets its
			// did:web identities on first use.
			if ids, err = s.webIdentitiesNow(ctx, p.orgID); err != nil {
				return fmt.Errorf("issue: %w", err)
			}
		}
		// A did:web has an active key of each type: take the one the
		// format and cryptosuite want, else any (whose suite is then
		// checked below).
		id = pickActive(ids, named, want)
		if id == nil {
			return invalid(ErrUnknownIssuer, "the credential's issuer is not an active issuer identity of your organization",
				field(issuerPointer(obj), fmt.Sprintf("%s is not an active issuer identity of this organization; GET /admin/organization lists them", named)))
		}
	case present && obj == nil:
		return invalid(ErrInvalidCredential, "the credential's issuer is not usable",
			field("/credential/issuer", "must be a DID string or an object with an id"))
	case objID:
		// An issuer object whose id is null, empty or not a string: only
		// an object without id gets the default issuer (VC 2.0 §4.7: the
		// id must be a URL).
		return invalid(ErrInvalidCredential, "the credential's issuer is not usable",
			field("/credential/issuer/id", "must be a DID string (a URL); leave id out to get the organization's default issuer"))
	default:
		// The default is a did:key identity (KeyID empty), which anyone
		// can resolve offline.
	pick:
		for _, kt := range want {
			for i := range ids {
				if ids[i].Active && ids[i].KeyID == "" && ids[i].KeyType == string(kt) {
					id = &ids[i]
					break pick
				}
			}
		}
		if id == nil {
			return invalid(ErrInvalidOptions, "the organization has no issuer identity for this format and cryptosuite",
				field("/options/cryptosuite", "no active issuer identity of the organization has a key for it"))
		}
		if obj != nil {
			obj["id"] = id.DID
		} else {
			p.doc["issuer"] = id.DID
		}
	}

	kt := keys.KeyType(id.KeyType)
	if p.format == FormatLDPVC {
		suite := dataintegrity.ECDSARDFC2019
		switch kt {
		case keys.Ed25519:
			suite = dataintegrity.EdDSARDFC2022
		case keys.P256, keys.P384:
		default:
			return invalid(ErrInvalidOptions, "the issuer's key cannot make a Data Integrity proof",
				field("/credential/issuer", fmt.Sprintf("the identity's %s key has no Data Integrity cryptosuite", kt)))
		}
		if p.suite != "" && p.suite != suite {
			return invalid(ErrInvalidOptions, "the cryptosuite does not fit the issuer's key",
				field("/options/cryptosuite", fmt.Sprintf("%s cannot sign with the issuer %s's %s key (it needs %s)", p.suite, id.DID, kt, suite)))
		}
		p.suite = suite
	}
	vm, err := identityVM(*id)
	if err != nil {
		return fmt.Errorf("issue as %s: %w", id.DID, err)
	}
	signer, err := s.keys.Load(ctx, id.KeyURI)
	if err != nil {
		return fmt.Errorf("issue as %s: load key: %w", id.DID, err)
	}
	p.identity, p.signer, p.vm = *id, signer, vm
	return nil
}

func issuerPointer(obj map[string]any) string {
	if obj != nil {
		return "/credential/issuer/id"
	}
	return "/credential/issuer"
}

// verificationMethod is the DID URL of the key of an issuer identity.
func verificationMethod(did string) (string, error) {
	method, id, err := didmethods.SplitDID(did)
	if err != nil {
		return "", err
	}
	switch method {
	case "key":
		return did + "#" + id, nil
	case "jwk":
		return did + "#0", nil
	}
	return "", fmt.Errorf("issuer identities of DID method %q cannot sign yet", method)
}

// validateCredential runs what a verifier will check of the credential's
// content: the data model, JSON-LD safe mode, its JSON Schemas.
func validateCredential(ctx context.Context, c *credential.Credential) error {
	var fields []problem.FieldError
	credFields := func(errs []credential.FieldError) {
		for _, fe := range errs {
			fields = append(fields, field("/credential"+fe.Pointer, fe.Reason))
		}
	}
	var verr *credential.ValidationError
	if err := c.Validate(); err != nil {
		if !errors.As(err, &verr) {
			return fmt.Errorf("validate credential: %w", err)
		}
		credFields(verr.Errors)
		return invalid(ErrInvalidCredential, "the credential does not conform to the VC data model", fields...)
	}
	if err := credential.ValidateJSONLD(ctx, c, nil); err != nil {
		if !errors.As(err, &verr) {
			return fmt.Errorf("validate credential: %w", err)
		}
		credFields(verr.Errors)
		return invalid(ErrInvalidCredential, "the credential fails JSON-LD validation (undefined or redefined terms, unknown contexts)", fields...)
	}
	if err := schemas.ForCredential(c.Map()); err != nil {
		var serr *schemas.ValidationError
		if !errors.As(err, &serr) {
			return fmt.Errorf("validate credential: %w", err)
		}
		for _, fe := range serr.Errors {
			fields = append(fields, field("/credential"+fe.Pointer, fe.Reason))
		}
		if len(fields) == 0 {
			fields = append(fields, field("/credential/credentialSchema", serr.Error()))
		}
		return invalid(ErrInvalidCredential, "the credential does not conform to its JSON Schema", fields...)
	}
	return nil
}

func hasContext(c *credential.Credential, url string) bool {
	for _, v := range c.Contexts() {
		if v == url {
			return true
		}
	}
	return false
}

// sdJWTFrom turns the credential into the SD-JWT VC that says the same
// about its one subject: the subject's claims (id becoming sub), jti from
// the id, nbf and exp from the validity period, cnf from a did:key subject.
func sdJWTFrom(p *plan, vct string) (*sdjwt.VC, error) {
	subs := p.cred.Subjects()
	if len(subs) != 1 {
		return nil, invalid(ErrInvalidCredential, "an SD-JWT VC has one subject",
			field("/credential/credentialSubject", fmt.Sprintf("has %d subjects; an SD-JWT VC has exactly one", len(subs))))
	}
	claims := make(map[string]any, len(subs[0])+1)
	for k, v := range subs[0] {
		claims[k] = v
	}
	if id, ok := claims["id"].(string); ok {
		delete(claims, "id")
		claims["sub"] = id
	}
	var fields []problem.FieldError
	for _, name := range sdjwt.PlainVCClaims {
		if _, ok := claims[name]; ok {
			fields = append(fields, field("/credential/credentialSubject/"+name, "an SD-JWT VC reserves this claim"))
		}
	}
	if len(fields) > 0 {
		return nil, invalid(ErrInvalidCredential, "the subject cannot become an SD-JWT VC", fields...)
	}
	claims["jti"] = p.cred.ID()
	if vct == "" {
		for _, t := range p.cred.Types() {
			if v, ok := vctFor[t]; ok {
				vct = v
			}
		}
	}
	if vct == "" {
		return nil, invalid(ErrInvalidOptions, "no SD-JWT VC type for this credential",
			field("/options/vct", "required: agentid knows a vct only for AgentIdentityCredential and AgentDelegationCredential"))
	}
	vc := &sdjwt.VC{Issuer: p.identity.DID, KeyID: p.vm, Type: vct, Claims: claims}
	if t, ok := p.cred.NotBefore(); ok {
		vc.NotBefore = t
	}
	if t, ok := p.cred.NotAfter(); ok {
		vc.Expiry = t
	}
	if sub, _ := claims["sub"].(string); strings.HasPrefix(sub, "did:key:") {
		if _, pub, err := didmethods.ParseDIDKey(sub); err == nil {
			vc.HolderKey = pub
		} else {
			return nil, invalid(ErrInvalidCredential, "the subject's did:key is not usable",
				field("/credential/credentialSubject/id", err.Error()))
		}
	}
	return vc, nil
}

// disclosable names the claims of an SD-JWT VC that the holder may withhold:
// every top-level claim but jti. The credential id stays visible so that a
// verifier's audit event always names the credential that was presented
// (cnf, iss and status are plain anyway).
func disclosable(claims map[string]any) []string {
	out := make([]string, 0, len(claims))
	for k := range claims {
		if k == "jti" {
			continue
		}
		out = append(out, "/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
	}
	slices.Sort(out)
	return out
}
