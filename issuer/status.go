package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// Status list sizing. A new list has StatusListSize entries, the minimum
// of Bitstring Status List 1.0 (a crowd of 131,072 to hide in). A list
// stops taking allocations when StatusListFullPercent of it is allocated,
// and the next list opens: random allocation then never needs more than a
// few draws (at 90% full a draw hits a free index 1 time in 10, and
// statuslist.RandomIndex tries 128 times), and an index is never reused.
const (
	StatusListSize        = statuslist.MinEntries
	StatusListFullPercent = 90
)

// Signed status lists are valid for statusListValidity from signing, and
// re-signed on the first request more than statusListRefresh after signing
// even when no status changed, so that a list served from a cache is always
// far from its validUntil (or exp).
const (
	statusListValidity = 24 * time.Hour
	statusListRefresh  = time.Hour
)

// Status values of a status change (VC-API credentialStatus[].status).
const (
	StatusRevoked   = "revoked"
	StatusSuspended = "suspended"
	StatusActive    = "active"
)

// ParseStatusAction reads a VC-API status value: "revoked", "suspended", or
// "active" (also "reinstated", "unsuspended", "valid"). It returns the
// resulting status.
func ParseStatusAction(v string) (string, bool) {
	switch v {
	case StatusRevoked, StatusSuspended:
		return v, true
	case StatusActive, "reinstated", "unsuspended", "valid":
		return StatusActive, true
	}
	return "", false
}

// ActorKind says how the party asking for a status change was
// authenticated.
type ActorKind int

// Kinds of actors.
const (
	// ActorAdmin is an organization admin, authenticated by an admin token
	// of the organization.
	ActorAdmin ActorKind = iota + 1
	// ActorPrincipal is the human an agent acts for, authenticated by a
	// request signed with their DID key (checked by the caller).
	ActorPrincipal
)

// Actor is an authenticated party that asks for a status change. The caller
// has authenticated it; ChangeStatus decides what it may change.
type Actor struct {
	Kind ActorKind
	// OrganizationID is the organization the actor acts in.
	OrganizationID string
	// ID names the actor for logs: the admin token's ID, or the
	// principal's DID (which must be the credential's recorded principal).
	ID string
}

// ChangeStatus revokes, suspends or reinstates (status StatusRevoked,
// StatusSuspended, StatusActive) the organization's credential
// credentialID, for actor. Revocation is final. The change and a new
// version of every status list it touches commit in one transaction before
// ChangeStatus returns, so the next request for the list shows it. A change
// to the status the credential has already is a no-op.
//
// Another organization's credential, or one whose principal the actor is
// not, is ErrNotFound, never ErrForbidden, so that the answer does not
// reveal that it exists.
func (s *Service) ChangeStatus(ctx context.Context, actor Actor, credentialID, status string) (*store.IssuedCredential, error) {
	if actor.OrganizationID == "" || (actor.Kind != ActorAdmin && actor.Kind != ActorPrincipal) {
		return nil, &Error{Kind: ErrForbidden, Problem: problem.Forbidden("the actor may not change credential status")}
	}
	switch status {
	case StatusRevoked, StatusSuspended, StatusActive:
	default:
		return nil, invalid(ErrInvalidStatusRequest, "unknown status", field("/credentialStatus/0/status", fmt.Sprintf("unknown status %q", status)))
	}
	var (
		out      *store.IssuedCredential
		cascaded int
	)
	change := func(tx *store.Store) error {
		rec, err := tx.IssuedCredentialByID(ctx, actor.OrganizationID, credentialID, true)
		if errors.Is(err, store.ErrNotFound) || (err == nil && actor.Kind == ActorPrincipal && rec.PrincipalDID != actor.ID) {
			return notFound("no credential with id " + credentialID)
		}
		if err != nil {
			return err
		}
		out = rec
		if rec.Status == status {
			return nil
		}
		if err := applyStatus(ctx, tx, rec, status); err != nil {
			return err
		}
		// A delegation's credentials share their status, and a
		// revocation cascades to the delegations below it.
		n, err := s.followDelegation(ctx, tx, rec, status)
		if err != nil {
			return err
		}
		cascaded = n
		return nil
	}
	// Changes that lock the same credentials in another order (the two
	// credentials of one delegation, changed at once) can deadlock on
	// PostgreSQL: the database aborts one, which is tried again.
	var err error
	for attempt := 1; ; attempt++ {
		err = s.store.Transaction(ctx, change)
		if err == nil || attempt == 3 || !store.Retryable(err) {
			break
		}
		s.log.WarnContext(ctx, "retrying status change", "credential", credentialID, "attempt", attempt, "error", err)
	}
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, fmt.Errorf("change status of %s to %s: %w", credentialID, status, err)
	}
	s.log.InfoContext(ctx, "credential status changed", "credential", credentialID, "status", out.Status,
		"organization", actor.OrganizationID, "actor", actor.ID, "cascaded", cascaded)
	return out, nil
}

