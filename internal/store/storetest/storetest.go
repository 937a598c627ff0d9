// Package storetest gives tests a fresh, migrated store.Store on a real
// database: a SQLite file in the test's temporary directory, or a PostgreSQL
// schema of its own that is dropped when the test ends.
//
// PostgreSQL tests run when the environment variable AGENTID_TEST_POSTGRES
// holds a connection URL, for example
//
//	AGENTID_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
//
// and are skipped otherwise. Each test gets its own schema (search_path), so
// tests, and test binaries of different packages, can run in parallel on one
// database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentid/agentid/internal/store"
)

// EnvPostgres names the environment variable with the PostgreSQL URL.
const EnvPostgres = "AGENTID_TEST_POSTGRES"

// ForEach runs fn as the sub-tests "sqlite" and "postgres", each with a fresh
// store. The PostgreSQL sub-test is skipped when EnvPostgres is unset.
func ForEach(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	ForEachURL(t, func(t *testing.T, dbURL string) {
		t.Helper()
		fn(t, open(t, dbURL))
	})
}

// ForEachURL runs fn as the sub-tests "sqlite" and "postgres", each with the
// URL of a fresh, empty database (nothing migrated yet), for tests that open
// the database themselves, possibly several times. The PostgreSQL sub-test is
// skipped when EnvPostgres is unset.
func ForEachURL(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run(store.DriverSQLite, func(t *testing.T) {
		t.Helper()
		fn(t, SQLiteURL(t))
	})
	t.Run(store.DriverPostgres, func(t *testing.T) {
		t.Helper()
		fn(t, PostgresURL(t))
	})
}

// SQLite returns a fresh store on a SQLite file in t.TempDir(), closed when
// the test ends.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	return open(t, SQLiteURL(t))
}

// Postgres returns a fresh store on a PostgreSQL schema of its own, closed and
// dropped when the test ends. It skips the test when EnvPostgres is unset.
func Postgres(t testing.TB) *store.Store {
	t.Helper()
	return open(t, PostgresURL(t))
}

// ByDriver returns SQLite(t) or Postgres(t) for store.DriverSQLite or
// store.DriverPostgres.
func ByDriver(t testing.TB, driver string) *store.Store {
	t.Helper()
	switch driver {
	case store.DriverSQLite:
		return SQLite(t)
	case store.DriverPostgres:
		return Postgres(t)
	}
	t.Fatalf("storetest: unknown driver %q", driver)
	return nil
}

// ProcessCPU is the user and system CPU time the process has used, for
// benchmarks that report CPU per operation (the database server's own CPU,
// for PostgreSQL, is not in it).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SQLiteURL returns the URL of a SQLite file (not yet created) in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "agentid.db")
}

// PostgresURL creates an empty schema on the PostgreSQL server named by
// EnvPostgres and returns a URL whose search_path is that schema. The schema
// is dropped, with everything in it, when the test ends. It skips the test
// when EnvPostgres is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to run them, e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'", EnvPostgres, EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, base, schema) })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func dropSchema(t testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// open opens and migrates the store at dbURL and closes it when the test
// ends (before the schema, if any, is dropped).
func open(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A benchmark prints what it logs, so its migrations are not logged.
	var log *slog.Logger
	if _, bench := t.(*testing.B); bench {
		log = slog.New(slog.DiscardHandler)
	} else {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	s, err := store.Open(ctx, dbURL, store.WithLogger(log))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}
