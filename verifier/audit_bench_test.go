package verifier_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
	"github.com/agentid/agentid/verifier"
)

// BenchmarkAuditRecord records events through one AuditLog from many
// goroutines, as concurrent verifications do, on a SQLite file and (when
// AGENTID_TEST_POSTGRES is set) on PostgreSQL. Besides ns/op (wall time per
// event at that concurrency) it reports the process CPU per event
// (cpu-µs/event; PostgreSQL's own CPU is not in it) and the 50th and 99th
// percentile latency of Record.
//
// goroutines=1 is the latency of an idle log (one commit per event);
// higher counts show the group commit at saturation.
func BenchmarkAuditRecord(b *testing.B) {
	for _, db := range []string{store.DriverSQLite, store.DriverPostgres} {
		b.Run(db, func(b *testing.B) {
			for _, g := range []int{1, 8, 64} {
				for _, linger := range []time.Duration{0, 500 * time.Microsecond} {
					b.Run(fmt.Sprintf("goroutines=%d/linger=%v", g, linger), func(b *testing.B) {
						log := benchAuditLog(b, db, verifier.WithAuditLinger(linger))
						benchmarkAuditRecord(b, log, g)
					})
				}
			}
		})
	}
}

// benchEvent is the event the benchmarks record.
var benchEvent = verifier.Event{
	RelyingParty:  "https://erp.example.com",
	Agent:         "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
	Principal:     "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH",
	CredentialIDs: []string{"urn:uuid:6a4d5c2e-0f6b-4d8e-9f57-0d1c2b3a4e5f"},
	Action:        "invoices:pay",
	Resource:      "https://erp.example.com/api/invoices/42",
	Decision:      verifier.DecisionVerified,
	RequestID:     "0f3c6a1e-8d2b-4a7c-9e5f-1b2c3d4e5f60",
}

// benchAuditLog returns an audit log on a fresh database of the driver db,
// warmed up, and the organization its events belong to in benchEvent.
func benchAuditLog(b *testing.B, db string, opts ...verifier.AuditOption) *verifier.AuditLog {
	st := storetest.ByDriver(b, db)
	org := &store.Organization{Slug: "acme", Name: "Acme"}
	if err := st.CreateOrganization(b.Context(), org); err != nil {
		b.Fatal(err)
	}
	log, err := verifier.NewAuditLog(st, opts...)
	if err != nil {
		b.Fatal(err)
	}
	benchEvent.OrganizationID = org.ID
	// Warm up: pools, prepared statements, the chain head.
	for range 10 {
		if _, err := log.Record(b.Context(), benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	return log
}

func benchmarkAuditRecord(b *testing.B, log *verifier.AuditLog, goroutines int) {
	ev := benchEvent

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		wg        sync.WaitGroup
		next      = make(chan struct{}, b.N)
		errOnce   sync.Once
		firstErr  error
	)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	cpu0 := storetest.ProcessCPU()
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/goroutines+1)
			for range next {
				start := time.Now()
				if _, err := log.Expect().Record(b.Context(), ev); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := storetest.ProcessCPU() - cpu0
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds())
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkAuditRecordPaced records events at a fixed rate (open loop), each
// after a verification's worth of CPU work (busy), as a server under steady
// load does: it reports the latency of Record (p50, p99), which includes
// any linger, and the process CPU per event, at rates well below and near
// what the two cores can verify.
func BenchmarkAuditRecordPaced(b *testing.B) {
	busy := benchBusy
	for _, db := range []string{store.DriverSQLite, store.DriverPostgres} {
		b.Run(db, func(b *testing.B) {
			for _, rate := range []int{250, 1000, 2500} {
				for _, linger := range []time.Duration{0, 500 * time.Microsecond} {
					b.Run(fmt.Sprintf("rate=%d/linger=%v", rate, linger), func(b *testing.B) {
						log := benchAuditLog(b, db, verifier.WithAuditLinger(linger))
						benchmarkAuditRecordPaced(b, log, rate, busy)
					})
				}
			}
		})
	}
}

func benchmarkAuditRecordPaced(b *testing.B, log *verifier.AuditLog, rate int, busy time.Duration) {
	ev := benchEvent
	interval := time.Second / time.Duration(rate)
	latencies := make([]time.Duration, b.N)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	cpu0 := storetest.ProcessCPU()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			// The verification begins: its event is on its way.
			expected := log.Expect()
			spin(busy)
			t := time.Now()
			if _, err := expected.Record(b.Context(), ev); err != nil {
				errOnce.Do(func() { firstErr = err })
			}
			latencies[i] = time.Since(t)
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := storetest.ProcessCPU() - cpu0
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds())
	}
	b.ReportMetric(float64((cpu-time.Duration(b.N)*busy).Microseconds())/float64(b.N), "cpu-µs/event")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// spin burns about d of CPU time.
func spin(d time.Duration) {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 100 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spinSink.Add(x)
}

var spinSink atomic.Uint64

// benchBusy is the CPU work of one verification in BenchmarkAuditRecordPaced.
var benchBusy = 300 * time.Microsecond

func init() {
	if v := os.Getenv("AGENTID_BENCH_BUSY"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			benchBusy = d
		}
	}
}