// applyStatus moves rec, inside tx, to status, setting its status entries
// to match. rec is updated.
func applyStatus(ctx context.Context, tx *store.Store, rec *store.IssuedCredential, status string) error {
	if rec.Status == store.CredentialRevoked {
		return conflict(ErrStatusConflict, "the credential is revoked, which is final")
	}
	entries, err := tx.StatusEntriesOf(ctx, rec.ID)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return conflict(ErrStatusConflict, "the credential was issued without status entries; its status cannot change")
	}
	var changed []store.StatusEntry
	set := func(e store.StatusEntry, v int) {
		if e.Value != v {
			e.Value = v
			changed = append(changed, e)
		}
	}
	for _, e := range entries {
		switch e.Purpose {
		case statuslist.PurposeRevocation:
			if status == StatusRevoked {
				set(e, 1)
			}
		case statuslist.PurposeSuspension:
			if status == StatusSuspended {
				set(e, 1)
			} else if status == StatusActive {
				set(e, 0)
			}
		case store.StatusPurposeToken:
			switch status {
			case StatusRevoked:
				set(e, int(statuslist.StatusInvalid))
			case StatusSuspended:
				set(e, int(statuslist.StatusSuspended))
			default:
				set(e, int(statuslist.StatusValid))
			}
		}
	}
	if err := tx.ChangeCredentialStatus(ctx, rec.ID, status, changed); err != nil {
		return err
	}
	rec.Status = status
	return nil
}

// SignedStatusList is a status list ready to serve.
type SignedStatusList struct {
	// ID is the list's ID; Kind store.StatusListBitstring or
	// store.StatusListToken.
	ID, Kind string
	// ContentType is ContentTypeStatusListCredential or
	// ContentTypeStatusListToken.
	ContentType string
	// Body is the signed list credential (JSON) or token (compact JWS).
	Body []byte
	// ETag identifies Body: the list's version and when it was signed.
	ETag string
	// Version is the list's version.
	Version int64
}

// Content types of status lists.
const (
	ContentTypeStatusListCredential = "application/vc+ld+json"
	ContentTypeStatusListToken      = statuslist.MediaType
)

// StatusList returns the signed status list listID: the cached signed form
// when it is of the list's current version and fresh, else a newly signed
// one (cached for the next request and for other replicas). Anyone may read
// a status list; an unknown list is ErrNotFound.
func (s *Service) StatusList(ctx context.Context, listID string) (*SignedStatusList, error) {
	l, err := s.store.StatusListByID(ctx, listID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no status list " + listID)
	}
	if err != nil {
		return nil, fmt.Errorf("status list %s: %w", listID, err)
	}
	now := s.now()
	if l.SignedVersion == l.Version && l.SignedAt != nil && now.Sub(*l.SignedAt) < statusListRefresh && l.SignedDocument != "" {
		return served(l, []byte(l.SignedDocument), *l.SignedAt), nil
	}
	// The entries are read after the version, so they are at least as new
	// as it: a change racing this read shows now or under the next version.
	entries, err := s.store.SetStatusEntries(ctx, l.ID)
	if err != nil {
		return nil, fmt.Errorf("status list %s: %w", listID, err)
	}
	body, encoded, signedAt, err := s.signList(ctx, l, entries)
	if err != nil {
		return nil, fmt.Errorf("status list %s version %d: %w", listID, l.Version, err)
	}
	if err := s.store.SaveSignedStatusList(ctx, l.ID, l.Version, encoded, string(body), signedAt); err != nil {
		s.log.WarnContext(ctx, "could not cache a signed status list", "list", l.ID, "error", err)
	}
	return served(l, body, signedAt), nil
}

