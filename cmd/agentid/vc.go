package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/jsonvalue"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/schemas"
	"github.com/agentid/agentid/verifier"
)

// maxVCInput bounds what the vc commands read from a file or stdin.
const maxVCInput = credential.MaxDocumentBytes

// Output formats of `vc sign`.
const (
	formatLDPVC = "ldp_vc"
	formatSDJWT = "dc+sd-jwt"
)

// vctFor maps agentid credential types to their SD-JWT VC type.
var vctFor = map[string]string{
	"AgentIdentityCredential":   "https://agentid.dev/vct/agent-identity/v1",
	"AgentDelegationCredential": "https://agentid.dev/vct/agent-delegation/v1",
}

func newVCCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vc", Short: "Sign, verify and present verifiable credentials, offline"}
	cmd.AddCommand(newVCSignCmd(), newVCVerifyCmd(), newVCPresentCmd())
	return cmd
}

type vcSignFlags struct {
	key, cryptosuite, format, disclose, vct, holder string
}

func newVCSignCmd() *cobra.Command {
	f := &vcSignFlags{}
	cmd := &cobra.Command{
		Use:   "sign --key KEY.jwk [--cryptosuite eddsa-rdfc-2022|ecdsa-rdfc-2019] [--format ldp_vc|dc+sd-jwt] [--disclose PATHS] FILE|-",
		Short: "Sign a credential with a key file: a Data Integrity proof, or an SD-JWT VC",
		Long: `Sign the credential (VC 2.0 or 1.1 JSON) in FILE, or on standard input ("-").

The issuer is the key's did:key: an absent issuer is set to it, and a
credential naming another issuer is refused (its proof would fail the
verifier's issuerController check). Before signing, the credential is checked
as a verifier would: data model structure, JSON-LD safe mode (every term
defined) and the JSON Schemas its credentialSchema names; problems are printed
and nothing is signed (exit 2).

--format ldp_vc (default) adds a DataIntegrityProof: eddsa-rdfc-2022 for an
Ed25519 key, ecdsa-rdfc-2019 for P-256 and P-384 unless --cryptosuite says
otherwise; the verification method is the did:key's key. The signed JSON is
printed.

--format dc+sd-jwt issues an SD-JWT VC from the credential's (single) subject:
its claims become the SD-JWT claims, its id becomes sub, validFrom nbf,
validUntil exp. vct comes from --vct, or from the credential type
(AgentIdentityCredential: https://agentid.dev/vct/agent-identity/v1). The holder
key (cnf.jwk) is the key of --holder DID, or of the subject id when that is a
did:key. --disclose lists the JSON pointers of the selectively disclosable
claims (default: every top-level claim). The compact SD-JWT is printed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVCSign(cmd, f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.key, "key", "", "private JWK file of the issuer key (from `agentid key generate`)")
	cmd.Flags().StringVar(&f.cryptosuite, "cryptosuite", "", "eddsa-rdfc-2022 or ecdsa-rdfc-2019 (default: from the key type)")
	cmd.Flags().StringVar(&f.format, "format", formatLDPVC, "ldp_vc or dc+sd-jwt")
	cmd.Flags().StringVar(&f.disclose, "disclose", "", "dc+sd-jwt: comma-separated JSON pointers of the disclosable claims")
	cmd.Flags().StringVar(&f.vct, "vct", "", "dc+sd-jwt: the vct claim (default: from the credential type)")
	cmd.Flags().StringVar(&f.holder, "holder", "", "dc+sd-jwt: the holder's did:key, bound as cnf.jwk (default: the subject id if it is a did:key)")
	return cmd
}

func runVCSign(cmd *cobra.Command, f *vcSignFlags, arg string) error {
	if f.key == "" {
		return usagef("--key KEY.jwk is required")
	}
	if f.format != formatLDPVC && f.format != formatSDJWT {
		return usagef("--format %q: want ldp_vc or dc+sd-jwt", f.format)
	}
	k, did, vm, err := readSigningKey(f.key)
	if err != nil {
		return err
	}
	raw, err := readVCInput(cmd.InOrStdin(), arg)
	if err != nil {
		return err
	}
	doc, err := credential.DecodeObject(raw)
	if err != nil {
		return usagef("%s: %v", arg, err)
	}
	c := credential.NewCredential(doc)
	switch issuer, obj := c.Issuer(); {
	case issuer == "" && obj != nil:
		obj["id"] = did
	case issuer == "":
		doc["issuer"] = did
	case issuer != did:
		return usagef("the credential's issuer is %s but the key's DID is %s: a verifier would reject the proof (issuerController)", issuer, did)
	}
	if err := checkBeforeSigning(cmd, c); err != nil {
		return err
	}
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if f.format == formatLDPVC {
		if f.disclose != "" || f.vct != "" || f.holder != "" {
			return usagef("--disclose, --vct and --holder apply to --format dc+sd-jwt only")
		}
		suite, err := cryptosuiteFor(k.KeyType(), f.cryptosuite)
		if err != nil {
			return err
		}
		signed, err := dataintegrity.Sign(ctx, doc, k, dataintegrity.ProofOptions{Cryptosuite: suite, VerificationMethod: vm})
		if err != nil {
			return fmt.Errorf("signing: %w", err)
		}
		return writeJSON(out, signed)
	}
	if f.cryptosuite != "" {
		return usagef("--cryptosuite applies to --format ldp_vc only (an SD-JWT VC is signed with the key's JOSE algorithm)")
	}
	vc, err := sdjwtVCFrom(c, did, vm, f)
	if err != nil {
		return err
	}
	s, err := sdjwt.IssueVC(ctx, k, vc, sdjwt.IssueOptions{Disclose: splitList(f.disclose)})
	if err != nil {
		if errors.Is(err, sdjwt.ErrInvalidPointer) || errors.Is(err, sdjwt.ErrNonDisclosableClaim) || errors.Is(err, sdjwt.ErrReservedClaim) {
			return usageError{fmt.Errorf("issuing SD-JWT VC: %w", err)}
		}
		return fmt.Errorf("issuing SD-JWT VC: %w", err)
	}
	_, err = fmt.Fprintln(out, s)
	return err
}

// checkBeforeSigning runs what the verifier will check of the credential's
// content: structure, JSON-LD safe mode and its JSON Schemas. Problems are
// printed one per line to stderr and make a usage error.
func checkBeforeSigning(cmd *cobra.Command, c *credential.Credential) error {
	report := func(what string, err error) error {
		var verr *credential.ValidationError
		var serr *schemas.ValidationError
		switch {
		case errors.As(err, &verr):
			for _, fe := range verr.Errors {
				fmt.Fprintf(cmd.ErrOrStderr(), "  %s\n", fe)
			}
		case errors.As(err, &serr):
			for _, fe := range serr.Errors {
				fmt.Fprintf(cmd.ErrOrStderr(), "  %s: %s\n", fe.Pointer, fe.Reason)
			}
		}
		return usageError{fmt.Errorf("not signed: the credential fails the %s check: %w", what, err)}
	}
	if err := c.Validate(); err != nil {
		return report("structure", err)
	}
	if err := credential.ValidateJSONLD(cmd.Context(), c, nil); err != nil {
		return report("context", err)
	}
	if err := schemas.ForCredential(c.Map()); err != nil {
		return report("schema", err)
	}
	return nil
}

// sdjwtVCFrom turns a credential into the SD-JWT VC that says the same about
// its subject.
func sdjwtVCFrom(c *credential.Credential, did, vm string, f *vcSignFlags) (sdjwt.VC, error) {
	subs := c.Subjects()
	if len(subs) != 1 {
		return sdjwt.VC{}, usagef("an SD-JWT VC has one subject; the credential has %d", len(subs))
	}
	claims := map[string]any{}
	for k, v := range subs[0] {
		claims[k] = v
	}
	vc := sdjwt.VC{Issuer: did, KeyID: vm, Type: f.vct, Claims: claims}
	if id, _ := claims["id"].(string); id != "" {
		delete(claims, "id")
		claims["sub"] = id
	}
	for _, name := range sdjwt.PlainVCClaims {
		if _, ok := claims[name]; ok {
			return sdjwt.VC{}, usagef("the subject has a claim %q, which an SD-JWT VC reserves", name)
		}
	}
	if id := c.ID(); id != "" {
		claims["jti"] = id
	}
	if vc.Type == "" {
		for _, t := range c.Types() {
			if t == credential.TypeVerifiableCredential {
				continue
			}
			if v, ok := vctFor[t]; ok {
				vc.Type = v
			} else {
				vc.Type = t
			}
		}
	}
	if vc.Type == "" {
		return sdjwt.VC{}, usagef("no vct: the credential has no type beyond VerifiableCredential; give --vct")
	}
	if t, ok := c.NotBefore(); ok {
		vc.NotBefore = t
	}
	if t, ok := c.NotAfter(); ok {
		vc.Expiry = t
	}
	holder := f.holder
	if holder == "" {
		if sub, _ := claims["sub"].(string); strings.HasPrefix(sub, "did:key:") {
			holder = sub
		}
	}
	if holder != "" {
		_, pub, err := didmethods.ParseDIDKey(holder)
		if err != nil {
			return sdjwt.VC{}, usagef("--holder %s: %v", holder, err)
		}
		vc.HolderKey = pub
	}
	return vc, nil
}

type vcVerifyFlags struct {
	challenge, domain, checks string
	trusted                   []string
	requireKeyBinding         bool
}

func newVCVerifyCmd() *cobra.Command {
	f := &vcVerifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify [--challenge C] [--domain D] FILE|-",
		Short: "Verify a credential or presentation and print the result as JSON",
		Long: `Verify the credential or presentation in FILE, or on standard input ("-"):
a JSON credential or presentation with an embedded proof, or a compact SD-JWT VC
(with a KB-JWT it is verified as a presentation). Every check is run offline:
did:key and did:jwk keys only, no status lists (status is a warning), no
fetched contexts or schemas.

The result is printed as JSON whatever --json says: verified, the checks that
passed, warnings and errors each naming its check, and what the credential
says. Exit 0 when verified, 1 when not, 2 when the input is not a credential or
presentation at all.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVCVerify(cmd, f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.challenge, "challenge", "", "the challenge the presentation must carry")
	cmd.Flags().StringVar(&f.domain, "domain", "", "the domain the presentation must carry")
	cmd.Flags().StringVar(&f.checks, "checks", "", "comma-separated checks to run (default all)")
	cmd.Flags().StringSliceVar(&f.trusted, "trusted-issuer", nil, "a trusted issuer DID (repeatable); without any, issuer trust is a warning")
	cmd.Flags().BoolVar(&f.requireKeyBinding, "require-key-binding", false, "fail an SD-JWT VC without a KB-JWT")
	return cmd
}

// errNotVerified makes exit code 1 after the result has been printed.
var errNotVerified = errors.New("not verified")

func runVCVerify(cmd *cobra.Command, f *vcVerifyFlags, arg string) error {
	raw, err := readVCInput(cmd.InOrStdin(), arg)
	if err != nil {
		return err
	}
	in, isPresentation, err := classifyVCInput(raw)
	if err != nil {
		return usagef("%s: %v", arg, err)
	}
	v := verifier.New(verifier.WithTrustedIssuers(f.trusted...))
	opts := verifier.Options{Challenge: f.challenge, Domain: f.domain, RequireKeyBinding: f.requireKeyBinding}
	for _, c := range splitList(f.checks) {
		opts.Checks = append(opts.Checks, verifier.Check(c))
	}
	var res *verifier.Result
	if isPresentation {
		res = v.VerifyPresentation(cmd.Context(), in, opts)
	} else {
		res = v.VerifyCredential(cmd.Context(), in, opts)
	}
	if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
		return err
	}
	if !res.Verified {
		names := make([]string, 0, len(res.Errors))
		for _, p := range res.Errors {
			names = append(names, string(p.Check))
		}
		return fmt.Errorf("%w: failed checks: %s", errNotVerified, strings.Join(names, ", "))
	}
	return nil
}

