package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

func newKeyCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Work with keys"}
	var typ, out string
	gen := &cobra.Command{
		Use:   "generate --type ed25519|p256|p384 --out FILE",
		Short: "Generate a software key: write its private JWK to FILE (mode 0600) and print its did:key",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out FILE is required: the private key is written there")
			}
			k, did, err := generateKeyFile(typ, out)
			if err != nil {
				return err
			}
			if g.json {
				jwk, err := keys.SignerJWK(k)
				if err != nil {
					return err
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"did": did, "file": out, "publicKeyJwk": jwk})
			}
			fmt.Fprintln(cmd.OutOrStdout(), did)
			return nil
		},
	}
	gen.Flags().StringVar(&typ, "type", "", "key type: ed25519, p256 or p384")
	gen.Flags().StringVar(&out, "out", "", "file to write the private JWK to (must not exist)")
	cmd.AddCommand(gen)
	return cmd
}

// generateKeyFile makes a software key of the named type, writes its private
// JWK to path, and returns it with its did:key.
func generateKeyFile(typ, path string) (*software.Key, string, error) {
	kt, err := signingKeyType(typ)
	if err != nil {
		return nil, "", err
	}
	k, err := software.Generate(kt)
	if err != nil {
		return nil, "", err
	}
	if err := software.WritePrivateJWKFile(path, k); err != nil {
		return nil, "", err
	}
	did, err := didmethods.CreateKey(k.Public())
	if err != nil {
		return nil, "", err
	}
	return k, did, nil
}

// signingKeyType parses a --type flag.
func signingKeyType(typ string) (keys.KeyType, error) {
	switch kt := keys.KeyType(typ); kt {
	case keys.Ed25519, keys.P256, keys.P384:
		return kt, nil
	case "":
		return "", usagef("--type is required: ed25519, p256 or p384")
	}
	return "", usagef("--type %q: want ed25519, p256 or p384", typ)
}
