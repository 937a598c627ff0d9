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
	var typ, out, tpmURI, keyDir, name string
	gen := &cobra.Command{
		Use:   "generate (--type ed25519|p256|p384 --out FILE | --tpm URI [--key-dir DIR] [--name NAME])",
		Short: "Generate a key and print its did:key: a software key written as a private JWK to FILE (mode 0600), or a P-256 key inside a TPM",
		Long: `Generate a key and print its did:key.

With --out, a software key: its private JWK is written to FILE (mode 0600).

With --tpm, a P-256 key created inside the TPM (a device path such as
/dev/tpmrm0, swtpm://HOST:PORT, or sim): the private key never leaves the TPM,
and no private file is written. The key's blob (its public area and its
private area encrypted by the TPM, loadable only by that TPM) is saved as NAME
in --key-dir; the key's URI is tpm:<device>?key=<name>.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tpmURI != "" {
				if out != "" {
					return usagef("--out and --tpm exclude each other: a TPM key has no private key file")
				}
				if typ != "" && typ != string(keys.P256) {
					return usagef("--type %q: TPM keys are p256", typ)
				}
				return generateTPMKey(cmd, g, tpmURI, keyDir, name)
			}
			if out == "" {
				return usagef("--out FILE is required: the private key is written there (or use --tpm URI)")
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
	gen.Flags().StringVar(&typ, "type", "", "key type: ed25519, p256 or p384 (with --tpm: p256, the default)")
	gen.Flags().StringVar(&out, "out", "", "file to write the private JWK to (must not exist)")
	gen.Flags().StringVar(&tpmURI, "tpm", "", "create the key in this TPM: /dev/tpmrm0, swtpm://HOST:PORT or sim")
	gen.Flags().StringVar(&keyDir, "key-dir", defaultTPMKeyDir, "with --tpm: directory of TPM key blobs (created 0700)")
	gen.Flags().StringVar(&name, "name", defaultTPMKeyName, "with --tpm: the key's name in --key-dir (must not exist)")
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
