package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for tampering
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", for tampering

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/testkeys"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/keys/tpm"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// adminToken is the default organization's admin token of every server the
// tests start (AGENTID_ADMIN_TOKEN).
const adminToken = "e2e-admin-token-0123456789abcdef"

// Paths set by TestMain: the built binary and the module root.
var (
	agentidBin string
	moduleRoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the agentid binary once for every test of the package.
func run(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go env GOMOD: %v\n", err)
		return 1
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		fmt.Fprintln(os.Stderr, "not inside the agentid module")
		return 1
	}
	moduleRoot = filepath.Dir(gomod)
	dir, err := os.MkdirTemp("", "agentid-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	agentidBin = filepath.Join(dir, "agentid")
	build := exec.Command("go", "build", "-o", agentidBin, "./cmd/agentid")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/agentid: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects a process's output; safe for the process's writer
// goroutine and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running `agentid serve`.
type process struct {
	name   string
	url    string
	dbURL  string
	data   string
	stderr *syncBuffer
	client *http.Client
}

// serveConfig is how a server is started.
type serveConfig struct {
	name  string
	dbURL string
	kek   string   // AGENTID_KEK; empty: a KEK file in the data directory
	args  []string // extra flags
}

// newKEK is a fresh key-encryption key as AGENTID_KEK takes it.
func newKEK(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServe starts `agentid serve` on a free loopback port with the public
// URL http://127.0.0.1:PORT, waits until /readyz answers 200, and stops it
// (SIGTERM, then SIGKILL) when the test ends. Its stderr goes to the test
// log when the test failed.
func startServe(t *testing.T, cfg serveConfig) *process {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := tryServe(t, cfg)
		if err == nil {
			return p
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start agentid serve (%s): %v", cfg.name, lastErr)
	return nil
}

func tryServe(t *testing.T, cfg serveConfig) (*process, error) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &process{name: cfg.name, url: "http://" + addr, dbURL: cfg.dbURL, data: filepath.Join(t.TempDir(), "data"), stderr: &syncBuffer{},
		client: &http.Client{Timeout: 30 * time.Second}}
	args := append([]string{"serve", "--addr", addr, "--data", p.data, "--database", cfg.dbURL, "--public-url", p.url}, cfg.args...)
	cmd := exec.Command(agentidBin, args...)
	cmd.Env = append(cleanEnv(), "AGENTID_ADMIN_TOKEN="+adminToken)
	if cfg.kek != "" {
		cmd.Env = append(cmd.Env, "AGENTID_KEK="+cfg.kek)
	}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("exited before ready: %v: %s", waitErr, p.stderr.String())
		default:
		}
		resp, err := p.client.Get(p.url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not ready after 90 s: %s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			out := p.stderr.String()
			if len(out) > 64<<10 {
				out = "…" + out[len(out)-64<<10:]
			}
			t.Logf("agentid serve %s (%s) output:\n%s", p.name, p.url, out)
		}
	})
	return p, nil
}

// cleanEnv is the environment without AGENTID_ variables, so that the
// caller's settings do not leak into the servers and commands.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTID_") {
			env = append(env, kv)
		}
	}
	return env
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// obj decodes the body as a JSON object.
func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// call sends a request (body JSON-encoded unless nil) to the process.
func (p *process) call(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	return p.callURL(t, method, p.url+path, token, body)
}

