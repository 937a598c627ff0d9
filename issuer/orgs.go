package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/problem"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// Admin token scopes. ScopeAdmin grants everything; the others grant one
// kind of call each.
const (
	ScopeAdmin             = "admin"
	ScopeAudit             = "audit"
	ScopeCredentialsIssue  = "credentials:issue"
	ScopeCredentialsStatus = "credentials:status"
	ScopeCredentialsRead   = "credentials:read"
)

// TokenScopes lists every scope an admin token may carry.
var TokenScopes = []string{ScopeAdmin, ScopeAudit, ScopeCredentialsIssue, ScopeCredentialsStatus, ScopeCredentialsRead}

// MaxSlugLength is the longest organization slug: one DNS label.
const MaxSlugLength = 63

var (
	// ErrInvalidOrganization is an organization or admin token request with
	// a bad slug, name or scope (400).
	ErrInvalidOrganization = errors.New("invalid organization request")
	// ErrOrganizationExists is a slug another organization has (409).
	ErrOrganizationExists = errors.New("an organization with this slug exists")
)

// ValidSlug reports why slug cannot name an organization, or nil when it
// can: 1 to 63 lowercase ASCII letters, digits and hyphens, starting and
// ending with a letter or digit (a DNS label, so that it fits in URLs and
// host names).
func ValidSlug(slug string) error {
	if slug == "" || len(slug) > MaxSlugLength {
		return fmt.Errorf("slug %q: must be 1 to %d characters", slug, MaxSlugLength)
	}
	for _, r := range slug {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Errorf("slug %q: only lowercase letters a-z, digits and hyphens are allowed", slug)
		}
	}
	if slug[0] == '-' || slug[len(slug)-1] == '-' {
		return fmt.Errorf("slug %q: must start and end with a letter or digit", slug)
	}
	return nil
}

