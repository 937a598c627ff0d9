package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

func newAdminCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Create and list organizations and their admin tokens",
		Long: `Manage organizations (tenants) and their admin tokens, working on the database
directly (--data DIR or --database URL, as for serve). A token is shown once,
when it is made: the database holds only its SHA-256 hash.`,
	}
	create := &cobra.Command{Use: "create", Short: "Create an organization or an admin token"}
	create.AddCommand(newAdminCreateOrgCmd(g), newAdminCreateTokenCmd(g))
	list := &cobra.Command{Use: "list", Short: "List organizations or an organization's admin tokens"}
	list.AddCommand(newAdminListOrgsCmd(g), newAdminListTokensCmd(g))
	revoke := &cobra.Command{Use: "revoke", Short: "Revoke an admin token"}
	revoke.AddCommand(newAdminRevokeTokenCmd(g))
	cmd.AddCommand(create, list, revoke, newRotateKeyCmd(g))
	return cmd
}

// tokenOut says where a new token goes: stdout, or a new file.
type tokenOut struct {
	file string
}

func (o *tokenOut) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.file, "token-file", "", "write the token to this new file (mode 0600; an existing file is never overwritten) instead of stdout")
}

// reserve creates the token file, empty, so that a file that exists is
// found before anything is written to the database; discard removes it
// again when the database refused the token. Without --token-file it
// returns nil.
func (o *tokenOut) reserve() (*os.File, error) {
	if o.file == "" {
		return nil, nil
	}
	f, err := os.OpenFile(o.file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, usagef("--token-file %s exists; it is never overwritten", o.file)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--token-file: %w", err)}
	}
	return f, nil
}

// finish writes token to the reserved file f.
func finish(f *os.File, token string) error {
	_, err := f.WriteString(token + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write token file %s: %w", f.Name(), err)
	}
	return nil
}

// discard removes a reserved token file the token did not go to.
func discard(f *os.File) {
	if f != nil {
		f.Close()
		os.Remove(f.Name())
	}
}