func (p *process) callURL(t *testing.T, method, u, token string, body any) response {
	t.Helper()
	r, err := p.do(method, u, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// do sends a request and reads the whole answer; unlike call it may run
// off the test's goroutine.
func (p *process) do(method, u, token string, body any) (response, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// must fails the test unless r has status want.
func must(t *testing.T, r response, want int, what string) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
	return r
}

// cliResult is the outcome of running the built binary.
type cliResult struct {
	code           int
	stdout, stderr string
}

// cli runs the built agentid binary with args.
func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentidBin, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		t.Fatalf("agentid %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// human is the principal: a software key with its did:key.
type human struct {
	key *software.Key
	did string
	vm  string
}

func newHuman(t *testing.T) *human {
	t.Helper()
	k, did, vm := testkeys.New(t, keys.Ed25519)
	return &human{key: k, did: did, vm: vm}
}

// jws is a compact JWS by signer, with kid (when not empty), over payload.
func jws(t *testing.T, signer keys.Signer, kid string, payload any) string {
	t.Helper()
	h := map[string]any{"alg": string(signer.Algorithm())}
	if kid != "" {
		h["kid"] = kid
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	pay, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pay)
	sig, err := signer.Sign(context.Background(), []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signedStatus is the principal's signed POST /credentials/status.
func (h *human) signedStatus(t *testing.T, p *process, credentialID, listType, status string) response {
	t.Helper()
	proof := jws(t, h.key, h.vm, map[string]any{"credentialId": credentialID, "status": status,
		"nonce": randomString(t), "iat": time.Now().Unix(), "aud": p.url})
	return p.call(t, "POST", "/credentials/status", "", map[string]any{
		"credentialId": credentialID, "proof": proof,
		"credentialStatus": []any{map[string]any{"type": listType, "status": status}},
	})
}

// adminStatus is the admin's POST /credentials/status.
func adminStatus(t *testing.T, p *process, credentialID, listType, status string) response {
	t.Helper()
	return p.call(t, "POST", "/credentials/status", adminToken, map[string]any{
		"credentialId":     credentialID,
		"credentialStatus": []any{map[string]any{"type": listType, "status": status}},
	})
}

// tpmRig is the simulator TPM with an EK certificate under a test
// manufacturer CA, and a directory holding that CA for --tpm-roots.
type tpmRig struct {
	tp       *tpm.TPM
	rootsDir string
}

// newTPMRig provisions the shared simulator's EK certificate under a fresh
// CA. Tests that call it must not run in parallel (one simulator per
// process).
func newTPMRig(t *testing.T) *tpmRig {
	t.Helper()
	tp := tpmtest.Simulator(t)
	ca, caKey := tpmtest.NewTestCA(t)
	tpmtest.ProvisionEKCertificate(t, tp, ca, caKey)
	dir := t.TempDir()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	if err := os.WriteFile(filepath.Join(dir, "test-ca.pem"), pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tpmRig{tp: tp, rootsDir: dir}
}

// agent is an enrolled agent: its TPM key, did:key, and the identity
// credentials it received.
type agent struct {
	key      *tpm.Key
	did      string
	vm       string
	id       string         // the agent record's id
	ldp      map[string]any // AgentIdentityCredential, ldp_vc
	ldpID    string
	sdjwt    string // AgentIdentityCredential, dc+sd-jwt
	sdjwtID  string
	approved map[string]any // the agent as the approval answered
}

// enrollAgent makes a key in the TPM and enrolls it over HTTP (enroll,
// evidence and proof of possession, activation); the admin approves it.
func enrollAgent(t *testing.T, rig *tpmRig, p *process, principal string) *agent {
	t.Helper()
	ctx := context.Background()
	key, err := rig.tp.CreateKey(ctx, "e2e-"+randomString(t)[:12])
	if err != nil {
		t.Fatalf("create TPM key: %v", err)
	}
	t.Cleanup(func() { _ = key.Close() })
	did, err := didmethods.CreateKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{key: key, did: did, vm: did + "#" + strings.TrimPrefix(did, "did:key:")}

	// 1. Start: the agent's DID, name, software and principal → nonce.
	r := must(t, p.call(t, "POST", "/agents/enroll", "", map[string]any{
		"did": did, "name": "invoice-bot", "principal": principal,
		"software": map[string]any{"name": "invoice-bot", "version": "1.4.2", "model": "example-model"},
	}), http.StatusCreated, "POST /agents/enroll")
	start := r.obj(t)
	enrollID, _ := start["id"].(string)
	nonce, _ := start["nonce"].(string)
	rawNonce, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(rawNonce) != 32 || enrollID == "" {
		t.Fatalf("enroll answer: %s", r.body)
	}

	// 2. Evidence over the nonce and a proof of possession.
	att, err := rig.tp.Attest(ctx, key, rawNonce)
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	pop := jws(t, key, "", map[string]any{"nonce": nonce, "aud": p.url})
	r = must(t, p.call(t, "POST", "/agents/enroll/"+enrollID+"/evidence", "", map[string]any{"evidence": att.Evidence, "proof": pop}),
		http.StatusOK, "POST /agents/enroll/{id}/evidence")
	var ev struct {
		Activation attest.ActivationChallenge `json:"activation"`
	}
	if err := json.Unmarshal(r.body, &ev); err != nil {
		t.Fatal(err)
	}
	// The same evidence again: the nonce is spent.
	must(t, p.call(t, "POST", "/agents/enroll/"+enrollID+"/evidence", "", map[string]any{"evidence": att.Evidence, "proof": pop}),
		http.StatusBadRequest, "replayed enrollment nonce")

	// 3. Activation: the TPM decrypts the challenge.
	secret, err := att.Activate(ctx, ev.Activation)
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	r = must(t, p.call(t, "POST", "/agents/enroll/"+enrollID+"/activate", "", map[string]any{"secret": base64.StdEncoding.EncodeToString(secret)}),
		http.StatusOK, "POST /agents/enroll/{id}/activate")
	rec, _ := r.obj(t)["agent"].(map[string]any)
	if rec["state"] != "pending-approval" || rec["did"] != did || rec["principal"] != principal {
		t.Fatalf("activated agent: %s", r.body)
	}
	hw, _ := rec["hardwareBinding"].(map[string]any)
	if hw["assurance"] != "hardware" || hw["method"] != attest.MethodEKCertificate {
		t.Fatalf("hardware binding: %v", hw)
	}
	a.id, _ = rec["id"].(string)

	// 4. The admin approves: both credentials are issued.
	r = must(t, p.call(t, "POST", "/agents/"+a.id+"/approve", adminToken, nil), http.StatusOK, "approve")
	a.approved, _ = r.obj(t)["agent"].(map[string]any)
	if a.approved["state"] != "approved" {
		t.Fatalf("approved agent: %s", r.body)
	}
	creds, _ := a.approved["credentials"].([]any)
	for _, c := range creds {
		c, _ := c.(map[string]any)
		id, _ := c["id"].(string)
		switch c["format"] {
		case "ldp_vc":
			a.ldp, _ = c["verifiableCredential"].(map[string]any)
			a.ldpID = id
		case "dc+sd-jwt":
			a.sdjwt, _ = c["verifiableCredential"].(string)
			a.sdjwtID = id
		}
	}
	if a.ldp == nil || a.sdjwt == "" || a.ldpID == "" || a.sdjwtID == "" || len(creds) != 2 {
		t.Fatalf("approval did not give both formats: %s", r.body)
	}
	return a
}

// liveVerifier verifies offline but fetches status lists over loopback
// HTTP on every verification (no staleness), checking their signatures.
func liveVerifier(t *testing.T) *verifier.Verifier {
	t.Helper()
	sc, err := statusfetch.New(didmethods.NewDefaultRegistry(),
		statusfetch.WithPolicy(netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})),
		statusfetch.WithInsecureLoopback(true),
		statusfetch.WithStaleness(0))
	if err != nil {
		t.Fatal(err)
	}
	return verifier.New(verifier.WithStatusChecker(verifier.HTTPStatusChecker(sc)))
}

// wantLive fails unless res verified with its status checked.
func wantLive(t *testing.T, res *verifier.Result, what string) {
	t.Helper()
	if !res.Verified || !res.Passed(verifier.CheckStatus) {
		raw, _ := json.Marshal(res)
		t.Fatalf("%s: not verified with status: %s", what, raw)
	}
}

// wantStatusCode fails unless res failed its status check with code.
func wantStatusCode(t *testing.T, res *verifier.Result, code, what string) {
	t.Helper()
	raw, _ := json.Marshal(res)
	if res.Verified || !res.Failed(verifier.CheckStatus) {
		t.Fatalf("%s: want a %s status failure: %s", what, code, raw)
	}
	for _, p := range res.Errors {
		if p.Check == verifier.CheckStatus && p.Code == code {
			return
		}
	}
	t.Fatalf("%s: no status error with code %s: %s", what, code, raw)
}

// decodeVC decodes a JSON credential.
func decodeVC(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatalf("decode credential: %v", err)
	}
	return m
}

// challenge asks p for a challenge (optionally bound to domain).
func challenge(t *testing.T, p *process, domain string) string {
	t.Helper()
	var body any = map[string]any{}
	if domain != "" {
		body = map[string]any{"domain": domain}
	}
	r := must(t, p.call(t, "POST", "/challenges", "", body), http.StatusOK, "POST /challenges")
	c, _ := r.obj(t)["challenge"].(string)
	if len(c) < 40 {
		t.Fatalf("challenge: %s", r.body)
	}
	return c
}

// presentDI is a VC 2.0 presentation of vcs by holder (signer, its DID and
// verification method) with an authentication proof over challenge and
// domain.
func presentDI(t *testing.T, signer keys.Signer, holder, vm, challenge, domain string, vcs ...map[string]any) map[string]any {
	t.Helper()
	vp, err := signPresentation(signer, holder, vm, challenge, domain, vcs...)
	if err != nil {
		t.Fatal(err)
	}
	return vp
}

// signPresentation is presentDI without a test: it may run off the test's
// goroutine.
func signPresentation(signer keys.Signer, holder, vm, challenge, domain string, vcs ...map[string]any) (map[string]any, error) {
	list := make([]any, len(vcs))
	for i, c := range vcs {
		list[i] = c
	}
	vp := map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               holder,
		"verifiableCredential": list,
	}
	out, err := dataintegrity.Sign(context.Background(), vp, signer, dataintegrity.ProofOptions{
		VerificationMethod: vm, ProofPurpose: dataintegrity.PurposeAuthentication,
		Challenge: challenge, Domain: []string{domain}, Created: time.Now().Add(-time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("sign presentation: %w", err)
	}
	return out, nil
}

// presentSDJWT is a presentation of an SD-JWT VC disclosing every claim of
// disclose that the credential has, with a KB-JWT by signer over nonce and
// aud.
func presentSDJWT(t *testing.T, compact string, signer keys.Signer, nonce, aud string, disclose ...string) string {
	t.Helper()
	var keep []string
	for _, d := range disclose {
		if _, err := sdjwt.Present(context.Background(), compact, sdjwt.PresentOptions{Disclose: []string{d}}); err == nil {
			keep = append(keep, d)
		}
	}
	p, err := sdjwt.Present(context.Background(), compact, sdjwt.PresentOptions{Disclose: keep,
		KeyBinding: &sdjwt.KeyBinding{Signer: signer, Audience: aud, Nonce: nonce, IssuedAt: time.Now()}})
	if err != nil {
		t.Fatalf("present SD-JWT: %v", err)
	}
	return p
}

// verifyAnswer is the body of a verify endpoint's answer.
type verifyAnswer struct {
	Verified bool     `json:"verified"`
	Checks   []string `json:"checks"`
	Errors   []struct {
		Check   string `json:"check"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Agent *struct {
		ID         string `json:"id"`
		Issuer     string `json:"issuer"`
		Principal  string `json:"principal"`
		Name       string `json:"name"`
		Assurance  string `json:"assurance"`
		Delegation *struct {
			Credential string           `json:"credential"`
			Delegator  string           `json:"delegator"`
			Scopes     []map[string]any `json:"scopes"`
			Granted    []map[string]any `json:"granted"`
		} `json:"delegation"`
		Credentials []string         `json:"credentials"`
		Types       []string         `json:"types"`
		Claims      []map[string]any `json:"claims"`
	} `json:"agent"`
}

// verifyPresentation posts a presentation with challenge and domain.
func verifyPresentation(t *testing.T, p *process, vp any, challenge, domain string) (response, verifyAnswer) {
	t.Helper()
	r := p.call(t, "POST", "/presentations/verify", "", map[string]any{
		"verifiablePresentation": vp,
		"options":                map[string]any{"challenge": challenge, "domain": domain},
	})
	var out verifyAnswer
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("verify answer %d: %v: %s", r.status, err, r.body)
	}
	return r, out
}

// wantVerified fails unless the answer is 200 verified.
func wantVerified(t *testing.T, r response, out verifyAnswer, what string) {
	t.Helper()
	if r.status != http.StatusOK || !out.Verified || out.Agent == nil {
		t.Fatalf("%s: %d, want 200 verified: %s", what, r.status, r.body)
	}
}

// wantRejected fails unless the answer is 400, not verified, with an error
// of check (and code, when not empty).
func wantRejected(t *testing.T, r response, out verifyAnswer, check, code, what string) {
	t.Helper()
	if r.status != http.StatusBadRequest || out.Verified || out.Agent != nil {
		t.Fatalf("%s: %d, want 400 not verified: %s", what, r.status, r.body)
	}
	for _, e := range out.Errors {
		if e.Check == check && (code == "" || e.Code == code) {
			return
		}
	}
	t.Fatalf("%s: no %s error (code %q): %s", what, check, code, r.body)
}

// auditEvent is an event of GET /audit.
type auditEvent struct {
	Seq           int64    `json:"seq"`
	ID            string   `json:"id"`
	Agent         string   `json:"agent"`
	Principal     string   `json:"principal"`
	CredentialIDs []string `json:"credentialIds"`
	Decision      string   `json:"decision"`
	Reasons       []string `json:"reasons"`
	RequestID     string   `json:"requestId"`
	PrevHash      string   `json:"prevHash"`
	Hash          string   `json:"hash"`
}

// auditEvents reads every audit event of the default organization through
// GET /audit, page by page.
func auditEvents(t *testing.T, p *process) []auditEvent {
	t.Helper()
	var all []auditEvent
	after := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		r := must(t, p.call(t, "GET", "/audit?"+q.Encode(), adminToken, nil), http.StatusOK, "GET /audit")
		var page struct {
			Events []auditEvent `json:"events"`
			Next   *int64       `json:"next"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET /audit: %v: %s", err, r.body)
		}
		all = append(all, page.Events...)
		if page.Next == nil {
			return all
		}
		after = strconv.FormatInt(*page.Next, 10)
	}
}

// wantChain fails unless events are one chain: sequence 1..n without gaps,
// each prevHash the previous event's hash.
func wantChain(t *testing.T, events []auditEvent) {
	t.Helper()
	prev := strings.Repeat("0", 64)
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has sequence %d: gap or fork", i+1, e.Seq)
		}
		if e.PrevHash != prev || len(e.Hash) != 64 {
			t.Fatalf("event %d: prevHash %s, want %s (hash %q)", e.Seq, e.PrevHash, prev, e.Hash)
		}
		prev = e.Hash
	}
}

// tamperAudit changes the decision of audit event id directly in the
// database, as someone with write access to it would.
func tamperAudit(t *testing.T, dbURL, id, decision string) {
	t.Helper()
	var (
		db  *sql.DB
		err error
		q   string
	)
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		q = "UPDATE audit_events SET decision = ? WHERE id = ?"
	} else {
		db, err = sql.Open("pgx", dbURL)
		q = "UPDATE audit_events SET decision = $1 WHERE id = $2"
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(q, decision, id)
	if err != nil {
		t.Fatalf("tamper with audit event %s: %v", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper with audit event %s: %d rows changed", id, n)
	}
}

// identityDoc is the schemas package's AgentIdentityCredential example
// about subject, principal and a validity of a day, without issuer, id,
// validFrom or status (the issuer adds them).
func identityDoc(t *testing.T, subject, principal string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(moduleRoot, "schemas", "testdata", "agent-identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := credential.DecodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"issuer", "id", "validFrom", "credentialStatus"} {
		delete(m, k)
	}
	m["validUntil"] = time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
	subj := m["credentialSubject"].(map[string]any)
	subj["id"] = subject
	subj["principal"] = principal
	return m
}

// holder is a software-key agent for tests that need no TPM.
type holder struct {
	key *software.Key
	did string
	vm  string
}

func newHolder(t *testing.T) *holder {
	t.Helper()
	k, did, vm := testkeys.New(t, keys.P256)
	return &holder{key: k, did: did, vm: vm}
}

// vc11Doc is a VC 1.1 credential of the W3C examples (the issuer adds id,
// issuer and issuanceDate).
func vc11Doc() map[string]any {
	return map[string]any{
		"@context":          []any{credential.ContextV1, map[string]any{"@vocab": "https://example.com/vocab#"}},
		"type":              []any{"VerifiableCredential", "UniversityDegreeCredential"},
		"credentialSubject": map[string]any{"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "degree": map[string]any{"type": "BachelorDegree", "name": "Bachelor of Science and Arts"}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// anyStrings is the strings of a JSON string or array of strings.
func anyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// issuerOf is a JSON credential's issuer id.
func issuerOf(vc map[string]any) string {
	switch is := vc["issuer"].(type) {
	case string:
		return is
	case map[string]any:
		id, _ := is["id"].(string)
		return id
	}
	return ""
}

// statusListOf is the statusListCredential URL of vc's entry for purpose.
func statusListOf(t *testing.T, vc map[string]any, purpose string) string {
	t.Helper()
	var entries []any
	switch s := vc["credentialStatus"].(type) {
	case []any:
		entries = s
	case map[string]any:
		entries = []any{s}
	}
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok && m["statusPurpose"] == purpose {
			if u, _ := m["statusListCredential"].(string); u != "" {
				return u
			}
		}
	}
	t.Fatalf("no %s status entry in %v", purpose, vc["credentialStatus"])
	return ""
}

// tamperCompact changes a claim of an SD-JWT's issuer-signed JWT, keeping
// the signature.
func tamperCompact(t *testing.T, compact string) string {
	t.Helper()
	jwt, rest, _ := strings.Cut(compact, "~")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact SD-JWT: %.40s", compact)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["iat"] = time.Now().Add(-48 * time.Hour).Unix()
	parts[1] = base64.RawURLEncoding.EncodeToString(mustJSON(t, claims))
	return strings.Join(parts, ".") + "~" + rest
}

// verifiedTrue reports whether the output of `agentid vc verify` says
// "verified": true.
func verifiedTrue(t *testing.T, stdout string) bool {
	t.Helper()
	var out struct {
		Verified bool `json:"verified"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("agentid vc verify printed no JSON result: %v: %s", err, stdout)
	}
	return out.Verified
}
