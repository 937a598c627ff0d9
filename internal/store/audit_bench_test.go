package store_test

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// BenchmarkAppendAudit appends groups of events to one chain from parallel
// appenders (each with a store.AuditAppender of its own, as replicas have,
// all on one handle; with several, their remembered heads go stale), on a SQLite file and, when AGENTID_TEST_POSTGRES is
// set, on PostgreSQL. One op is one group; it reports the process CPU per
// event (PostgreSQL's own CPU is not in it) and events per second.
func BenchmarkAppendAudit(b *testing.B) {
	for _, db := range []string{store.DriverSQLite, store.DriverPostgres} {
		b.Run(db, func(b *testing.B) {
			for _, size := range []int{1, 16, 128} {
				for _, appenders := range []int{1, 4} {
					b.Run(fmt.Sprintf("group=%d/appenders=%d", size, appenders), func(b *testing.B) {
						benchmarkAppendAudit(b, db, size, appenders)
					})
				}
			}
		})
	}
}

func benchmarkAppendAudit(b *testing.B, db string, size, appenders int) {
	var dbURL string
	switch db {
	case store.DriverSQLite:
		dbURL = storetest.SQLiteURL(b)
	default:
		if os.Getenv(storetest.EnvPostgres) == "" {
			b.Skip(storetest.EnvPostgres + " is not set")
		}
		dbURL = storetest.PostgresURL(b)
	}
	s, err := store.Open(b.Context(), dbURL, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	org := &store.Organization{Slug: "acme", Name: "Acme"}
	if err := s.CreateOrganization(b.Context(), org); err != nil {
		b.Fatal(err)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0 := processCPU()
	start := time.Now()
	b.ResetTimer()
	for range appenders {
		wg.Go(func() {
			a := s.NewAuditAppender()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				batch, err := prepare(org.ID, int(i)*size, size)
				if err != nil {
					b.Error(err)
					return
				}
				if err := a.Append(b.Context(), batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	events := float64(b.N * size)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/events, "cpu-µs/event")
	b.ReportMetric(events/time.Since(start).Seconds(), "events/s")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
