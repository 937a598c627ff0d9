package verifier

import (
	"slices"
	"time"
)

// Check names one step of the verification pipeline. Every problem a Result
// reports names the check that found it, and Result.Checks lists the checks
// that ran and passed, so a caller (or a VC-API client reading the JSON) can
// tell "the signature is wrong" from "the credential has expired" without
// parsing messages.
type Check string

// The checks, in the order the pipeline runs them.
const (
	// CheckStructure: the document has the shape the data model requires
	// (credential.Validate, or the compact SD-JWT syntax).
	CheckStructure Check = "structure"
	// CheckContext: every term is defined by the @context and no protected
	// term is redefined (JSON-LD safe mode, offline contexts only). Not run
	// for SD-JWT VC, which is plain JSON.
	CheckContext Check = "context"
	// CheckProof: every proof verifies (Data Integrity or SD-JWT issuer
	// signature with its disclosures) with a key its DID document
	// authorizes for the proof purpose.
	CheckProof Check = "proof"
	// CheckIssuerController: the proof's verification method is controlled
	// by the credential's issuer (for SD-JWT VC: kid is a DID URL of iss).
	CheckIssuerController Check = "issuerController"
	// CheckValidity: now is inside the validity period (validFrom and
	// validUntil, issuanceDate and expirationDate for VC 1.1, nbf and exp
	// for SD-JWT VC), allowing the verifier's clock skew.
	CheckValidity Check = "validity"
	// CheckSchema: the credential conforms to each JSON Schema its
	// credentialSchema names (embedded schemas only; nothing is fetched).
	CheckSchema Check = "schema"
	// CheckStatus: no status entry says the credential is revoked or
	// suspended, as the StatusChecker tells.
	CheckStatus Check = "status"
	// CheckTrustedIssuer: the issuer is on the verifier's trust list.
	CheckTrustedIssuer Check = "trustedIssuer"
	// CheckHolderBinding: the presenter holds the key the credential is
	// about (VP proof controller = credential subject id; SD-JWT KB-JWT
	// signed by the cnf key).
	CheckHolderBinding Check = "holderBinding"
	// CheckChallenge: the presentation's proof (or KB-JWT nonce) carries the
	// expected challenge.
	CheckChallenge Check = "challenge"
	// CheckDomain: the presentation's proof domain (or KB-JWT aud) is the
	// expected one.
	CheckDomain Check = "domain"
	// CheckDelegation: every presented AgentDelegationCredential chain is
	// sound (each sub-delegation presented with its parents, each link
	// delegated by its parent's subject and narrowing it, the root
	// delegated by the agent's principal), and a requested action on a
	// resource is granted by a delegation of the agent whose audience lists
	// the relying party and which is in force. See delegation.go.
	CheckDelegation Check = "delegation"
	// CheckAssurance: the credentials about the agent show at least the
	// requested hardwareBinding.assurance (Options.MinAssurance).
	CheckAssurance Check = "assurance"
)

// AllChecks lists every check in pipeline order.
var AllChecks = []Check{
	CheckStructure, CheckContext, CheckProof, CheckIssuerController, CheckValidity,
	CheckSchema, CheckStatus, CheckTrustedIssuer, CheckHolderBinding, CheckChallenge, CheckDomain,
	CheckDelegation, CheckAssurance,
}

// Problem codes: a short machine-readable reason within a check.
const (
	CodeMalformed             = "malformed"
	CodeInvalidStructure      = "invalidStructure"
	CodeInvalidContext        = "invalidContext"
	CodeNoProof               = "noProof"
	CodeInvalidProof          = "invalidProof"
	CodeUnsupportedProofType  = "unsupportedProofType"
	CodeControllerMismatch    = "controllerMismatch"
	CodeExpired               = "expired"
	CodeNotYetValid           = "notYetValid"
	CodeSchemaViolation       = "schemaViolation"
	CodeUnknownSchema         = "unknownSchema"
	CodeStatusNotChecked      = "statusNotChecked"
	CodeStatusUnavailable     = "statusUnavailable"
	CodeRevoked               = "revoked"
	CodeSuspended             = "suspended"
	CodeStatusSet             = "statusSet"
	CodeUntrustedIssuer       = "untrustedIssuer"
	CodeNoTrustList           = "noTrustList"
	CodeHolderMismatch        = "holderMismatch"
	CodeKeyBindingMissing     = "keyBindingMissing"
	CodeInvalidKeyBinding     = "invalidKeyBinding"
	CodeChallengeMismatch     = "challengeMismatch"
	CodeChallengeNotChecked   = "challengeNotChecked"
	CodeDomainMismatch        = "domainMismatch"
	CodeDomainNotChecked      = "domainNotChecked"
	CodeUnknownCheck          = "unknownCheck"
	CodeUnsupportedInputType  = "unsupportedInput"
	CodeVerificationCancelled = "cancelled"
	// Codes of the delegation and assurance checks.
	CodeNoDelegation          = "noDelegation"
	CodeScopeNotGranted       = "scopeNotGranted"
	CodeAudienceMismatch      = "audienceMismatch"
	CodeDelegationExpired     = "delegationExpired"
	CodeChainBroken           = "chainBroken"
	CodeChainWidens           = "chainWidens"
	CodeDelegatorMismatch     = "delegatorMismatch"
	CodeInsufficientAssurance = "insufficientAssurance"
)

