package main

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys/attest"
)

// maxEvidenceInput bounds what `agentid tpm verify` reads; ParseEvidence has
// its own, smaller limit.
const maxEvidenceInput = 1 << 20

// tpmVerifyResult is what `agentid tpm verify` prints.
type tpmVerifyResult struct {
	Verified bool `json:"verified"`
	// Activated is always false: credential activation needs the agent's
	// TPM, which this command does not have.
	Activated bool          `json:"activated"`
	DID       string        `json:"did,omitempty"`
	Facts     *attest.Facts `json:"facts,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// newTPMVerifyCmd is `agentid tpm verify`: checks an evidence document the
// way the issuer does, short of credential activation.
func newTPMVerifyCmd(g *globalFlags) *cobra.Command {
	var rootsDir, nonceArg, did string
	var allow []string
	cmd := &cobra.Command{
		Use:   "verify (--roots DIR | --ek-allow HASH,...) --nonce NONCE [--did DID] FILE|-",
		Short: "Check a TPM attestation evidence document (without credential activation)",
		Long: `Check a TPM attestation evidence document (as "agentid tpm evidence" prints it)
the way the issuer does at enrollment, and print the result as JSON:

  - the EK is an endorsement key, trusted through its EK certificate chaining to
    a certificate in --roots DIR (a directory of PEM or DER files: TPM
    manufacturer roots and intermediates), or through --ek-allow, SHA-256
    hashes of the EK's DER SubjectPublicKeyInfo (printed as ekPublicKeySha256);
  - the AK is a restricted signing key that cannot leave its TPM;
  - the agent key is a P-256 signing key that cannot leave its TPM, and is the
    key of --did when given (otherwise its did:key is printed);
  - the AK certified the agent key over NONCE (base64url, as the issuer sends
    it; padded standard base64 is accepted too).

Credential activation, which proves that the AK and the EK are in one TPM, is
NOT performed: it needs the agent's TPM to answer a challenge. A document that
passes here is well-formed and signed, not yet proven hardware-bound.

Exit status: 0 verified, 1 not verified, 2 bad input or usage.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if nonceArg == "" {
				return usagef("--nonce is required")
			}
			if rootsDir == "" && len(allow) == 0 {
				return usagef("give --roots DIR, --ek-allow HASH, or both")
			}
			nonce, err := decodeNonce(nonceArg)
			if err != nil {
				return usageError{err}
			}
			policy := attest.Policy{EKAllowlist: allow}
			if rootsDir != "" {
				if policy.Roots, err = attest.LoadRoots(rootsDir); err != nil {
					return usageError{err}
				}
			}
			v, err := attest.NewVerifier(policy)
			if err != nil {
				return usageError{err}
			}
			data, err := readEvidenceInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return usageError{err}
			}
			ev, err := attest.ParseEvidence(data)
			if err != nil {
				return usageError{err}
			}
			var claimed crypto.PublicKey
			if did != "" {
				if _, claimed, err = didmethods.ParseDIDKey(did); err != nil {
					return usagef("--did: %v", err)
				}
			} else {
				k, err := ev.CertifiedKey()
				if err != nil {
					return printTPMVerify(cmd.OutOrStdout(), tpmVerifyResult{Error: err.Error()}, err)
				}
				claimed = k
				if did, err = didmethods.CreateKey(k); err != nil {
					return err
				}
			}
			facts, err := v.VerifyEvidence(ev, nonce, claimed)
			if err != nil {
				return printTPMVerify(cmd.OutOrStdout(), tpmVerifyResult{DID: did, Error: err.Error()}, err)
			}
			return printTPMVerify(cmd.OutOrStdout(), tpmVerifyResult{Verified: true, DID: did, Facts: &facts}, nil)
		},
	}
	cmd.Flags().StringVar(&rootsDir, "roots", "", "directory of trusted TPM manufacturer certificates (PEM or DER)")
	cmd.Flags().StringSliceVar(&allow, "ek-allow", nil, "allowed EK public-key SHA-256 hashes (hex), comma-separated or repeated")
	cmd.Flags().StringVar(&nonceArg, "nonce", "", "the nonce the evidence was made for (base64url)")
	cmd.Flags().StringVar(&did, "did", "", "the did:key the agent claims (default: the certified key's)")
	_ = g // output is JSON in every mode: the result is a document
	return cmd
}

// printTPMVerify prints the result and returns verr (exit 1 when not nil).
func printTPMVerify(w io.Writer, res tpmVerifyResult, verr error) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	return verr
}

// decodeNonce decodes a nonce given on the command line: base64url without
// padding (RFC 4648 §5), or standard base64 with padding.
func decodeNonce(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("--nonce is empty")
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return nil, fmt.Errorf("--nonce %q is not base64url", s)
}

// readEvidenceInput reads the evidence file ("-": standard input).
func readEvidenceInput(stdin io.Reader, name string) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxEvidenceInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxEvidenceInput {
		return nil, fmt.Errorf("evidence is larger than %d bytes", maxEvidenceInput)
	}
	return data, nil
}
