package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
)

type rotateKeyFlags struct {
	db        keyDBFlags
	org       string
	keyType   string
	publicURL string
}

// newRotateKeyCmd is "agentid admin rotate-key": the same rotation as POST
// /admin/organization/keys/rotate, on the database directly.
func newRotateKeyCmd(g *globalFlags) *cobra.Command {
	f := &rotateKeyFlags{}
	cmd := &cobra.Command{
		Use:   "rotate-key --org SLUG --type ed25519|p256",
		Short: "Give an organization a new signing key and retire the old one",
		Long: `Rotate an organization's issuer key of one type. The new key becomes a new
active did:key identity and the next #key-N of each of the organization's
did:web DIDs; the old key is retired: it signs no new credential, but
credentials it signed keep verifying (a did:key resolves by itself and its
status lists stay served, signed by the old key; a did:web document keeps
the old key in assertionMethod). The key-encryption key must be the
server's (AGENTID_KEK, or --kek-file, default DATA/kek).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return rotateKey(cmd, g, f) },
	}
	f.db.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.org, "org", "", "the organization, by slug or id (required)")
	fl.StringVar(&f.keyType, "type", "", "the key type to rotate: ed25519 or p256 (required)")
	fl.StringVar(&f.publicURL, "public-url", envOr("AGENTID_PUBLIC_URL", "http://localhost"), "the server's --public-url; when https, did:web identities the organization lacks are created first (env AGENTID_PUBLIC_URL)")
	return cmd
}

func rotateKey(cmd *cobra.Command, g *globalFlags, f *rotateKeyFlags) error {
	kt := keys.KeyType(f.keyType)
	switch kt {
	case keys.Ed25519, keys.P256:
	case "":
		return usagef("--type is required: ed25519 or p256")
	default:
		return usagef("--type %q: want ed25519 or p256", f.keyType)
	}
	ctx := cmd.Context()
	st, org, err := openOrg(cmd, &f.db.auditDBFlags, f.org)
	if err != nil {
		return err
	}
	defer st.Close()
	km, err := f.db.keyManager(ctx, st)
	if err != nil {
		return err
	}
	iss, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(f.publicURL),
		issuer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return usageError{fmt.Errorf("--public-url: %w", err)}
	}
	rot, err := iss.RotateKey(ctx, org.ID, string(kt))
	if errors.Is(err, issuer.ErrInvalidRotation) {
		return usageError{err}
	}
	if err != nil {
		return err
	}

	out := cmd.OutOrStdout()
	if g.json {
		type identity struct {
			DID                string `json:"did"`
			VerificationMethod string `json:"verificationMethod"`
			KeyType            string `json:"keyType"`
			State              string `json:"state"`
		}
		conv := func(in []store.IssuerIdentity) []identity {
			o := make([]identity, 0, len(in))
			for _, id := range in {
				vm, _ := issuer.VerificationMethodOf(id)
				o = append(o, identity{id.DID, vm, id.KeyType, id.State()})
			}
			return o
		}
		return printJSON(out, map[string]any{
			"organization": org.Slug, "keyType": string(kt), "retired": conv(rot.Retired), "added": conv(rot.Added),
		})
	}
	for _, id := range rot.Retired {
		vm, _ := issuer.VerificationMethodOf(id)
		fmt.Fprintf(out, "retired %s\n", vm)
	}
	for _, id := range rot.Added {
		vm, _ := issuer.VerificationMethodOf(id)
		fmt.Fprintf(out, "active  %s\n", vm)
	}
	return nil
}
