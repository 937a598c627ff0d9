package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
)

// DefaultOrganizationSlug is the slug of the organization a fresh server
// creates.
const DefaultOrganizationSlug = "default"

// AdminTokenPrefix starts every admin token agentid generates, so that tokens
// are recognisable in configuration and in secret scanners.
const AdminTokenPrefix = "aid_"

// BootstrapOptions say how a fresh server gets its first organization.
type BootstrapOptions struct {
	// AdminToken, when set (from AGENTID_ADMIN_TOKEN), becomes the default
	// organization's admin token; otherwise one is generated.
	AdminToken string
	// TokenFile is where a generated token is written, once, with mode 0600.
	TokenFile string
	// KeyScheme is the key manager back end for issuer keys ("software").
	KeyScheme string
}

// BootstrapResult says what Bootstrap did.
type BootstrapResult struct {
	// Created is false when the server had been bootstrapped before (by
	// this process or another on the same database).
	Created      bool
	Organization *store.Organization
	Identities   []store.IssuerIdentity
	// TokenFile is the file the generated admin token was written to; empty
	// when the token came from the options or nothing was created.
	TokenFile string
}

// Bootstrap gives a fresh server its default organization with two did:key
// issuer identities — Ed25519 for eddsa-rdfc-2022 and P-256 for
// ecdsa-rdfc-2019 (and ES256) — and an admin token. It does nothing when a
// default organization exists. Several processes may call it at once on one
// database: exactly one creates the organization.
func Bootstrap(ctx context.Context, st *store.Store, km *keys.Manager, opts BootstrapOptions) (*BootstrapResult, error) {
	if org, err := st.DefaultOrganization(ctx); err == nil {
		return existing(ctx, st, org)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if opts.KeyScheme == "" {
		opts.KeyScheme = "software"
	}

	org := &store.Organization{Slug: DefaultOrganizationSlug, Name: "Default organization", IsDefault: true}
	identities, err := didKeyIdentities(ctx, km, opts.KeyScheme)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}

	token, generated := opts.AdminToken, false
	if token == "" {
		var err error
		if token, err = NewAdminToken(); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		generated = true
	}
	// Write a generated token to a temporary file before committing, so that
	// a token the database accepted is never lost; publish it after.
	var tmp string
	if generated {
		if opts.TokenFile == "" {
			return nil, errors.New("bootstrap: a token file is required to hand out a generated admin token")
		}
		var err error
		if tmp, err = writeSecretTemp(opts.TokenFile, token+"\n"); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		defer os.Remove(tmp) // no-op once renamed
	}
	tok := &store.AdminToken{Name: "bootstrap", TokenHash: store.HashToken(token), Scopes: "admin"}
	created, err := st.Bootstrap(ctx, org, identities, tok)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		org, err := st.DefaultOrganization(ctx)
		if err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		return existing(ctx, st, org)
	}
	res := &BootstrapResult{Created: true, Organization: org, Identities: identities}
	if generated {
		if err := os.Rename(tmp, opts.TokenFile); err != nil {
			return nil, fmt.Errorf("bootstrap: publish admin token file: %w", err)
		}
		res.TokenFile = opts.TokenFile
	}
	return res, nil
}

func existing(ctx context.Context, st *store.Store, org *store.Organization) (*BootstrapResult, error) {
	ids, err := st.IssuerIdentities(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return &BootstrapResult{Organization: org, Identities: ids}, nil
}

// NewAdminToken returns a new random admin token: the prefix and 256 bits
// from crypto/rand, base64url.
func NewAdminToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	return AdminTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// writeSecretTemp writes data to a new file with mode 0600 beside path and
// returns its name.
func writeSecretTemp(path, data string) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("create token file in %s: %w", dir, err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write token file %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}