// StatusListETag is the ETag StatusList would answer for listID when its
// cached signed form is current, read without loading the list: "" when
// the list would be signed again (changed since, or due for its hourly
// re-signing), so the caller must ask StatusList. An unknown list is
// ErrNotFound.
func (s *Service) StatusListETag(ctx context.Context, listID string) (string, error) {
	st, err := s.store.StatusListStamp(ctx, listID)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFound("no status list " + listID)
	}
	if err != nil {
		return "", fmt.Errorf("status list %s: %w", listID, err)
	}
	if st.SignedVersion != st.Version || st.SignedAt == nil || s.now().Sub(*st.SignedAt) >= statusListRefresh {
		return "", nil
	}
	return listETag(st.Version, *st.SignedAt), nil
}

// listETag is the ETag of a list's version signed at signedAt.
func listETag(version int64, signedAt time.Time) string {
	return `"` + strconv.FormatInt(version, 10) + "." + strconv.FormatInt(signedAt.Unix(), 10) + `"`
}

func served(l *store.StatusList, body []byte, signedAt time.Time) *SignedStatusList {
	ct := ContentTypeStatusListCredential
	if l.Kind == store.StatusListToken {
		ct = ContentTypeStatusListToken
	}
	return &SignedStatusList{
		ID: l.ID, Kind: l.Kind, ContentType: ct, Body: body, Version: l.Version,
		ETag: listETag(l.Version, signedAt),
	}
}

// signList builds the list from its set entries and signs it with the key
// of the identity that issues on it.
func (s *Service) signList(ctx context.Context, l *store.StatusList, entries []store.StatusEntry) (body []byte, encoded string, signedAt time.Time, err error) {
	id, err := s.listIdentity(ctx, l)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	signer, err := s.keys.Load(ctx, id.KeyURI)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("load key of %s: %w", id.DID, err)
	}
	vm, err := identityVM(*id)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	signedAt = s.clock()
	url := s.StatusListURL(l.ID)
	switch l.Kind {
	case store.StatusListBitstring:
		bs, err := statuslist.New(l.Size, l.Bits, statuslist.WithMinEntries(min(l.Size, statuslist.MinEntries)))
		if err != nil {
			return nil, "", time.Time{}, err
		}
		for _, e := range entries {
			if err := bs.Set(e.Index, uint(e.Value)); err != nil {
				return nil, "", time.Time{}, err
			}
		}
		vc, err := statuslist.NewCredential(statuslist.CredentialOptions{
			ID: url, Issuer: id.DID, Purposes: []string{l.Purpose}, List: bs,
			ValidFrom: signedAt, ValidUntil: signedAt.Add(statusListValidity), TTL: s.maxAge,
		})
		if err != nil {
			return nil, "", time.Time{}, err
		}
		signed, err := dataintegrity.Sign(ctx, vc, signer, dataintegrity.ProofOptions{
			Cryptosuite: suiteFor(keys.KeyType(id.KeyType)), VerificationMethod: vm, Created: signedAt,
		})
		if err != nil {
			return nil, "", time.Time{}, fmt.Errorf("sign: %w", err)
		}
		body, err := json.Marshal(signed)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		subject, _ := vc["credentialSubject"].(map[string]any)
		encoded, _ := subject["encodedList"].(string)
		return body, encoded, signedAt, nil
	case store.StatusListToken:
		tl, err := statuslist.NewTokenList(l.Size, l.Bits)
		if err != nil {
			return nil, "", time.Time{}, err
		}
		for _, e := range entries {
			if err := tl.Set(e.Index, statuslist.Status(e.Value)); err != nil {
				return nil, "", time.Time{}, err
			}
		}
		claim, err := tl.Claim()
		if err != nil {
			return nil, "", time.Time{}, err
		}
		tok, err := statuslist.SignToken(ctx, signer, vm, statuslist.TokenClaims{
			Subject: url, Issuer: id.DID, IssuedAt: signedAt, ExpiresAt: signedAt.Add(statusListValidity),
			TTL: s.maxAge.Truncate(time.Second), StatusList: claim,
		})
		if err != nil {
			return nil, "", time.Time{}, fmt.Errorf("sign: %w", err)
		}
		return []byte(tok), claim.Lst, signedAt, nil
	}
	return nil, "", time.Time{}, fmt.Errorf("unknown status list kind %q", l.Kind)
}

