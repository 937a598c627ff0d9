package main

import (
	"crypto"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys/software"
)

func newDIDCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "did", Short: "Create and resolve DIDs"}
	cmd.AddCommand(newDIDCreateCmd(g), newDIDResolveCmd())
	return cmd
}

func newDIDCreateCmd(g *globalFlags) *cobra.Command {
	var method, typ, out, keyFile string
	cmd := &cobra.Command{
		Use:   "create [--method key|jwk] (--type ed25519|p256|p384 --out FILE | --key FILE)",
		Short: "Create a did:key or did:jwk, from a new key (written to --out) or an existing JWK file",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pub crypto.PublicKey
			switch {
			case keyFile != "" && (out != "" || typ != ""):
				return usagef("--key cannot be combined with --type or --out")
			case keyFile != "":
				k, err := software.ReadPrivateJWKFile(keyFile)
				if err != nil {
					return usageError{err}
				}
				pub = k.Public()
			case out == "":
				return usagef("--out FILE is required to keep the new private key (or name an existing key with --key)")
			default:
				k, _, err := generateKeyFile(typ, out)
				if err != nil {
					return err
				}
				pub = k.Public()
			}
			var did string
			var err error
			switch method {
			case "key":
				did, err = didmethods.CreateKey(pub)
			case "jwk":
				did, err = didmethods.CreateJWK(pub)
			default:
				return usagef("--method %q: want key or jwk", method)
			}
			if err != nil {
				return err
			}
			if g.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{"did": did})
			}
			fmt.Fprintln(cmd.OutOrStdout(), did)
			return nil
		},
	}
	cmd.Flags().StringVar(&method, "method", "key", "DID method: key or jwk")
	cmd.Flags().StringVar(&typ, "type", "", "type of a new key: ed25519, p256 or p384")
	cmd.Flags().StringVar(&out, "out", "", "file to write a new key's private JWK to")
	cmd.Flags().StringVar(&keyFile, "key", "", "existing private JWK file (from agentid key generate)")
	return cmd
}

func newDIDResolveCmd() *cobra.Command {
	var opts didmethods.ResolveOptions
	var result, insecureLoopback bool
	cmd := &cobra.Command{
		Use:   "resolve DID",
		Short: "Resolve a DID and print its DID document (or the whole resolution result with --result)",
		Long: `Resolve a DID and print its DID document as JSON on stdout. did:key and did:jwk
resolve offline; did:web is fetched over HTTPS. Errors go to stderr with the DID
resolution error code, and the exit code is 1.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := didmethods.NewDefaultRegistry(didmethods.WithInsecureLoopback(insecureLoopback))
			res, err := reg.Resolve(cmd.Context(), args[0], opts)
			if err != nil {
				return fmt.Errorf("%s: %w", didmethods.ErrorCode(err), err)
			}
			var v any = res.Document
			if result {
				v = res
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}
	cmd.Flags().StringVar(&opts.PublicKeyFormat, "public-key-format", "", "did:key verification method type: Multikey (default), JsonWebKey2020, Ed25519VerificationKey2018, …")
	cmd.Flags().BoolVar(&opts.EnableEncryptionKeyDerivation, "enable-encryption-key-derivation", false, "did:key: add the X25519 keyAgreement key derived from an Ed25519 key")
	cmd.Flags().BoolVar(&result, "result", false, "print the whole DID resolution result, not only the document")
	cmd.Flags().BoolVar(&insecureLoopback, "insecure-loopback", false, "did:web: allow plain HTTP to loopback hosts (testing)")
	return cmd
}