// findOrganization looks an organization up by slug, then by id; a missing
// one is bad input.
func findOrganization(ctx context.Context, st *store.Store, ref string) (*store.Organization, error) {
	if ref == "" {
		return nil, usagef("--org is required")
	}
	org, err := st.OrganizationBySlug(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		org, err = st.OrganizationByID(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, usagef("--org %q: no such organization", ref)
	}
	return org, err
}

// openOrg opens the database db names and finds the organization ref names
// in it (as findOrganization does). The caller closes the store; on error
// it is closed already.
func openOrg(cmd *cobra.Command, db *auditDBFlags, ref string) (*store.Store, *store.Organization, error) {
	st, err := db.open(cmd)
	if err != nil {
		return nil, nil, err
	}
	org, err := findOrganization(cmd.Context(), st, ref)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, org, nil
}

// keyDBFlags choose the database, as auditDBFlags do, and the server's
// key-encryption key (--kek-file), for commands that use its keys.
type keyDBFlags struct {
	auditDBFlags
	kekFile string
}

func (f *keyDBFlags) register(cmd *cobra.Command) {
	f.auditDBFlags.register(cmd)
	cmd.Flags().StringVar(&f.kekFile, "kek-file", envOr("AGENTID_KEK_FILE", ""), "key-encryption key file when AGENTID_KEK is unset; default DATA/kek (env AGENTID_KEK_FILE)")
}

// keyManager opens the server's key manager over st (see openKeyManager).
func (f *keyDBFlags) keyManager(ctx context.Context, st *store.Store) (*keys.Manager, error) {
	return openKeyManager(ctx, st, f.data, f.kekFile)
}

// issuerErr turns the issuer's bad-input errors into usage errors.
func issuerErr(err error) error {
	if errors.Is(err, issuer.ErrInvalidOrganization) || errors.Is(err, issuer.ErrOrganizationExists) {
		return usageError{err}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type adminCreateOrgFlags struct {
	db   keyDBFlags
	name string
	out  tokenOut
}

func newAdminCreateOrgCmd(g *globalFlags) *cobra.Command {
	f := &adminCreateOrgFlags{}
	cmd := &cobra.Command{
		Use:   "org SLUG [--name NAME] [--token-file FILE]",
		Short: "Create an organization with its issuer identities and a first admin token",
		Long: `Create an organization: its slug (1 to 63 lowercase letters, digits and
hyphens, starting and ending with a letter or digit), an Ed25519 and a P-256
did:key issuer identity whose private keys are encrypted under the server's
key-encryption key (AGENTID_KEK, or --kek-file, default DATA/kek: it must
exist), and a first admin token with scope admin, shown once.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return adminCreateOrg(cmd, g, f, args[0]) },
	}
	f.db.register(cmd)
	f.out.register(cmd)
	cmd.Flags().StringVar(&f.name, "name", "", "the organization's name, for people (default: the slug)")
	return cmd
}

// openKeyManager opens the server's key-encryption key — never making a new
// one, which could not open the keys the server has — and checks that it
// opens an existing issuer key.
func openKeyManager(ctx context.Context, st *store.Store, data, kekFile string) (*keys.Manager, error) {
	env := os.Getenv(keys.KEKEnv)
	if kekFile == "" {
		kekFile = filepath.Join(data, "kek")
	}
	if env == "" {
		if _, err := os.Stat(kekFile); err != nil {
			return nil, usagef("no key-encryption key: set %s or give --kek-file (the server's; %s does not exist)", keys.KEKEnv, kekFile)
		}
	}
	kek, _, err := keys.LoadKEK(env, kekFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("key-encryption key: %w", err)}
	}
	backend, err := software.NewBackend(kek, st)
	if err != nil {
		return nil, err
	}
	km, err := keys.NewManager(keys.WithBackend(software.Scheme, backend))
	if err != nil {
		return nil, err
	}
	orgs, err := st.ListOrganizations(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		ids, err := st.IssuerIdentities(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if scheme, _, _ := keys.ParseKeyURI(id.KeyURI); scheme != software.Scheme {
				continue
			}
			if _, err := km.Load(ctx, id.KeyURI); err != nil {
				return nil, usagef("the key-encryption key does not open the existing issuer key of %s (organization %s): give the server's (%v)", id.DID, o.Slug, err)
			}
			return km, nil
		}
	}
	return km, nil
}

func adminCreateOrg(cmd *cobra.Command, g *globalFlags, f *adminCreateOrgFlags, slug string) error {
	if err := issuer.ValidSlug(slug); err != nil {
		return usageError{err}
	}
	ctx := cmd.Context()
	st, err := f.db.open(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.OrganizationBySlug(ctx, slug); err == nil {
		return usagef("an organization with slug %s exists", slug)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	km, err := f.db.keyManager(ctx, st)
	if err != nil {
		return err
	}
	file, err := f.out.reserve()
	if err != nil {
		return err
	}
	res, err := issuer.CreateOrganization(ctx, st, km, issuer.OrganizationOptions{Slug: slug, Name: f.name})
	if err != nil {
		discard(file)
		return issuerErr(err)
	}
	if file != nil {
		if err := finish(file, res.Token); err != nil {
			return err
		}
	}

	out := cmd.OutOrStdout()
	if g.json {
		type identity struct {
			DID         string `json:"did"`
			KeyType     string `json:"keyType"`
			Cryptosuite string `json:"cryptosuite"`
		}
		ids := make([]identity, 0, len(res.Identities))
		for _, id := range res.Identities {
			ids = append(ids, identity{id.DID, id.KeyType, id.Cryptosuite})
		}
		v := map[string]any{
			"organization":     orgJSON(res.Organization),
			"issuerIdentities": ids,
			"adminToken":       tokenJSON(res.TokenRecord),
		}
		if file != nil {
			v["tokenFile"] = f.out.file
		} else {
			v["token"] = res.Token
		}
		return printJSON(out, v)
	}
	fmt.Fprintf(out, "created organization %s (%s)\n", res.Organization.Slug, res.Organization.ID)
	for _, id := range res.Identities {
		fmt.Fprintf(out, "issuer identity %s (%s)\n", id.DID, id.Cryptosuite)
	}
	return printToken(cmd, f.out.file, res.TokenRecord, res.Token)
}

// printToken shows a new token once: on stdout, or names the file it went
// to.
func printToken(cmd *cobra.Command, file string, rec *store.AdminToken, token string) error {
	out := cmd.OutOrStdout()
	if file != "" {
		fmt.Fprintf(out, "admin token %s (scopes %s) written to %s\n", rec.ID, rec.Scopes, file)
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "admin token %s (scopes %s); it is not shown again:\n", rec.ID, rec.Scopes)
	_, err := fmt.Fprintln(out, token)
	return err
}

type adminCreateTokenFlags struct {
	db     auditDBFlags
	org    string
	name   string
	scopes []string
	out    tokenOut
}

func newAdminCreateTokenCmd(g *globalFlags) *cobra.Command {
	f := &adminCreateTokenFlags{}
	cmd := &cobra.Command{
		Use:   "token --org SLUG [--scope SCOPE ...] [--name NAME] [--token-file FILE]",
		Short: "Create an admin token of an organization",
		Long: `Create an admin token of an organization, shown once. Scopes (repeat --scope,
or separate with commas): ` + strings.Join(issuer.TokenScopes, ", ") + `.
admin grants everything; audit reads the audit trail; credentials:issue,
credentials:status and credentials:read issue credentials, change their status
and read them.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return adminCreateToken(cmd, g, f) },
	}
	f.db.register(cmd)
	f.out.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.org, "org", "", "the organization (slug or id)")
	fl.StringVar(&f.name, "name", "", "a name for the token, for people")
	fl.StringSliceVar(&f.scopes, "scope", []string{issuer.ScopeAdmin}, "scope the token grants (repeatable)")
	return cmd
}

func adminCreateToken(cmd *cobra.Command, g *globalFlags, f *adminCreateTokenFlags) error {
	scopes, err := issuer.ValidScopes(f.scopes)
	if err != nil {
		return usageError{fmt.Errorf("--scope: %w", err)}
	}
	ctx := cmd.Context()
	st, org, err := openOrg(cmd, &f.db, f.org)
	if err != nil {
		return err
	}
	defer st.Close()
	file, err := f.out.reserve()
	if err != nil {
		return err
	}
	token, rec, err := issuer.CreateAdminToken(ctx, st, org.ID, issuer.TokenOptions{Name: f.name, Scopes: scopes})
	if err != nil {
		discard(file)
		return issuerErr(err)
	}
	if file != nil {
		if err := finish(file, token); err != nil {
			return err
		}
	}
	if g.json {
		v := map[string]any{"organization": orgJSON(org), "adminToken": tokenJSON(rec)}
		if file != nil {
			v["tokenFile"] = f.out.file
		} else {
			v["token"] = token
		}
		return printJSON(cmd.OutOrStdout(), v)
	}
	return printToken(cmd, f.out.file, rec, token)
}

type orgView struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Default   bool      `json:"default"`
	CreatedAt time.Time `json:"created"`
}

