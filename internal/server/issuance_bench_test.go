package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentid/agentid/credential"
	"github.com/agentid/agentid/credential/statuslist"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/issuer"
)

// Benchmarks of the issuer over HTTP: a real server on loopback, a real
// database, keep-alive clients posting in parallel.
//
//	go test -run '^$' -bench 'HTTP' -benchtime 3000x ./internal/server/
//
// Besides ns/op they report issued/s (or changes/s), the process's CPU time
// per operation (cpu-µs/op: server and client together; on an idle machine
// with C cores the throughput ceiling is about C·10⁶/cpu-µs/op) and the
// machine's load average when the run ended (load1), since a busy machine
// skews every figure.

const benchToken = "tok_bench_0123456789abcdef"

// benchServer is a server with an issuer over st on loopback.
type benchServer struct {
	url    string
	client *http.Client
	st     *store.Store
	org    string
}

func newBenchServer(b *testing.B, st *store.Store) *benchServer {
	b.Helper()
	ctx := context.Background()
	km, boot := bootstrapKeys(b, st, benchToken)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	iss, err := issuer.New(issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(base),
		issuer.WithLogger(discardLogger()), issuer.WithStatusListMaxAge(0))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(WithStore(st), WithLogger(discardLogger()), WithIssuer(iss), WithPublicURL(base))
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	bs := &benchServer{url: base, st: st, org: boot.Organization.ID,
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256}}}
	b.Cleanup(func() {
		bs.client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	return bs
}

// post sends body (JSON) with the admin token and returns status and body.
func (s *benchServer) post(path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// issue issues one credential of body and returns the verifiable
// credential's JSON.
func (s *benchServer) issue(body []byte) (json.RawMessage, error) {
	code, raw, err := s.post("/credentials/issue", body)
	if err != nil {
		return nil, err
	}
	if code != http.StatusCreated {
		return nil, fmt.Errorf("issue: %d %s", code, raw)
	}
	var out struct {
		VC json.RawMessage `json:"verifiableCredential"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out.VC, nil
}

func (s *benchServer) setStatus(id, status string) error {
	body, _ := json.Marshal(map[string]any{"credentialId": id,
		"credentialStatus": []any{map[string]any{"type": "BitstringStatusListCredential", "status": status}}})
	code, raw, err := s.post("/credentials/status", body)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", status, id, code, raw)
	}
	return nil
}

// benchUsage measures CPU time and reports it with the load average.
type benchUsage struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startUsage() benchUsage { return benchUsage{start: cpuTime()} }

func (u benchUsage) report(b *testing.B, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(float64((cpuTime()-u.start).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(loadAverage(), "load1")
}

// loadAverage is the machine's 1-minute load average (0 when unknown).
func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	return f
}

// benchStores runs fn on a fresh SQLite store and, when configured, a fresh
// PostgreSQL one.
func benchStores(b *testing.B, fn func(b *testing.B, st *store.Store)) {
	b.Run(store.DriverSQLite, func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	b.Run(store.DriverPostgres, func(b *testing.B) { fn(b, storetest.Postgres(b)) })
}

// issueFormats are the issuance requests benchmarked: options of each
// format and cryptosuite.
var issueFormats = []struct {
	name    string
	options map[string]any
}{
	{"eddsa-rdfc-2022", nil},
	{"ecdsa-rdfc-2019", map[string]any{"cryptosuite": "ecdsa-rdfc-2019"}},
	{"dc+sd-jwt", map[string]any{"format": "dc+sd-jwt"}},
}

// BenchmarkIssueHTTP measures POST /credentials/issue: credentials issued
// per second, each with its status entries and committed before the
// answer, by 32 keep-alive clients in parallel.
func BenchmarkIssueHTTP(b *testing.B) {
	for _, f := range issueFormats {
		b.Run(f.name, func(b *testing.B) {
			benchStores(b, func(b *testing.B, st *store.Store) {
				s := newBenchServer(b, st)
				req := map[string]any{"credential": identityDoc(b)}
				if f.options != nil {
					req["options"] = f.options
				}
				body, _ := json.Marshal(req)
				if _, err := s.issue(body); err != nil { // warm up: lists, keys
					b.Fatal(err)
				}
				b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
				u := startUsage()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.issue(body); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				u.report(b, "issued/s")
			})
		})
	}
}

// BenchmarkStatusChangeHTTP measures POST /credentials/status by an admin:
// suspensions and reinstatements per second, each durable (and the list's
// version moved on) before the answer, by 16 clients in parallel, each on
// credentials of its own.
func BenchmarkStatusChangeHTTP(b *testing.B) {
	benchStores(b, func(b *testing.B, st *store.Store) {
		s := newBenchServer(b, st)
		body, _ := json.Marshal(map[string]any{"credential": identityDoc(b)})
		const pool = 256
		ids := make([]string, pool)
		for i := range ids {
			vc, err := s.issue(body)
			if err != nil {
				b.Fatal(err)
			}
			var c struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(vc, &c); err != nil {
				b.Fatal(err)
			}
			ids[i] = c.ID
		}
		var next atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		u := startUsage()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine takes credentials of its own and alternates
			// suspending and reinstating them.
			var mine []string
			for i := next.Add(1) - 1; i < pool; i += 16 {
				mine = append(mine, ids[i])
			}
			if len(mine) == 0 {
				b.Error("more goroutines than credentials")
				return
			}
			n := 0
			for pb.Next() {
				id := mine[(n/2)%len(mine)]
				status := "suspended"
				if n%2 == 1 {
					status = "active"
				}
				if err := s.setStatus(id, status); err != nil {
					b.Error(err)
					return
				}
				n++
			}
		})
		b.StopTimer()
		u.report(b, "changes/s")
	})
}

// BenchmarkRevocationVisibleHTTP measures the time from a revocation call
// returning to GET /status/{list} showing it: revoke, then at once GET the
// list, decode it and read the credential's bit (repeating the GET until it
// is set, which it is on the first, since the change and the list's new
// version commit before the answer). It reports the median and 99th
// percentile of that time, and fails if a first GET missed the change.
func BenchmarkRevocationVisibleHTTP(b *testing.B) {
	benchStores(b, func(b *testing.B, st *store.Store) {
		s := newBenchServer(b, st)
		body, _ := json.Marshal(map[string]any{"credential": identityDoc(b)})
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			b.StopTimer()
			vc, err := s.issue(body)
			if err != nil {
				b.Fatal(err)
			}
			id, list, idx := revocationEntry(b, vc)
			b.StartTimer()
			if err := s.setStatus(id, "revoked"); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for try := 0; ; try++ {
				if revokedInList(b, s, list, idx) {
					break
				}
				if try == 0 {
					b.Errorf("revocation of %s not shown by the first GET %s", id, list)
				}
				if try == 100 {
					b.Fatalf("revocation of %s not shown after 100 GETs", id)
				}
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(loadAverage(), "load1")
	})
}

// revocationEntry returns the credential's id and its revocation entry's
// list URL and index.
func revocationEntry(b *testing.B, vc json.RawMessage) (string, string, int) {
	b.Helper()
	var c struct {
		ID     string `json:"id"`
		Status []struct {
			Purpose string `json:"statusPurpose"`
			List    string `json:"statusListCredential"`
			Index   string `json:"statusListIndex"`
		} `json:"credentialStatus"`
	}
	if err := json.Unmarshal(vc, &c); err != nil {
		b.Fatal(err)
	}
	for _, e := range c.Status {
		if e.Purpose == statuslist.PurposeRevocation {
			idx, err := strconv.Atoi(e.Index)
			if err != nil {
				b.Fatal(err)
			}
			return c.ID, e.List, idx
		}
	}
	b.Fatalf("no revocation entry in %s", vc)
	return "", "", 0
}

// revokedInList fetches the status list credential at list and reads the
// bit at idx.
func revokedInList(b *testing.B, s *benchServer, list string, idx int) bool {
	b.Helper()
	resp, err := s.client.Get(list)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v %s", list, resp.StatusCode, err, raw)
	}
	doc, err := credential.DecodeObject(raw)
	if err != nil {
		b.Fatal(err)
	}
	subj, err := statuslist.SubjectOf(doc)
	if err != nil {
		b.Fatal(err)
	}
	bits, err := statuslist.Decode(subj.EncodedList, 1)
	if err != nil {
		b.Fatal(err)
	}
	v, err := bits.Get(idx)
	if err != nil {
		b.Fatal(err)
	}
	return v == 1
}