// ValidScopes checks admin token scopes and returns them without
// duplicates, in the order given. An empty list is refused.
func ValidScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, errors.New("a token needs at least one scope")
	}
	var out []string
	for _, sc := range scopes {
		sc = strings.TrimSpace(sc)
		if !slices.Contains(TokenScopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", sc, strings.Join(TokenScopes, ", "))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// OrganizationOptions describe an organization to create.
type OrganizationOptions struct {
	// Slug is the organization's short unique name (ValidSlug).
	Slug string
	// Name is for people; the slug when empty.
	Name string
	// KeyScheme is the key manager back end for issuer keys ("software"
	// when empty).
	KeyScheme string
	// AdminToken, when set, becomes the organization's first admin token
	// (scope admin); otherwise one is generated (NewAdminToken).
	AdminToken string
	// TokenName names the first admin token ("initial" when empty).
	TokenName string
}

// NewOrganization is what CreateOrganization made.
type NewOrganization struct {
	Organization *store.Organization
	Identities   []store.IssuerIdentity
	// Token is the first admin token in the clear: hand it out once, it is
	// stored only hashed.
	Token       string
	TokenRecord *store.AdminToken
}

// CreateOrganization creates an organization with an Ed25519 and a P-256
// did:key issuer identity, their private keys created in the key manager
// (and so encrypted at rest as the default organization's are), and a first
// admin token with scope admin. The organization, identities and token are
// stored in one transaction. A bad slug is ErrInvalidOrganization and a
// taken one ErrOrganizationExists, both found before any key is made.
func CreateOrganization(ctx context.Context, st *store.Store, km *keys.Manager, opts OrganizationOptions) (*NewOrganization, error) {
	if err := ValidSlug(opts.Slug); err != nil {
		return nil, invalid(ErrInvalidOrganization, err.Error(), field("/slug", err.Error()))
	}
	name := strings.TrimSpace(opts.Name)
	if name == "" {
		name = opts.Slug
	}
	if len(name) > 200 {
		return nil, invalid(ErrInvalidOrganization, "the name is too long", field("/name", "at most 200 bytes"))
	}
	if _, err := st.OrganizationBySlug(ctx, opts.Slug); err == nil {
		return nil, slugTaken(opts.Slug)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("create organization %s: %w", opts.Slug, err)
	}
	token := opts.AdminToken
	if token == "" {
		var err error
		if token, err = NewAdminToken(); err != nil {
			return nil, fmt.Errorf("create organization %s: %w", opts.Slug, err)
		}
	}
	tokenName := opts.TokenName
	if tokenName == "" {
		tokenName = "initial"
	}

	identities, err := didKeyIdentities(ctx, km, opts.KeyScheme)
	if err != nil {
		return nil, fmt.Errorf("create organization %s: %w", opts.Slug, err)
	}
	org := &store.Organization{Slug: opts.Slug, Name: name}
	tok := &store.AdminToken{Name: tokenName, TokenHash: store.HashToken(token), Scopes: ScopeAdmin}
	err = st.Transaction(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganization(ctx, org); err != nil {
			return err
		}
		for i := range identities {
			identities[i].OrganizationID = org.ID
			// Distinct times keep IssuerIdentities in the order made.
			identities[i].CreatedAt = org.CreatedAt.Add(time.Duration(i) * time.Microsecond)
			if err := tx.AddIssuerIdentity(ctx, &identities[i]); err != nil {
				return err
			}
		}
		tok.OrganizationID = org.ID
		return tx.CreateAdminToken(ctx, tok)
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			if _, serr := st.OrganizationBySlug(ctx, opts.Slug); serr == nil {
				return nil, slugTaken(opts.Slug)
			}
		}
		return nil, fmt.Errorf("create organization %s: %w", opts.Slug, err)
	}
	return &NewOrganization{Organization: org, Identities: identities, Token: token, TokenRecord: tok}, nil
}

func slugTaken(slug string) error {
	return &Error{Kind: ErrOrganizationExists, Problem: problem.Conflict("an organization with slug " + slug + " exists")}
}

// TokenOptions describe an admin token to create.
type TokenOptions struct {
	// Name is for people.
	Name string
	// Scopes the token grants (ValidScopes); required.
	Scopes []string
	// Token, when set, is the token; otherwise one is generated.
	Token string
}

// CreateAdminToken creates an admin token of the organization orgID and
// returns it in the clear (hand it out once: it is stored only hashed) with
// its record. Unknown scopes are ErrInvalidOrganization.
func CreateAdminToken(ctx context.Context, st *store.Store, orgID string, opts TokenOptions) (string, *store.AdminToken, error) {
	scopes, err := ValidScopes(opts.Scopes)
	if err != nil {
		return "", nil, invalid(ErrInvalidOrganization, err.Error(), field("/scopes", err.Error()))
	}
	token := opts.Token
	if token == "" {
		if token, err = NewAdminToken(); err != nil {
			return "", nil, err
		}
	}
	tok := &store.AdminToken{OrganizationID: orgID, Name: strings.TrimSpace(opts.Name),
		TokenHash: store.HashToken(token), Scopes: strings.Join(scopes, ",")}
	if err := st.CreateAdminToken(ctx, tok); err != nil {
		return "", nil, err
	}
	return token, tok, nil
}

// didKeyIdentities creates the two did:key issuer identities every
// organization starts with — Ed25519 for eddsa-rdfc-2022 and P-256 for
// ecdsa-rdfc-2019 (and ES256) — with their keys in km under scheme
// ("software" when empty). The identities are not stored.
func didKeyIdentities(ctx context.Context, km *keys.Manager, scheme string) ([]store.IssuerIdentity, error) {
	if scheme == "" {
		scheme = "software"
	}
	var identities []store.IssuerIdentity
	for _, spec := range []struct {
		typ   keys.KeyType
		suite string
	}{{keys.Ed25519, "eddsa-rdfc-2022"}, {keys.P256, "ecdsa-rdfc-2019"}} {
		signer, err := km.Create(ctx, scheme, spec.typ)
		if err != nil {
			return nil, fmt.Errorf("create %s issuer key: %w", spec.typ, err)
		}
		did, err := didmethods.CreateKey(signer.Public())
		if err != nil {
			return nil, fmt.Errorf("did:key of %s issuer key: %w", spec.typ, err)
		}
		identities = append(identities, store.IssuerIdentity{
			DID: did, KeyURI: signer.URI(), KeyType: string(spec.typ), Cryptosuite: spec.suite, Active: true,
		})
	}
	return identities, nil
}