func orgJSON(o *store.Organization) orgView {
	return orgView{ID: o.ID, Slug: o.Slug, Name: o.Name, Default: o.IsDefault, CreatedAt: o.CreatedAt}
}

type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created"`
	LastUsedAt *time.Time `json:"lastUsed,omitempty"`
	RevokedAt  *time.Time `json:"revoked,omitempty"`
}

func tokenJSON(t *store.AdminToken) tokenView {
	var scopes []string
	for _, s := range strings.Split(t.Scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	return tokenView{ID: t.ID, Name: t.Name, Scopes: scopes, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func newAdminListOrgsCmd(g *globalFlags) *cobra.Command {
	db := &auditDBFlags{}
	cmd := &cobra.Command{
		Use:   "orgs",
		Short: "List organizations",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := db.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			orgs, err := st.ListOrganizations(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]orgView, 0, len(orgs))
			for i := range orgs {
				views = append(views, orgJSON(&orgs[i]))
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"organizations": views})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SLUG\tID\tNAME\tDEFAULT\tCREATED")
			for _, o := range views {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\n", o.Slug, o.ID, o.Name, o.Default, o.CreatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	db.register(cmd)
	return cmd
}

func newAdminListTokensCmd(g *globalFlags) *cobra.Command {
	db := &auditDBFlags{}
	var orgRef string
	cmd := &cobra.Command{
		Use:   "tokens --org SLUG",
		Short: "List an organization's admin tokens (never the tokens themselves)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, org, err := openOrg(cmd, db, orgRef)
			if err != nil {
				return err
			}
			defer st.Close()
			toks, err := st.ListAdminTokens(cmd.Context(), org.ID)
			if err != nil {
				return err
			}
			views := make([]tokenView, 0, len(toks))
			for i := range toks {
				views = append(views, tokenJSON(&toks[i]))
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"organization": orgJSON(org), "tokens": views})
			}
			stamp := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.Format(time.RFC3339)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSCOPES\tCREATED\tLAST USED\tREVOKED")
			for _, t := range views {
				name := t.Name
				if name == "" {
					name = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, name, strings.Join(t.Scopes, ","),
					t.CreatedAt.Format(time.RFC3339), stamp(t.LastUsedAt), stamp(t.RevokedAt))
			}
			return w.Flush()
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&orgRef, "org", "", "the organization (slug or id)")
	return cmd
}

func newAdminRevokeTokenCmd(g *globalFlags) *cobra.Command {
	db := &auditDBFlags{}
	var orgRef string
	cmd := &cobra.Command{
		Use:   "token --org SLUG ID",
		Short: "Revoke an admin token; it stops working at once",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, org, err := openOrg(cmd, db, orgRef)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.RevokeAdminToken(cmd.Context(), org.ID, args[0])
			if errors.Is(err, store.ErrNotFound) {
				return usagef("organization %s has no admin token %s", org.Slug, args[0])
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"organization": org.Slug, "revoked": args[0]})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked admin token %s of organization %s\n", args[0], org.Slug)
			return err
		},
	}
	db.register(cmd)
	cmd.Flags().StringVar(&orgRef, "org", "", "the organization (slug or id)")
	return cmd
}
