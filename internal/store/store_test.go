package store_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/internal/store/storetest"
)

// forEachDB runs fn on a fresh SQLite store and a fresh PostgreSQL store (the
// latter skipped unless AGENTID_TEST_POSTGRES is set).
func forEachDB(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	storetest.ForEach(t, fn)
}

// openQuiet opens dbURL with the store's log going to the test's output.
func openQuiet(t *testing.T, dbURL string) (*store.Store, error) {
	return store.Open(t.Context(), dbURL, store.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
}

// twoHandles opens dbURL twice, as two server processes would; both are
// closed when the test ends.
func twoHandles(t *testing.T, dbURL string) (*store.Store, *store.Store) {
	t.Helper()
	var out [2]*store.Store
	for i := range out {
		s, err := openQuiet(t, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func TestOpenMigratesToLatest(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		if got, want := s.Driver(), t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]; got != want {
			t.Errorf("Driver() = %q, want %q", got, want)
		}
		if store.LatestSchemaVersion() != store.NumMigrations {
			t.Fatalf("LatestSchemaVersion() = %d, but there are %d migrations", store.LatestSchemaVersion(), store.NumMigrations)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != store.NumMigrations {
			t.Errorf("SchemaVersion() = %d, want %d", v, store.NumMigrations)
		}
		n, err := store.MigrationRows(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(store.NumMigrations) {
			t.Errorf("schema_migrations has %d rows, want %d", n, store.NumMigrations)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

func TestReopenAppliesNothingAndKeepsData(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		s1, err := openQuiet(t, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		org := &store.Organization{Slug: "acme", Name: "Acme"}
		if err := s1.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
		applied1, err := store.QueryString(ctx, s1, "SELECT CAST(applied_at AS TEXT) FROM schema_migrations WHERE version = 1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}

		s2, err := openQuiet(t, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		v, err := s2.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := store.MigrationRows(ctx, s2)
		if err != nil {
			t.Fatal(err)
		}
		if v != store.NumMigrations || n != int64(store.NumMigrations) {
			t.Errorf("after reopening: version %d with %d rows, want %d and %d", v, n, store.NumMigrations, store.NumMigrations)
		}
		applied2, err := store.QueryString(ctx, s2, "SELECT CAST(applied_at AS TEXT) FROM schema_migrations WHERE version = 1")
		if err != nil {
			t.Fatal(err)
		}
		if applied1 != applied2 {
			t.Errorf("migration 1 applied_at changed from %s to %s: it ran again", applied1, applied2)
		}
		got, err := s2.OrganizationBySlug(ctx, "acme")
		if err != nil {
			t.Fatalf("organization lost on reopen: %v", err)
		}
		if got.ID != org.ID || got.Name != "Acme" {
			t.Errorf("organization after reopen = %+v, want %+v", got, org)
		}
	})
}

func TestConcurrentOpen(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, dbURL string) {
		ctx := t.Context()
		const n = 8
		stores := make([]*store.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = openQuiet(t, dbURL)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
			}
		}
		for _, s := range stores {
			if s != nil {
				defer s.Close()
			}
		}
		if t.Failed() {
			return
		}
		rows, err := store.MigrationRows(ctx, stores[0])
		if err != nil {
			t.Fatal(err)
		}
		if rows != int64(store.NumMigrations) {
			t.Errorf("schema_migrations has %d rows after %d concurrent opens, want %d", rows, n, store.NumMigrations)
		}
		for i, s := range stores {
			v, err := s.SchemaVersion(ctx)
			if err != nil || v != store.NumMigrations {
				t.Errorf("store #%d: SchemaVersion() = %d, %v; want %d", i, v, err, store.NumMigrations)
			}
		}
	})
}

func TestPostgresTablesInOwnSchema(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := t.Context()
	schema, err := store.QueryString(ctx, s, "SELECT current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "test_") {
		t.Fatalf("current_schema() = %q, want a test_ schema", schema)
	}
	where, err := store.QueryString(ctx, s, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'organizations' AND table_schema = current_schema()")
	if err != nil {
		t.Fatalf("organizations table not in schema %s: %v", schema, err)
	}
	if where != schema {
		t.Errorf("organizations is in schema %q, want %q", where, schema)
	}
}

func TestOpenSQLiteFileSetup(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "agentid.db")
	s, err := openQuiet(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Driver() != store.DriverSQLite {
		t.Errorf("Driver() = %q for a bare path", s.Driver())
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", p, got, want)
		}
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000",
		"temp_store": "2", "journal_size_limit": "67108864", "wal_autocheckpoint": "0",
	} {
		got, err := store.QueryString(ctx, s, "PRAGMA "+pragma)
		if err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenURLForms(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, u := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"), // sqlite:///abs/path
		filepath.Join(dir, "c.db"),
		"sqlite::memory:",
	} {
		s, err := openQuiet(t, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if err := s.CreateOrganization(ctx, &store.Organization{Slug: "x"}); err != nil {
			t.Errorf("Open(%q): CreateOrganization: %v", u, err)
		}
		if _, err := s.OrganizationBySlug(ctx, "x"); err != nil {
			t.Errorf("Open(%q): OrganizationBySlug: %v", u, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Open(%q): Close: %v", u, err)
		}
	}
	for _, f := range []string{"a.db", "b.db", "c.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("database file %s not created: %v", f, err)
		}
	}
	for _, u := range []string{"mysql://localhost/db", "sqlite:", filepath.Join(dir, "d.db?x=1")} {
		if s, err := openQuiet(t, u); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
		}
	}
}

func TestTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		boom := errors.New("boom")
		err := s.Transaction(ctx, func(tx *store.Store) error {
			if err := tx.CreateOrganization(ctx, &store.Organization{Slug: "rolled-back"}); err != nil {
				return err
			}
			if _, err := tx.OrganizationBySlug(ctx, "rolled-back"); err != nil {
				t.Errorf("row not visible inside its own transaction: %v", err)
			}
			return boom
		})
		wantErr(t, err, boom)
		_, err = s.OrganizationBySlug(ctx, "rolled-back")
		wantErr(t, err, store.ErrNotFound)

		// A failed statement (here a conflict) rolls back the earlier writes
		// of the same transaction.
		if err := s.CreateOrganization(ctx, &store.Organization{Slug: "taken"}); err != nil {
			t.Fatal(err)
		}
		err = s.Transaction(ctx, func(tx *store.Store) error {
			if err := tx.CreateOrganization(ctx, &store.Organization{Slug: "first"}); err != nil {
				return err
			}
			return tx.CreateOrganization(ctx, &store.Organization{Slug: "taken"})
		})
		wantErr(t, err, store.ErrConflict)
		_, err = s.OrganizationBySlug(ctx, "first")
		wantErr(t, err, store.ErrNotFound)

		err = s.Transaction(ctx, func(tx *store.Store) error {
			if err := tx.Close(); err == nil {
				t.Error("Close inside a transaction succeeded")
			}
			return tx.CreateOrganization(ctx, &store.Organization{Slug: "committed"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.OrganizationBySlug(ctx, "committed"); err != nil {
			t.Errorf("committed row missing: %v", err)
		}
	})
}

// TestMemoryDatabaseAppendsAudit appends audit events and reads a
// challenge on an in-memory SQLite database, whose pool holds one
// connection: nothing on those paths may wait for a second one.
func TestMemoryDatabaseAppendsAudit(t *testing.T) {
	s, err := openQuiet(t, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		a := s.NewAuditAppender()
		for i := range 3 {
			ev := auditEvent("", i)
			if err := store.PrepareAuditEvent(ev); err != nil {
				done <- err
				return
			}
			if err := a.Append(t.Context(), []*store.AuditEvent{ev}); err != nil {
				done <- err
				return
			}
		}
		_, err := s.ChallengeByID(t.Context(), store.ChallengeID("none"))
		if !errors.Is(err, store.ErrNotFound) {
			done <- fmt.Errorf("challenge: %v, want ErrNotFound", err)
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("appending on an in-memory database hangs")
	}
}
