package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/tpm"
)

// Defaults of the TPM key flags.
const (
	defaultTPMKeyDir  = "agentid-keys"
	defaultTPMKeyName = "agent"
)

func newTPMCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "tpm", Short: "Work with the agent's TPM: attestation evidence"}
	var tpmURI, keyDir, name, nonce, ek string
	ev := &cobra.Command{
		Use:   "evidence --tpm URI --key NAME --nonce NONCE [--key-dir DIR] [--ek auto|ecc|rsa]",
		Short: "Print the attestation evidence (JSON) that the TPM key NAME lives in the TPM, fresh for NONCE",
		Long: `Print the attestation evidence document (JSON, keys/attest format version 1)
for the TPM key NAME: the endorsement key (and its certificate when the TPM has
one), the attestation key, and the attestation key's TPM2_Certify of NAME over
NONCE.

NONCE is the verifier's nonce in base64url without padding (RFC 4648
section 5); standard padded base64 is accepted too, as by "agentid tpm
verify". It is 1 to 32 bytes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tpmURI == "" || name == "" || nonce == "" {
				return usagef("--tpm, --key and --nonce are required")
			}
			n, err := decodeNonce(nonce) // shared with tpm verify (tpm_verify.go)
			if err != nil {
				return usageError{err}
			}
			kind := tpm.EKKind(ek)
			switch kind {
			case tpm.EKAuto, tpm.EKECC, tpm.EKRSA:
			default:
				if ek != "auto" {
					return usagef("--ek %q: want auto, ecc or rsa", ek)
				}
				kind = tpm.EKAuto
			}
			return printEvidence(cmd, tpmURI, keyDir, name, n, kind)
		},
	}
	ev.Flags().StringVar(&tpmURI, "tpm", "", "the TPM: /dev/tpmrm0, swtpm://HOST:PORT or sim")
	ev.Flags().StringVar(&keyDir, "key-dir", defaultTPMKeyDir, "directory of TPM key blobs")
	ev.Flags().StringVar(&name, "key", "", "name of the TPM key to attest (as given to key generate --name)")
	ev.Flags().StringVar(&nonce, "nonce", "", "the verifier's nonce, base64url, 1 to 32 bytes")
	ev.Flags().StringVar(&ek, "ek", "auto", "endorsement key: auto (ECC, else RSA), ecc or rsa")
	cmd.AddCommand(ev, newTPMVerifyCmd(g))
	return cmd
}

// openTPM opens a TPM for a command; a device string of the wrong form is
// a usage error.
func openTPM(uri string) (*tpm.TPM, error) {
	t, err := tpm.Open(uri)
	if errors.Is(err, tpm.ErrUnsupportedDevice) {
		return nil, usageError{err}
	}
	return t, err
}

// generateTPMKey creates a key in the TPM, saves its blob under keyDir and
// prints its did:key.
func generateTPMKey(cmd *cobra.Command, g *globalFlags, uri, keyDir, name string) error {
	ctx := cmd.Context()
	if err := tpm.CheckKeyName(name); err != nil {
		return usageError{err}
	}
	t, err := openTPM(uri)
	if err != nil {
		return err
	}
	defer t.Close()
	store, err := tpm.NewKeyStore(keyDir)
	if err != nil {
		return err
	}
	if _, _, err := store.GetKeyBlob(ctx, "tpm-key:"+name); err == nil {
		return usagef("TPM key %q already exists in %s", name, keyDir)
	}
	k, err := t.CreateKey(ctx, name)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.Save(ctx, store); err != nil {
		if errors.Is(err, keys.ErrKeyExists) {
			return usageError{err}
		}
		return err
	}
	did, err := didmethods.CreateKey(k.Public())
	if err != nil {
		return err
	}
	if g.json {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"did": did, "uri": k.URI(), "keyDir": keyDir, "name": name})
	}
	fmt.Fprintln(cmd.OutOrStdout(), did)
	return nil
}

// printEvidence attests the key name over nonce and prints the evidence.
func printEvidence(cmd *cobra.Command, uri, keyDir, name string, nonce []byte, kind tpm.EKKind) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := tpm.CheckKeyName(name); err != nil {
		return usageError{err}
	}
	t, err := openTPM(uri)
	if err != nil {
		return err
	}
	defer t.Close()
	store, err := tpm.NewKeyStore(keyDir)
	if err != nil {
		return err
	}
	k, err := t.LoadKey(ctx, store, name)
	if err != nil {
		if errors.Is(err, keys.ErrKeyNotFound) {
			return usageError{err}
		}
		return err
	}
	defer k.Close()
	a, err := t.Attest(ctx, k, nonce, tpm.WithEK(kind))
	if err != nil {
		if errors.Is(err, tpm.ErrNonceSize) {
			return usageError{err}
		}
		return err
	}
	defer a.Close()
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(a.Evidence)
}