// Problem is one error or warning of a verification.
type Problem struct {
	// Check is the check that found the problem.
	Check Check `json:"check"`
	// Code is a short machine-readable reason (one of the Code* constants).
	Code string `json:"code,omitempty"`
	// Message says what is wrong, in words.
	Message string `json:"message"`
	// Credential, in a presentation, is the JSON pointer of the presented
	// credential the problem is about ("/verifiableCredential/0"); empty
	// for the presentation itself or a lone credential.
	Credential string `json:"credential,omitempty"`
}

// CredentialFacts are what a verification learned about a credential. They
// are reported whether or not it verified (so a caller can say which
// credential failed), and are trustworthy only when Result.Verified is true.
type CredentialFacts struct {
	// Format is "ldp_vc" (embedded proof), "dc+sd-jwt" or "jwt_vc".
	Format string `json:"format"`
	// ID is the credential's id (jti for a JWT), if any.
	ID string `json:"id,omitempty"`
	// Types are the credential's types (the vct of an SD-JWT VC).
	Types []string `json:"types,omitempty"`
	// Issuer is the issuer's identifier (iss of an SD-JWT VC).
	Issuer string `json:"issuer,omitempty"`
	// Subject is the id of the (first) credential subject (sub of an SD-JWT
	// VC), if any.
	Subject string `json:"subject,omitempty"`
	// ValidFrom and ValidUntil bound the validity period, when stated.
	ValidFrom  *time.Time `json:"validFrom,omitempty"`
	ValidUntil *time.Time `json:"validUntil,omitempty"`
	// Holder is the did:key of the key an SD-JWT VC binds its holder to
	// (cnf.jwk), if any.
	Holder string `json:"holder,omitempty"`
	// Claims are an SD-JWT VC's claims with the presented disclosures in
	// place and everything undisclosed removed.
	Claims map[string]any `json:"claims,omitempty"`
	// Disclosed are the JSON pointers of the SD-JWT VC claims that came
	// from disclosures.
	Disclosed []string `json:"disclosed,omitempty"`

	// subject is the (first) credential subject of an embedded credential,
	// or the claims of an SD-JWT VC: what the agent and delegation checks
	// read.
	subject map[string]any
	// parent is the id of the delegation a sub-delegation narrows, if any.
	parent string
	// at is the JSON pointer of the credential in its presentation.
	at string
}

// PresentationFacts are what a verification learned about a presentation.
type PresentationFacts struct {
	// Format is "ldp_vp" (a VP with an embedded proof) or "dc+sd-jwt" (an
	// SD-JWT VC with a KB-JWT).
	Format string `json:"format"`
	// ID is the presentation's id, if any.
	ID string `json:"id,omitempty"`
	// Holder is the presentation's holder, or the controller of its proof
	// key when it names none.
	Holder string `json:"holder,omitempty"`
}

// Result is the outcome of a verification, ready to be the JSON body of a
// VC-API verify response: 200 when Verified, 400 otherwise.
type Result struct {
	// Verified is true only when no check reported an error.
	Verified bool `json:"verified"`
	// Checks are the checks that ran and passed (for a presentation: passed
	// for the presentation and every credential it holds), in pipeline
	// order. A check that was not asked for, does not apply, could not run
	// or only warned is absent.
	Checks []Check `json:"checks"`
	// Warnings are problems that do not make the verification fail, such
	// as a status that was not checked or an issuer with no trust list to
	// judge it by.
	Warnings []Problem `json:"warnings"`
	// Errors are the problems that make it fail; each names its check.
	Errors []Problem `json:"errors"`
	// Credential describes the credential of VerifyCredential.
	Credential *CredentialFacts `json:"credential,omitempty"`
	// Presentation and Credentials describe the presentation of
	// VerifyPresentation and the credentials it holds.
	Presentation *PresentationFacts `json:"presentation,omitempty"`
	Credentials  []CredentialFacts  `json:"credentials,omitempty"`
	// Agent is what the credentials say about the agent: its DID, issuer,
	// principal, assurance, delegation and presented claims. Like the
	// facts, it is trustworthy only when Verified is true.
	Agent *Agent `json:"agent,omitempty"`
}

