package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// ContentTypeDIDJSON is the media type of a DID document in JSON.
const ContentTypeDIDJSON = "application/did+json"

// webKeyPrefix starts the fragment of every did:web verification method
// agentid writes: #key-1, #key-2, … in the order the keys were added.
const webKeyPrefix = "key-"

// WebBase is the method-specific part of the did:web of a public URL, or ""
// when the URL is not https (did:web requires HTTPS). The host is lowercased
// and a port is percent-encoded (%3A); each path segment becomes a
// colon-separated part:
//
//	https://issuer.example.com          → issuer.example.com
//	https://issuer.example.com:8443     → issuer.example.com%3A8443
//	https://example.com/agentid         → example.com:agentid
func WebBase(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", publicURL, err)
	}
	if u.Scheme != "https" {
		return "", nil
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("public URL %q: want https://host[:port][/path]", publicURL)
	}
	parts := []string{strings.ReplaceAll(strings.ToLower(u.Host), ":", "%3A")}
	for seg := range strings.SplitSeq(strings.Trim(u.Path, "/"), "/") {
		if seg == "" {
			continue
		}
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("public URL %q: path segment %q", publicURL, seg)
		}
		parts = append(parts, strings.ReplaceAll(url.PathEscape(seg), ":", "%3A"))
	}
	return strings.Join(parts, ":"), nil
}

// webDIDs are the did:web DIDs of an organization on this server: for the
// default organization the bare did:web of the public URL and
// did:web:…:orgs:<slug>, for the others only the latter. Nil when the
// public URL is not https.
func (s *Service) webDIDs(org *store.Organization) []string {
	if s.webBase == "" {
		return nil
	}
	orgDID := "did:web:" + s.webBase + ":orgs:" + url.PathEscape(org.Slug)
	if org.IsDefault {
		return []string{"did:web:" + s.webBase, orgDID}
	}
	return []string{orgDID}
}

// WebDIDs are the did:web issuer DIDs of an organization on this server
// (none when the public URL is not https).
func (s *Service) WebDIDs(org *store.Organization) []string { return s.webDIDs(org) }

// identityVM is the verification method (DID URL) an identity signs as:
// did:web#key-N for a key of a did:web, the key's own method for a did:key
// or did:jwk.
func identityVM(id store.IssuerIdentity) (string, error) {
	if id.KeyID != "" {
		return id.DID + "#" + id.KeyID, nil
	}
	return verificationMethod(id.DID)
}

// EnsureWebIdentities gives every organization its did:web identities when
// the public URL is https, for organizations created before (or while the
// server ran without https) as well as new ones. Each did:web DID gets the
// organization's active did:key keys as #key-1 (Ed25519) and #key-2
// (P-256): one key, two names. It returns the identities it added; a DID
// that has any identity is left alone. Several processes may run it at
// once.
func (s *Service) EnsureWebIdentities(ctx context.Context) ([]store.IssuerIdentity, error) {
	if s.webBase == "" {
		return nil, nil
	}
	orgs, err := s.store.ListOrganizations(ctx)
	if err != nil {
		return nil, fmt.Errorf("did:web identities: %w", err)
	}
	var added []store.IssuerIdentity
	for i := range orgs {
		ids, err := s.ensureOrgWeb(ctx, &orgs[i])
		if err != nil {
			return added, err
		}
		added = append(added, ids...)
	}
	return added, nil
}