// classifyVCInput decides what the input is: a JSON credential or
// presentation (by its type), or a compact SD-JWT (a presentation when it
// ends in a KB-JWT) or JWT. Anything else is bad input.
func classifyVCInput(raw []byte) (in any, presentation bool, err error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, "{") {
		doc, err := credential.DecodeObject([]byte(s))
		if err != nil {
			return nil, false, err
		}
		types := jsonvalue.Strings(doc["type"])
		switch {
		case slices.Contains(types, credential.TypeVerifiablePresentation):
			return doc, true, nil
		case slices.Contains(types, credential.TypeVerifiableCredential):
			return doc, false, nil
		}
		return nil, false, errors.New("a JSON object that is neither a VerifiableCredential nor a VerifiablePresentation")
	}
	if strings.Contains(s, "~") {
		c, err := sdjwt.ParseCompact(s, sdjwt.Limits{})
		if err != nil {
			return nil, false, err
		}
		return s, c.KeyBindingJWT != "", nil
	}
	if parts := strings.Split(s, "."); len(parts) == 3 && !strings.ContainsAny(s, " \t\r\n") && parts[0] != "" {
		return s, false, nil
	}
	return nil, false, errors.New("neither a JSON credential or presentation, an SD-JWT nor a JWT")
}

type vcPresentFlags struct {
	key, challenge, domain, disclose string
}

