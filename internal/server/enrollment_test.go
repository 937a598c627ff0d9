package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/keys/tpm"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
	"github.com/agentid/agentid/verifier"
)

// enrollFixture is the issuance fixture with two servers on its store: one
// trusting the test TPM CA (url), one trusting no TPM root (untrusted), and
// a clock the test can move.
type enrollFixture struct {
	*issuanceFixture
	untrusted string
	skew      *atomic.Int64
}

func startEnrollServer(t *testing.T, st *store.Store, km *keys.Manager, roots *x509.CertPool, skew *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	opts := []issuer.Option{issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(base),
		issuer.WithLogger(discardLogger()), issuer.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })}
	if roots != nil {
		opts = append(opts, issuer.WithTPMRoots(roots))
	}
	iss, err := issuer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, st, WithIssuer(iss), WithPublicURL(base))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base
}

func newEnrollFixture(t *testing.T, st *store.Store, roots *x509.CertPool) *enrollFixture {
	t.Helper()
	f := newIssuanceFixture(t, st)
	skew := new(atomic.Int64)
	// The issuance fixture's server has no TPM roots: it is the untrusted
	// one (its clock is the real one).
	fe := &enrollFixture{issuanceFixture: f, skew: skew}
	fe.untrusted = f.url
	fe.url = startEnrollServer(t, st, f.km, roots, skew)
	return fe
}

// at sends a request to the server at base.
func (f *enrollFixture) at(t *testing.T, base, method, path, token string, body any) response {
	t.Helper()
	saved := f.url
	f.url = base
	defer func() { f.url = saved }()
	return f.call(t, method, path, token, body)
}

// agentKey is an agent with its TPM key in the simulator.
type agentKey struct {
	key *tpm.Key
	did string
}

