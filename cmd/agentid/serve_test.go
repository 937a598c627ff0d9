package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// agentidBinary builds the command once per test run (without cgo, as
// released) and returns its path.
func agentidBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agentid-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "agentid")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// serverProc is a running `agentid serve`.
type serverProc struct {
	cmd  *exec.Cmd
	url  string
	logs *strings.Builder
	done chan error
	addr chan string
	mu   sync.Mutex
}

// startServe runs `agentid serve` on a free loopback port and waits until it
// listens.
func startServe(t *testing.T, env []string, args ...string) *serverProc {
	t.Helper()
	p := launchServe(t, env, args...)
	p.waitListening(t)
	return p
}

// launchServe starts `agentid serve` without waiting for it.
func launchServe(t *testing.T, env []string, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(agentidBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, logs: &strings.Builder{}, done: make(chan error, 1), addr: make(chan string, 1)}
	addr := p.addr
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				addr <- rec["addr"].(string)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// waitListening waits until the server logs that it listens.
func (p *serverProc) waitListening(t *testing.T) {
	t.Helper()
	select {
	case a := <-p.addr:
		p.url = "http://" + a
	case err := <-p.done:
		t.Fatalf("agentid serve exited: %v\n%s", err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("agentid serve did not start\n%s", p.log())
	}
}

func (p *serverProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends SIGTERM and returns the exit code.
func (p *serverProc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("agentid serve did not stop on SIGTERM\n%s", p.log())
	}
	return p.cmd.ProcessState.ExitCode()
}

func getJSON(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

func TestServeFirstStartAndRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"AGENTID_ADMIN_TOKEN=", "AGENTID_KEK=", "AGENTID_DATABASE="}
	p := startServe(t, env, "--data", data)

	tokenFile := filepath.Join(data, "admin-token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatalf("no admin token file: %v\n%s", err, p.log())
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file mode %v", st.Mode().Perm())
	}
	if !strings.Contains(p.log(), tokenFile) {
		t.Error("the token file's path was not printed")
	}
	raw, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(raw))
	if strings.Contains(p.log(), token) {
		t.Fatal("the admin token was logged")
	}
	if kst, err := os.Stat(filepath.Join(data, "kek")); err != nil || kst.Mode().Perm() != 0o600 {
		t.Fatalf("key-encryption key file: %v", err)
	}

	if code, m := getJSON(t, p.url+"/healthz", ""); code != 200 || m["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, m)
	}
	if code, m := getJSON(t, p.url+"/readyz", ""); code != 200 || m["database"] != "sqlite" {
		t.Fatalf("readyz %d %v", code, m)
	}
	code, org := getJSON(t, p.url+"/admin/organization", token)
	if code != 200 || org["slug"] != "default" {
		t.Fatalf("admin organization %d %v", code, org)
	}
	ids := org["issuerIdentities"].([]any)
	var dids []string
	suites := map[string]string{}
	for _, v := range ids {
		m := v.(map[string]any)
		dids = append(dids, m["did"].(string))
		suites[m["cryptosuite"].(string)] = m["did"].(string)
	}
	if !strings.HasPrefix(suites["eddsa-rdfc-2022"], "did:key:z6Mk") || !strings.HasPrefix(suites["ecdsa-rdfc-2019"], "did:key:zDn") {
		t.Fatalf("issuer identities %v", ids)
	}
	// Anyone can resolve the issuer's DIDs, offline.
	for _, did := range dids {
		if code, m := getJSON(t, p.url+"/1.0/identifiers/"+did, ""); code != 200 || m["didDocument"].(map[string]any)["id"] != did {
			t.Fatalf("resolve issuer DID %s: %d %v", did, code, m)
		}
	}
	// No private key material in the database file in the clear: the
	// database holds only encrypted blobs (checked in the keys tests); here
	// check the logs hold no JWK "d".
	if strings.Contains(p.log(), `"d":`) {
		t.Fatal("private key material in the logs")
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.log())
	}

	// A restart keeps the organization, its identities and the token, and
	// writes no new token.
	p = startServe(t, env, "--data", data)
	if again, _ := os.ReadFile(tokenFile); string(again) != string(raw) {
		t.Fatal("admin token file rewritten on restart")
	}
	code, org2 := getJSON(t, p.url+"/admin/organization", token)
	if code != 200 || org2["id"] != org["id"] || len(org2["issuerIdentities"].([]any)) != 2 {
		t.Fatalf("after restart: %d %v", code, org2)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

func TestServeAdminTokenFromEnvironment(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	token := "automation-token-0123456789abcdef"
	p := startServe(t, []string{"AGENTID_ADMIN_TOKEN=" + token, "AGENTID_KEK=", "AGENTID_DATABASE="}, "--data", data)
	defer p.stop(t)
	if _, err := os.Stat(filepath.Join(data, "admin-token")); !os.IsNotExist(err) {
		t.Fatalf("a token file was written although AGENTID_ADMIN_TOKEN was set: %v", err)
	}
	if code, _ := getJSON(t, p.url+"/admin/organization", token); code != 200 {
		t.Fatalf("env token refused: %d", code)
	}
	if code, _ := getJSON(t, p.url+"/admin/organization", token+"x"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
}

// TestServeTwoProcessesOnOnePostgres starts two servers on one fresh
// PostgreSQL schema at once: exactly one bootstraps, and both serve the same
// organization.
func TestServeTwoProcessesOnOnePostgres(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	token := "shared-automation-token-0123456789"
	kek := "AGENTID_KEK=" + strings.Repeat("A", 43) + "="
	env := []string{"AGENTID_ADMIN_TOKEN=" + token, kek, "AGENTID_DATABASE=" + dbURL}
	var procs [2]*serverProc
	for i := range procs {
		procs[i] = launchServe(t, env, "--data", filepath.Join(t.TempDir(), "data"))
	}
	for _, p := range procs {
		p.waitListening(t)
	}
	var ids [2]any
	for i, p := range procs {
		code, org := getJSON(t, p.url+"/admin/organization", token)
		if code != 200 {
			t.Fatalf("server %d: %d %v\n%s", i, code, org, p.log())
		}
		if code, m := getJSON(t, p.url+"/readyz", ""); code != 200 || m["database"] != "postgres" {
			t.Fatalf("readyz %d %v", code, m)
		}
		ids[i] = org["issuerIdentities"]
	}
	if fmt.Sprint(ids[0]) != fmt.Sprint(ids[1]) || len(ids[0].([]any)) != 2 {
		t.Fatalf("servers disagree on the default organization: %v vs %v", ids[0], ids[1])
	}
	for _, p := range procs {
		if code := p.stop(t); code != 0 {
			t.Fatalf("exit %d", code)
		}
	}
}