// ensureOrgWeb adds the did:web identities org lacks.
func (s *Service) ensureOrgWeb(ctx context.Context, org *store.Organization) ([]store.IssuerIdentity, error) {
	var added []store.IssuerIdentity
	for _, did := range s.webDIDs(org) {
		have, err := s.store.IssuerIdentitiesByDID(ctx, did)
		if err != nil {
			return added, fmt.Errorf("did:web identities of %s: %w", org.Slug, err)
		}
		if len(have) > 0 {
			continue
		}
		var rows []store.IssuerIdentity
		err = s.store.Transaction(ctx, func(tx *store.Store) error {
			ids, err := tx.IssuerIdentities(ctx, org.ID)
			if err != nil {
				return err
			}
			rows = rows[:0]
			at := s.now().UTC().Truncate(time.Microsecond)
			for _, kt := range []keys.KeyType{keys.Ed25519, keys.P256, keys.P384} {
				for _, id := range ids {
					if !id.Active || id.KeyID != "" || id.KeyType != string(kt) {
						continue
					}
					row := store.IssuerIdentity{
						OrganizationID: org.ID, DID: did, KeyID: webKeyPrefix + strconv.Itoa(len(rows)+1),
						KeyURI: id.KeyURI, KeyType: id.KeyType, Cryptosuite: id.Cryptosuite, Active: true,
						CreatedAt: at.Add(time.Duration(len(rows)) * time.Microsecond),
					}
					if err := tx.AddIssuerIdentity(ctx, &row); err != nil {
						return err
					}
					rows = append(rows, row)
					break
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another process added them first.
			continue
		case err != nil:
			return added, fmt.Errorf("did:web identities of %s: %w", org.Slug, err)
		}
		for _, r := range rows {
			s.log.InfoContext(ctx, "created issuer identity", "org", org.Slug, "did", r.DID, "key", r.KeyID, "key_type", r.KeyType)
		}
		added = append(added, rows...)
	}
	return added, nil
}

// DIDDocument is a did:web document as served.
type DIDDocument struct {
	DID  string
	Body []byte
	// ETag is a strong validator of Body.
	ETag string
}

// WebDocument returns the did:web document of the organization slug, or of
// the default organization's bare did:web when root is true (served at
// /.well-known/did.json, or at /did.json when the public URL has a path).
// It lists every key the DID has had as a Multikey verification method
// #key-N: all of them in assertionMethod, so that credentials signed by a
// retired key still verify, and the active ones in authentication. It is
// ErrNotFound when the public URL is not https or there is no such
// organization.
func (s *Service) WebDocument(ctx context.Context, slug string, root bool) (*DIDDocument, error) {
	if s.webBase == "" {
		return nil, notFound("this server has no did:web identities: its public URL is not https")
	}
	var org *store.Organization
	var err error
	if root {
		org, err = s.store.DefaultOrganization(ctx)
	} else {
		org, err = s.store.OrganizationBySlug(ctx, slug)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no such organization")
	} else if err != nil {
		return nil, fmt.Errorf("did:web document: %w", err)
	}
	dids := s.webDIDs(org)
	did := dids[len(dids)-1]
	if root {
		did = dids[0]
	}
	ids, err := s.store.IssuerIdentitiesByDID(ctx, did)
	if err != nil {
		return nil, fmt.Errorf("did:web document of %s: %w", did, err)
	}
	if len(ids) == 0 {
		// An organization created since the server started.
		if _, err := s.ensureOrgWeb(ctx, org); err != nil {
			return nil, err
		}
		if ids, err = s.store.IssuerIdentitiesByDID(ctx, did); err != nil {
			return nil, fmt.Errorf("did:web document of %s: %w", did, err)
		}
	}
	doc, err := s.webDocument(ctx, did, ids)
	if err != nil {
		return nil, fmt.Errorf("did:web document of %s: %w", did, err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("did:web document of %s: %w", did, err)
	}
	sum := sha256.Sum256(body)
	return &DIDDocument{DID: did, Body: body, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// webDocument builds the DID document of did from its identities.
func (s *Service) webDocument(ctx context.Context, did string, ids []store.IssuerIdentity) (*didmethods.Document, error) {
	doc := &didmethods.Document{
		Context: didmethods.Context{didmethods.ContextDIDv1, didmethods.ContextMultikey},
		ID:      did,
	}
	// Keys are shared with the organization's did:key identities, whose
	// DIDs carry the public key: read it there rather than load the key.
	multikeys := map[string]string{}
	if len(ids) > 0 {
		all, err := s.store.IssuerIdentities(ctx, ids[0].OrganizationID)
		if err != nil {
			return nil, err
		}
		for _, id := range all {
			if mb, ok := strings.CutPrefix(id.DID, "did:key:"); ok {
				multikeys[id.KeyURI] = mb
			}
		}
	}
	for _, id := range ids {
		if id.KeyID == "" {
			continue
		}
		mb, ok := multikeys[id.KeyURI]
		if !ok {
			signer, err := s.keys.Load(ctx, id.KeyURI)
			if err != nil {
				return nil, fmt.Errorf("load key %s: %w", id.KeyID, err)
			}
			if mb, err = keys.EncodeMultikey(signer.Public()); err != nil {
				return nil, fmt.Errorf("key %s: %w", id.KeyID, err)
			}
		}
		vm := did + "#" + id.KeyID
		doc.VerificationMethod = append(doc.VerificationMethod, didmethods.VerificationMethod{
			ID: vm, Type: didmethods.FormatMultikey, Controller: did, PublicKeyMultibase: mb,
		})
		doc.AssertionMethod = append(doc.AssertionMethod, didmethods.VerificationRef{ID: vm})
		if id.Active {
			doc.Authentication = append(doc.Authentication, didmethods.VerificationRef{ID: vm})
		}
	}
	return doc, nil
}

// WebRootPath is the path, on this server, of the default organization's
// bare did:web document: /.well-known/did.json, or /did.json when the public
// URL has a path (a proxy is expected to strip that path, as for every other
// route). Empty when the public URL is not https.
func (s *Service) WebRootPath() string {
	if s.webBase == "" {
		return ""
	}
	// A port is %3A-encoded: a colon separates path segments.
	if strings.Contains(s.webBase, ":") {
		return "/did.json"
	}
	return "/.well-known/did.json"
}

// webIdentitiesNow adds the did:web identities the organization lacks and
// returns all its identities.
func (s *Service) webIdentitiesNow(ctx context.Context, orgID string) ([]store.IssuerIdentity, error) {
	org, err := s.store.OrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if _, err := s.ensureOrgWeb(ctx, org); err != nil {
		return nil, err
	}
	return s.store.IssuerIdentities(ctx, orgID)
}

// pickActive is the active identity of did whose key type comes first in
// want, else any active identity of did; nil when did has none.
func pickActive(ids []store.IssuerIdentity, did string, want []keys.KeyType) *store.IssuerIdentity {
	var other *store.IssuerIdentity
	for _, kt := range want {
		for i := range ids {
			if ids[i].DID == did && ids[i].Active && ids[i].KeyType == string(kt) {
				return &ids[i]
			}
		}
	}
	for i := range ids {
		if ids[i].DID == did && ids[i].Active {
			other = &ids[i]
		}
	}
	return other
}

// listIdentity is the identity that signs status list l: the active key of
// the list's issuer DID (Ed25519 first for a Bitstring Status List, P-256
// first for a Token Status List), or, for a retired did:key, its own key,
// which keeps signing the lists of the credentials it issued.
func (s *Service) listIdentity(ctx context.Context, l *store.StatusList) (*store.IssuerIdentity, error) {
	ids, err := s.store.IssuerIdentitiesByDID(ctx, l.IssuerDID)
	if err != nil {
		return nil, err
	}
	want := []keys.KeyType{keys.Ed25519, keys.P256, keys.P384}
	if l.Kind == store.StatusListToken {
		want = []keys.KeyType{keys.P256, keys.P384, keys.Ed25519}
	}
	if id := pickActive(ids, l.IssuerDID, want); id != nil {
		return id, nil
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("issuer identity %s: %w", l.IssuerDID, store.ErrNotFound)
	}
	// Retired: the newest key the DID had.
	return &ids[len(ids)-1], nil
}

// VerificationMethodOf is the verification method (DID URL) an identity
// signs as: did:web:…#key-N for a key of a did:web, did:key:z…#z… for a
// did:key.
func VerificationMethodOf(id store.IssuerIdentity) (string, error) { return identityVM(id) }
