package store_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
)

// Commits only append to the write-ahead log (no checkpoint inside a
// COMMIT); the background checkpointer copies the log into the database
// file while the store is open, and Close leaves an empty log.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentid.db")
	st, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// Let the migrations' pages reach the file first.
	time.Sleep(600 * time.Millisecond)
	before := size(path)
	for i := range 300 {
		org := &store.Organization{Slug: fmt.Sprintf("org-%03d", i), Name: strings.Repeat("n", 500)}
		if err := st.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size(path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 300 commits: the log was not checkpointed", size(path))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if n := size(path + "-wal"); n != 0 {
		t.Fatalf("write-ahead log is %d bytes after Close, want empty", n)
	}
	// Everything is in the database file.
	st, err = store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.OrganizationBySlug(ctx, "org-299")
	if err != nil || org.Name == "" {
		t.Fatalf("last organization after reopening: %v, %v", org, err)
	}
}

// walSalt reads the first salt from the header of a SQLite write-ahead log,
// which SQLite increments each time the log starts again from its
// beginning.
func walSalt(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		t.Fatalf("read log header: %v", err)
	}
	return binary.BigEndian.Uint32(hdr[16:20])
}

// openRestarting opens a SQLite store in a fresh file whose log restarts
// past 256 KiB, and returns it with the file's path.
func openRestarting(t *testing.T) (*store.Store, string) {
	t.Helper()
	t.Cleanup(store.SetWALRestartBytes(256 << 10))
	path := filepath.Join(t.TempDir(), "agentid.db")
	st, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// operatorEvent is the i-th test event of the operator chain, prepared.
func operatorEvent(t *testing.T, i int) *store.AuditEvent {
	t.Helper()
	ev := auditEvent("", i)
	if err := store.PrepareAuditEvent(ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// Under a steady stream of commits, with readers on the log all the while,
// the log starts again from its beginning once it has grown past its
// bound, instead of growing as long as the stream lasts; and the audit
// chain written through the restarts verifies.
func TestSQLiteLogRestartsUnderSteadyWrites(t *testing.T) {
	ctx := t.Context()
	st, path := openRestarting(t)
	appender := st.NewAuditAppender()
	if err := appender.Append(ctx, []*store.AuditEvent{operatorEvent(t, 0)}); err != nil {
		t.Fatal(err)
	}
	start := walSalt(t, path+"-wal")

	loadCtx, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for loadCtx.Err() == nil {
				if _, err := st.AuditHeads(loadCtx); err != nil && loadCtx.Err() == nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var largest int64
	n := 1
	for ; loadCtx.Err() == nil; n++ {
		if err := appender.Append(ctx, []*store.AuditEvent{operatorEvent(t, n)}); err != nil {
			t.Fatalf("append event %d: %v", n, err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	readers.Wait()

	restarts := walSalt(t, path+"-wal") - start
	t.Logf("%d events, %d log restarts, largest log %d bytes", n, restarts, largest)
	if restarts < 2 {
		t.Fatalf("the log restarted %d times in 2 s of steady writes (largest %d bytes): it grows as long as the writes go on", restarts, largest)
	}
	if r := verifyChain(t, st, ""); !r.OK || r.Events != int64(n) {
		t.Fatalf("chain after the restarts: %+v, want %d events verified", r, n)
	}
}

// A reader that keeps a read transaction open on the log (another process
// taking a backup, say) keeps the log from restarting, but never holds the
// audit appender up for long: each restart gives up after a few
// milliseconds instead of waiting out the busy timeout with the write lock
// held, and is not tried again at every checkpoint. Once the reader is
// gone, the log restarts again.
func TestSQLiteLogRestartWaitsLittleForReaders(t *testing.T) {
	ctx := t.Context()
	st, path := openRestarting(t)
	appender := st.NewAuditAppender()
	n := 0
	// appendFor appends at least once, for d, and returns the slowest
	// append and how many took 4 ms or more (as long as a restart that
	// gives up holds it).
	appendFor := func(d time.Duration) (slowest time.Duration, held int) {
		for end := time.Now().Add(d); slowest == 0 || time.Now().Before(end); n++ {
			ev := operatorEvent(t, n)
			start := time.Now()
			if err := appender.Append(ctx, []*store.AuditEvent{ev}); err != nil {
				t.Fatalf("append event %d: %v", n, err)
			}
			took := time.Since(start)
			slowest = max(slowest, took)
			if took >= 4*time.Millisecond {
				held++
			}
		}
		return slowest, held
	}
	appendFor(100 * time.Millisecond)

	// The reader: a connection of its own, as another process has, in a
	// read transaction on the log.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close() // on a failure, before other.Close; its transaction ends with it
	// A read transaction taken right after a commit has frames no
	// checkpoint has copied yet in its snapshot: it reads from the log,
	// which cannot restart under it. A checkpoint can slip in between;
	// then the log restarts during the 100 ms probe and the reader tries
	// again.
	var count int64
	pinned := false
	for range 20 {
		appendFor(0)
		if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM audit_events").Scan(&count); err != nil {
			t.Fatal(err)
		}
		before := walSalt(t, path+"-wal")
		appendFor(100 * time.Millisecond)
		if walSalt(t, path+"-wal") == before {
			pinned = true
			break
		}
		if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
	}
	if !pinned {
		t.Fatal("no read transaction held the log in 20 tries")
	}
	before := walSalt(t, path+"-wal")
	tried := store.LogRestarts(st)
	slowest, held := appendFor(1500 * time.Millisecond)
	restarts := walSalt(t, path+"-wal") - before
	tried = store.LogRestarts(st) - tried
	t.Logf("with a reader on the log: %d log restarts of %d tried, slowest append %v, %d appends of 4 ms or more", restarts, tried, slowest, held)
	if restarts != 0 {
		t.Fatalf("the log restarted %d times under the reader", restarts)
	}
	if tried == 0 {
		t.Fatal("no restart was tried while the log grew past its bound")
	}
	if slowest > time.Second {
		t.Fatalf("an append took %v: a restart waited for the reader with the write lock held", slowest)
	}
	// Each restart that gives up holds the appender for up to 5 ms. Tried
	// at every 20 ms checkpoint, that is some 75 in 1.5 s; once every
	// 250 ms, six or seven.
	if tried > 15 {
		t.Fatalf("%d restarts tried in 1.5 s: restarts that give up are tried again at every checkpoint", tried)
	}

	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	reader.Close()
	before = walSalt(t, path+"-wal")
	appendFor(time.Second)
	if restarts = walSalt(t, path+"-wal") - before; restarts == 0 {
		t.Fatal("the log did not restart once the reader was gone")
	}
	if r := verifyChain(t, st, ""); !r.OK || r.Events != int64(n) {
		t.Fatalf("chain: %+v, want %d events verified", r, n)
	}
}

// On a SQLite file, audit appends from many appenders commit on one
// connection set aside for them (so that their statements are compiled on
// it alone), while reads go on in the pool; a connection on which an append
// failed is given back and the next append takes a fresh one.
func TestSQLiteAuditAppendsKeepOneConnection(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "agentid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org := mustOrg(t, st, "acme")
	if store.AuditWriter(st) != nil {
		t.Fatal("a connection is held before the first append")
	}
	appendWith(t, st.NewAuditAppender(), org.ID, 1, 1)
	writer := store.AuditWriter(st)
	if writer == nil {
		t.Fatal("no connection held for audit appends after one")
	}

	// Four appenders and four readers.
	concurrently(t, 8, func(i int) error {
		a := st.NewAuditAppender()
		for range 25 {
			if i%2 == 0 {
				batch, err := prepare(org.ID, 0, 2)
				if err != nil {
					return err
				}
				if err := a.Append(ctx, batch); err != nil {
					return err
				}
			} else if _, err := st.ListAuditEvents(ctx, store.AuditFilter{OrganizationID: org.ID, Limit: 5}); err != nil {
				return err
			}
		}
		return nil
	})
	if w := store.AuditWriter(st); w != writer {
		t.Fatal("concurrent appends moved to another connection")
	}

	dup := prepared(t, org.ID, 1, 2)
	dup[1].ID = dup[0].ID
	if err := st.NewAuditAppender().Append(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("append with a duplicate id: %v", err)
	}
	if store.AuditWriter(st) != nil {
		t.Fatal("the connection of a failed append is still held")
	}
	appendWith(t, st.NewAuditAppender(), org.ID, 202, 1)
	if w := store.AuditWriter(st); w == nil || w == writer {
		t.Fatalf("after a failure: connection %p, before %p; want a fresh one", w, writer)
	}
	if r := verifyChain(t, st, org.ID); !r.OK || r.HeadSeq != 202 {
		t.Fatalf("chain: %+v %+v", r, r.Broken)
	}
}

// With the pool capped at one connection, audit appends keep none aside:
// reads after an append still get the connection.
func TestSQLiteAuditAppendsWithOneConnection(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "agentid.db"), store.WithMaxOpenConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org := mustOrg(t, st, "acme")
	appendWith(t, st.NewAuditAppender(), org.ID, 1, 3)
	if store.AuditWriter(st) != nil {
		t.Fatal("the only connection is held for audit appends")
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	events, err := st.ListAuditEvents(rctx, store.AuditFilter{OrganizationID: org.ID})
	if err != nil || len(events) != 3 {
		t.Fatalf("read after the append: %d events, %v", len(events), err)
	}
}