func newAgentKey(t *testing.T, tp *tpm.TPM, name string) *agentKey {
	t.Helper()
	k, err := tp.CreateKey(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	did, err := didmethods.CreateKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &agentKey{key: k, did: did}
}

// proof is the proof of possession: a compact ES256 JWS by signer over the
// nonce and the issuer URL.
func proof(t *testing.T, signer keys.Signer, nonce, aud string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": issuer.ProofType})
	pay, _ := json.Marshal(map[string]any{"nonce": nonce, "aud": aud})
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pay)
	sig, err := signer.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

const principalDID = "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"

// start begins an enrollment of did and returns its id and nonce.
func (f *enrollFixture) start(t *testing.T, base, did, org string) (string, string) {
	t.Helper()
	body := map[string]any{"did": did, "name": "invoice-bot", "principal": principalDID,
		"software": map[string]any{"name": "invoice-bot", "version": "1.4.2", "model": "example-model"}}
	if org != "" {
		body["org"] = org
	}
	r := f.at(t, base, "POST", "/agents/enroll", "", body)
	if r.status != http.StatusCreated {
		t.Fatalf("enroll: %d %s", r.status, r.body)
	}
	m := r.json(t)
	nonce := m["nonce"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(nonce); err != nil || len(raw) != 32 {
		t.Fatalf("nonce %q: %v", nonce, err)
	}
	return m["id"].(string), nonce
}

// evidence attests key over nonce.
func evidence(t *testing.T, tp *tpm.TPM, key *tpm.Key, nonce string) *tpm.Attestation {
	t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(nonce)
	att, err := tp.Attest(context.Background(), key, raw)
	if err != nil {
		t.Fatal(err)
	}
	return att
}

func (f *enrollFixture) submit(t *testing.T, base, id string, ev any, pop string) response {
	t.Helper()
	return f.at(t, base, "POST", "/agents/enroll/"+id+"/evidence", "", map[string]any{"evidence": ev, "proof": pop})
}

// activation decodes the challenge of an evidence answer.
func activation(t *testing.T, r response) attest.ActivationChallenge {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("evidence: %d %s", r.status, r.body)
	}
	var out struct {
		Activation attest.ActivationChallenge `json:"activation"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Activation
}

func wantProblem(t *testing.T, r response, status int, typ, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d, want %d: %s", what, r.status, status, r.body)
	}
	if typ != "" && !strings.HasSuffix(r.json(t)["type"].(string), "/"+typ) {
		t.Fatalf("%s: problem type %s, want %s", what, r.json(t)["type"], typ)
	}
}

// wantNoAgent fails unless organization A has no agent with did.
func (f *enrollFixture) wantNoAgent(t *testing.T, did string) {
	t.Helper()
	if a, err := f.st.AgentByDID(context.Background(), f.orgA.ID, did); err == nil {
		t.Fatalf("agent %s recorded (%s)", did, a.State)
	}
}

// An agent with its key in the simulator enrolls over HTTP: evidence with
// an EK certificate under a trusted test CA, activation, auto-approval; the
// AgentIdentityCredential in both formats verifies and says hardware. Then
// every way it can go wrong answers 4xx and records nothing.
func TestEnrollmentEndToEnd(t *testing.T) {
	tp := tpmtest.Simulator(t)
	ca, caKey := tpmtest.NewTestCA(t)
	tpmtest.ProvisionEKCertificate(t, tp, ca, caKey)
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newEnrollFixture(t, st, roots)
		ag := newAgentKey(t, tp, "agent-a")

		// Auto-approval on.
		if r := f.call(t, "PUT", "/agents/policy", f.tokA, map[string]any{"allowSoftwareKeys": false, "autoApprove": true}); r.status != http.StatusOK {
			t.Fatalf("policy: %d %s", r.status, r.body)
		}

		id, nonce := f.start(t, f.url, ag.did, "")
		att := evidence(t, tp, ag.key, nonce)
		ch := activation(t, f.submit(t, f.url, id, att.Evidence, proof(t, ag.key, nonce, f.url)))

		// Replayed nonce: the same evidence and proof again.
		wantProblem(t, f.submit(t, f.url, id, att.Evidence, proof(t, ag.key, nonce, f.url)), 400, "enrollment-nonce-used", "replay")

		// A wrong secret on another enrollment is tested below; here the
		// right one.
		secret, err := att.Activate(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		r := f.call(t, "POST", "/agents/enroll/"+id+"/activate", "", map[string]any{"secret": base64.StdEncoding.EncodeToString(secret)})
		if r.status != http.StatusOK {
			t.Fatalf("activate: %d %s", r.status, r.body)
		}
		agent := r.json(t)["agent"].(map[string]any)
		if agent["state"] != "approved" || agent["did"] != ag.did {
			t.Fatalf("agent: %v", agent)
		}
		hw := agent["hardwareBinding"].(map[string]any)
		if hw["assurance"] != "hardware" || hw["method"] != attest.MethodEKCertificate || hw["ekCertificateSha256"] == "" {
			t.Fatalf("hardware binding: %v", hw)
		}
		// Activation twice.
		wantProblem(t, f.call(t, "POST", "/agents/enroll/"+id+"/activate", "", map[string]any{"secret": base64.StdEncoding.EncodeToString(secret)}),
			400, "enrollment-activation-failed", "activation twice")

		creds := agent["credentials"].([]any)
		if len(creds) != 2 {
			t.Fatalf("credentials: %v", creds)
		}
		offline := verifier.New()
		formats := map[string]bool{}
		for _, c := range creds {
			c := c.(map[string]any)
			formats[c["format"].(string)] = true
			res := offline.VerifyCredential(ctx, c["verifiableCredential"], verifier.Options{})
			if !res.Verified {
				raw, _ := json.Marshal(res)
				t.Fatalf("%s: not verified: %s", c["format"], raw)
			}
			var binding map[string]any
			if m, ok := c["verifiableCredential"].(map[string]any); ok {
				binding = m["credentialSubject"].(map[string]any)["hardwareBinding"].(map[string]any)
			} else {
				binding, _ = res.Credential.Claims["hardwareBinding"].(map[string]any)
			}
			if binding["assurance"] != "hardware" || binding["type"] != "TPM2" {
				t.Fatalf("%s: hardware binding %v", c["format"], binding)
			}
			if res.Credential.Subject != ag.did {
				t.Fatalf("%s: subject %s", c["format"], res.Credential.Subject)
			}
		}
		if !formats[issuer.FormatLDPVC] || !formats[issuer.FormatSDJWT] {
			t.Fatalf("formats: %v", formats)
		}
		agentID := agent["id"].(string)
		if r := f.call(t, "GET", "/agents/"+agentID, f.tokA, nil); r.status != http.StatusOK {
			t.Fatalf("get agent: %d %s", r.status, r.body)
		}
		wantProblem(t, f.call(t, "GET", "/agents/"+agentID, f.tokB, nil), 404, "", "another org's agent")
		// The same DID again is a conflict.
		wantProblem(t, f.call(t, "POST", "/agents/enroll", "", map[string]any{"did": ag.did, "name": "x", "principal": principalDID,
			"software": map[string]any{"name": "x", "version": "1"}}), 409, "", "enrolled twice")
		ag.key.Close()

		// Auto-approval off: the next agents wait for an admin.
		f.call(t, "PUT", "/agents/policy", f.tokA, map[string]any{"allowSoftwareKeys": false, "autoApprove": false})
		b := newAgentKey(t, tp, "agent-b")

		// Expired nonce.
		id, nonce = f.start(t, f.url, b.did, "")
		att = evidence(t, tp, b.key, nonce)
		f.skew.Store(int64(issuer.EnrollmentNonceTTL + time.Second))
		wantProblem(t, f.submit(t, f.url, id, att.Evidence, proof(t, b.key, nonce, f.url)), 400, "enrollment-nonce-expired", "expired nonce")
		f.skew.Store(0)

		// Proof of possession by another key.
		other, err := software.Generate(keys.P256)
		if err != nil {
			t.Fatal(err)
		}
		id, nonce = f.start(t, f.url, b.did, "")
		att = evidence(t, tp, b.key, nonce)
		wantProblem(t, f.submit(t, f.url, id, att.Evidence, proof(t, other, nonce, f.url)), 400, "enrollment-proof-invalid", "proof by another key")
		// A proof for another issuer.
		wantProblem(t, f.submit(t, f.url, id, att.Evidence, proof(t, b.key, nonce, "https://elsewhere.example")), 400, "enrollment-proof-invalid", "proof for another aud")

		// Evidence for another key than the enrolled DID: the DID is a
		// software key's, the evidence the TPM key's.
		otherDID, _ := didmethods.CreateKey(other.Public())
		id, nonce = f.start(t, f.url, otherDID, "")
		att = evidence(t, tp, b.key, nonce)
		wantProblem(t, f.submit(t, f.url, id, att.Evidence, proof(t, other, nonce, f.url)), 400, "enrollment-evidence-rejected", "evidence for another key")

		// Software enrollment, which the organization does not allow.
		r = f.at(t, f.url, "POST", "/agents/enroll/"+id+"/evidence", "", map[string]any{"software": true, "proof": proof(t, other, nonce, f.url)})
		wantProblem(t, r, 403, "enrollment-software-not-allowed", "software key")

		// EK not trusted: the server without TPM roots.
		id, nonce = f.start(t, f.untrusted, b.did, "")
		att = evidence(t, tp, b.key, nonce)
		wantProblem(t, f.submit(t, f.untrusted, id, att.Evidence, proof(t, b.key, nonce, f.untrusted)), 400, "enrollment-evidence-rejected", "untrusted EK")

		// Wrong activation secret: refused, and the activation is spent.
		id, nonce = f.start(t, f.url, b.did, "")
		att = evidence(t, tp, b.key, nonce)
		ch = activation(t, f.submit(t, f.url, id, att.Evidence, proof(t, b.key, nonce, f.url)))
		wantProblem(t, f.call(t, "POST", "/agents/enroll/"+id+"/activate", "", map[string]any{"secret": base64.StdEncoding.EncodeToString(make([]byte, 32))}),
			400, "enrollment-activation-failed", "wrong secret")
		secret, err = att.Activate(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, f.call(t, "POST", "/agents/enroll/"+id+"/activate", "", map[string]any{"secret": base64.StdEncoding.EncodeToString(secret)}),
			400, "enrollment-activation-failed", "right secret after a wrong one")

		f.wantNoAgent(t, b.did)
		f.wantNoAgent(t, otherDID)

		// An agent waiting for approval: an EK on the untrusted server's
		// allowlist, organization B's token cannot approve it.
		ekHash, err := attest.EKPublicKeyHash(att.Evidence.EKPublic)
		if err != nil {
			t.Fatal(err)
		}
		if r := f.call(t, "POST", "/agents/ek-allowlist", f.tokA, map[string]any{"hash": ekHash}); r.status != http.StatusCreated {
			t.Fatalf("allowlist: %d %s", r.status, r.body)
		}
		id, nonce = f.start(t, f.untrusted, b.did, "")
		att = evidence(t, tp, b.key, nonce)
		ch = activation(t, f.submit(t, f.untrusted, id, att.Evidence, proof(t, b.key, nonce, f.untrusted)))
		secret, err = att.Activate(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		r = f.call(t, "POST", "/agents/enroll/"+id+"/activate", "", map[string]any{"secret": base64.RawURLEncoding.EncodeToString(secret)})
		if r.status != http.StatusOK {
			t.Fatalf("activate: %d %s", r.status, r.body)
		}
		agent = r.json(t)["agent"].(map[string]any)
		if agent["state"] != "pending-approval" || agent["hardwareBinding"].(map[string]any)["method"] != attest.MethodEKAllowlist {
			t.Fatalf("agent: %v", agent)
		}
		agentID = agent["id"].(string)
		wantProblem(t, f.call(t, "POST", "/agents/"+agentID+"/approve", f.tokB, nil), 404, "", "approve with another org's token")
		if got := f.call(t, "GET", "/agents/"+agentID, f.tokA, nil).json(t)["agent"].(map[string]any); got["state"] != "pending-approval" || len(got["credentials"].([]any)) != 0 {
			t.Fatalf("after a foreign approval: %v", got)
		}
		r = f.call(t, "POST", "/agents/"+agentID+"/approve", f.tokA, nil)
		if r.status != http.StatusOK {
			t.Fatalf("approve: %d %s", r.status, r.body)
		}
		if got := r.json(t)["agent"].(map[string]any); got["state"] != "approved" || len(got["credentials"].([]any)) != 2 {
			t.Fatalf("approved: %v", got)
		}
		wantProblem(t, f.call(t, "POST", "/agents/"+agentID+"/approve", f.tokA, nil), 409, "", "approve twice")
	})
}