func suiteFor(kt keys.KeyType) string {
	if kt == keys.Ed25519 {
		return dataintegrity.EdDSARDFC2022
	}
	return dataintegrity.ECDSARDFC2019
}

// CredentialDetails is an issued credential with its status entries.
type CredentialDetails struct {
	Record *store.IssuedCredential
	Status []StatusRef
}

// Credential returns the organization's credential credentialID, or
// ErrNotFound (also when another organization has one).
func (s *Service) Credential(ctx context.Context, orgID, credentialID string) (*CredentialDetails, error) {
	rec, err := s.store.IssuedCredentialByID(ctx, orgID, credentialID, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no credential with id " + credentialID)
	}
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", credentialID, err)
	}
	entries, err := s.store.StatusEntriesOf(ctx, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", credentialID, err)
	}
	d := &CredentialDetails{Record: rec}
	for _, e := range entries {
		kind := store.StatusListBitstring
		if e.Purpose == store.StatusPurposeToken {
			kind = store.StatusListToken
		}
		d.Status = append(d.Status, StatusRef{ListID: e.ListID, List: s.StatusListURL(e.ListID), Kind: kind, Purpose: e.Purpose, Index: e.Index})
	}
	return d, nil
}

// CredentialQuery selects credentials for Credentials.
type CredentialQuery struct {
	Subject, Type, Status string
	From, To              time.Time
	// After is the cursor of the previous page ("" for the first).
	After string
	// Limit is the page size (default 100, at most 1000).
	Limit int
}

// Credentials lists the organization's credentials, oldest first, a page at
// a time: next is the After of the next page, "" after the last.
func (s *Service) Credentials(ctx context.Context, orgID string, q CredentialQuery) (list []store.IssuedCredential, next string, err error) {
	f := store.CredentialFilter{
		OrganizationID: orgID, Subject: q.Subject, Type: q.Type, Status: q.Status, From: q.From, To: q.To,
	}
	if q.After != "" {
		t, id, ok := parseCursor(q.After)
		if !ok {
			return nil, "", invalid(ErrInvalidCredential, "bad cursor", field("after", "not a cursor this server handed out"))
		}
		f.AfterTime, f.AfterID = t, id
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultCredentialLimit
	}
	limit = min(limit, store.MaxCredentialLimit)
	f.Limit = limit + 1
	if f.Limit > store.MaxCredentialLimit {
		f.Limit = store.MaxCredentialLimit
	}
	list, err = s.store.ListIssuedCredentials(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list credentials: %w", err)
	}
	if len(list) > limit || (len(list) == limit && f.Limit == limit) {
		list = list[:limit]
		last := list[len(list)-1]
		next = makeCursor(last.CreatedAt, last.ID)
	}
	return list, next, nil
}

// A cursor is base64url of "unix-microseconds.row-id".
func makeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + id))
}

func parseCursor(c string) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	us, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

// newRowID returns a random (version 4) UUID.
func newRowID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