func newVCPresentCmd() *cobra.Command {
	f := &vcPresentFlags{}
	cmd := &cobra.Command{
		Use:   "present --key HOLDER.jwk --challenge C --domain D [--disclose PATHS] CREDENTIAL...",
		Short: "Present credentials: a signed VP, or an SD-JWT VC with a KB-JWT",
		Long: `Present the credentials in the CREDENTIAL files to a verifier that gave the
challenge C and is the domain D.

JSON credentials are put in a VC 2.0 presentation whose holder is the key's
did:key, with a Data Integrity proof (purpose authentication) over the
challenge and domain; the presentation is printed as JSON. One SD-JWT VC is
presented with the disclosures --disclose selects (comma-separated JSON
pointers; default none) and a KB-JWT signed by the key, with nonce C and aud D;
the compact presentation is printed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("at least one CREDENTIAL file is required")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVCPresent(cmd, f, args)
		},
	}
	cmd.Flags().StringVar(&f.key, "key", "", "private JWK file of the holder key")
	cmd.Flags().StringVar(&f.challenge, "challenge", "", "the verifier's challenge (required)")
	cmd.Flags().StringVar(&f.domain, "domain", "", "the verifier's domain (required)")
	cmd.Flags().StringVar(&f.disclose, "disclose", "", "SD-JWT: comma-separated JSON pointers of the claims to disclose")
	return cmd
}

func runVCPresent(cmd *cobra.Command, f *vcPresentFlags, args []string) error {
	if f.key == "" || f.challenge == "" || f.domain == "" {
		return usagef("--key, --challenge and --domain are required: a presentation without them could be replayed anywhere")
	}
	k, did, vm, err := readSigningKey(f.key)
	if err != nil {
		return err
	}
	var docs []any
	var compact []string
	for _, a := range args {
		raw, err := readVCInput(cmd.InOrStdin(), a)
		if err != nil {
			return err
		}
		s := strings.TrimSpace(string(raw))
		if strings.HasPrefix(s, "{") {
			doc, err := credential.DecodeObject([]byte(s))
			if err != nil {
				return usagef("%s: %v", a, err)
			}
			docs = append(docs, doc)
			continue
		}
		if !strings.Contains(s, "~") {
			return usagef("%s: neither a JSON credential nor an SD-JWT VC", a)
		}
		compact = append(compact, s)
	}
	ctx := cmd.Context()
	if len(compact) > 0 {
		if len(compact) != 1 || len(docs) != 0 {
			return usagef("an SD-JWT presentation carries exactly one SD-JWT VC and nothing else")
		}
		p, err := sdjwt.Present(ctx, compact[0], sdjwt.PresentOptions{
			Disclose:   splitList(f.disclose),
			KeyBinding: &sdjwt.KeyBinding{Signer: k, Audience: f.domain, Nonce: f.challenge},
		})
		if err != nil {
			if errors.Is(err, sdjwt.ErrInvalidPointer) || errors.Is(err, sdjwt.ErrMalformed) {
				return usageError{fmt.Errorf("presenting %s: %w", args[0], err)}
			}
			return fmt.Errorf("presenting %s: %w", args[0], err)
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), p)
		return err
	}
	if f.disclose != "" {
		return usagef("--disclose applies to SD-JWT VCs only")
	}
	vp := map[string]any{
		"@context":             []any{credential.ContextV2},
		"type":                 []any{credential.TypeVerifiablePresentation},
		"holder":               did,
		"verifiableCredential": docs,
	}
	if err := credential.NewPresentation(vp).Validate(); err != nil {
		return usageError{fmt.Errorf("the presentation would be invalid: %w", err)}
	}
	signed, err := dataintegrity.Sign(ctx, vp, k, dataintegrity.ProofOptions{
		VerificationMethod: vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: f.challenge, Domain: []string{f.domain},
	})
	if err != nil {
		return fmt.Errorf("signing the presentation: %w", err)
	}
	return writeJSON(cmd.OutOrStdout(), signed)
}

// readSigningKey reads a private JWK file and returns the key with its
// did:key and the DID URL of its verification method.
func readSigningKey(path string) (k *software.Key, did, vm string, err error) {
	k, err = software.ReadPrivateJWKFile(path)
	if err != nil {
		return nil, "", "", usagef("--key %s: %v", path, err)
	}
	did, err = didmethods.CreateKey(k.Public())
	if err != nil {
		return nil, "", "", usagef("--key %s: %v", path, err)
	}
	return k, did, did + "#" + strings.TrimPrefix(did, "did:key:"), nil
}

// cryptosuiteFor picks the Data Integrity cryptosuite for a key type, or
// checks the one asked for.
func cryptosuiteFor(kt keys.KeyType, asked string) (string, error) {
	want := dataintegrity.ECDSARDFC2019
	switch kt {
	case keys.Ed25519:
		want = dataintegrity.EdDSARDFC2022
	case keys.P256, keys.P384:
	default:
		return "", usagef("a %s key cannot make a Data Integrity proof: use ed25519, p256 or p384", kt)
	}
	if asked != "" && asked != want {
		if asked != dataintegrity.EdDSARDFC2022 && asked != dataintegrity.ECDSARDFC2019 {
			return "", usagef("--cryptosuite %q: want eddsa-rdfc-2022 or ecdsa-rdfc-2019", asked)
		}
		return "", usagef("--cryptosuite %s cannot use a %s key (it needs %s)", asked, kt, want)
	}
	return want, nil
}

// readVCInput reads a file, or standard input for "-", within maxVCInput.
func readVCInput(stdin io.Reader, arg string) ([]byte, error) {
	var r io.Reader = stdin
	if arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxVCInput+1))
	if err != nil {
		return nil, usagef("reading %s: %v", arg, err)
	}
	if len(b) > maxVCInput {
		return nil, usagef("%s is larger than %d bytes", arg, maxVCInput)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, usagef("%s is empty", arg)
	}
	return b, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
