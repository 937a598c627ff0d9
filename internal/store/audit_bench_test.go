package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
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
	s := storetest.ByDriver(b, db)
	org := &store.Organization{Slug: "acme", Name: "Acme"}
	if err := s.CreateOrganization(b.Context(), org); err != nil {
		b.Fatal(err)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0 := storetest.ProcessCPU()
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
	b.ReportMetric(float64((storetest.ProcessCPU()-cpu0).Microseconds())/events, "cpu-µs/event")
	b.ReportMetric(events/time.Since(start).Seconds(), "events/s")
}