// Failed reports whether check c reported an error.
func (r *Result) Failed(c Check) bool {
	return slices.ContainsFunc(r.Errors, func(p Problem) bool { return p.Check == c })
}

// Passed reports whether check c ran and passed.
func (r *Result) Passed(c Check) bool { return slices.Contains(r.Checks, c) }

// Warned reports whether check c reported a warning.
func (r *Result) Warned(c Check) bool {
	return slices.ContainsFunc(r.Warnings, func(p Problem) bool { return p.Check == c })
}

// checkState is where one check stands during a verification.
type checkState int

const (
	notRun checkState = iota
	passed
	failed
)

// numChecks is len(AllChecks): checkIndex numbers the checks 0 to
// numChecks-1 in pipeline order.
const numChecks = 13

// checkIndex is the position of c in AllChecks, or -1 for an unknown check.
// A switch rather than a map: the recorder asks it for every check it
// records, many times per verification.
func checkIndex(c Check) int {
	switch c {
	case CheckStructure:
		return 0
	case CheckContext:
		return 1
	case CheckProof:
		return 2
	case CheckIssuerController:
		return 3
	case CheckValidity:
		return 4
	case CheckSchema:
		return 5
	case CheckStatus:
		return 6
	case CheckTrustedIssuer:
		return 7
	case CheckHolderBinding:
		return 8
	case CheckChallenge:
		return 9
	case CheckDomain:
		return 10
	case CheckDelegation:
		return 11
	case CheckAssurance:
		return 12
	}
	return -1
}

// checkStates are which checks were asked for and where each stands, by
// checkIndex.
type checkStates struct {
	enabled [numChecks]bool
	state   [numChecks]checkState
}

// recorder collects the outcome of every check of one verification. A check
// that fails anywhere (the presentation or any credential in it) is failed
// overall; one that passed everywhere it ran is passed.
type recorder struct {
	checks *checkStates
	res    *Result
	// trust is the call's trust policy (Options.Trust), nil for the
	// verifier's own.
	trust *TrustPolicy
	// at is the JSON pointer of the credential being checked inside a
	// presentation ("" at the top level).
	at string
}

func newRecorder(selected []Check) *recorder {
	r := &recorder{
		checks: &checkStates{},
		res:    &Result{Checks: []Check{}, Warnings: []Problem{}, Errors: []Problem{}},
	}
	if len(selected) == 0 {
		selected = AllChecks
	}
	for _, c := range selected {
		i := checkIndex(c)
		if i < 0 {
			r.res.Errors = append(r.res.Errors, Problem{Check: c, Code: CodeUnknownCheck,
				Message: "unknown check " + string(c) + " in options.checks"})
			continue
		}
		r.checks.enabled[i] = true
	}
	return r
}

// on reports whether check c was asked for.
func (r *recorder) on(c Check) bool {
	i := checkIndex(c)
	return i >= 0 && r.checks.enabled[i]
}

// at returns a recorder that shares r's state but attributes problems to the
// presented credential at pointer.
func (r *recorder) within(pointer string) *recorder {
	return &recorder{checks: r.checks, res: r.res, trust: r.trust, at: pointer}
}

func (r *recorder) pass(c Check) {
	if !r.on(c) {
		return
	}
	if i := checkIndex(c); r.checks.state[i] == notRun {
		r.checks.state[i] = passed
	}
}

// fail records a failure of check c when c was asked for.
//
// A structure failure is recorded even when the structure check was not
// asked for: input that is not a credential or presentation at all (a
// string that is neither JSON, an SD-JWT nor a JWT; a JWT whose header or
// payload does not parse) stops verification before any other check runs,
// so dropping that failure would report a verification with no errors,
// and no checks, as verified.
func (r *recorder) fail(c Check, code, msg string) {
	if !r.on(c) && c != CheckStructure {
		return
	}
	if i := checkIndex(c); i >= 0 {
		r.checks.state[i] = failed
	}
	r.res.Errors = append(r.res.Errors, Problem{Check: c, Code: code, Message: msg, Credential: r.at})
}

func (r *recorder) warn(c Check, code, msg string) {
	if !r.on(c) {
		return
	}
	r.res.Warnings = append(r.res.Warnings, Problem{Check: c, Code: code, Message: msg, Credential: r.at})
}

// finish fills in Checks and Verified.
func (r *recorder) finish() *Result {
	for i, c := range AllChecks {
		if r.checks.state[i] == passed {
			r.res.Checks = append(r.res.Checks, c)
		}
	}
	r.res.Verified = len(r.res.Errors) == 0
	return r.res
}
