// Package store is agentid's persistence layer: the gorm models, the
// versioned schema migrations and the repository methods that the issuer,
// verifier and server packages call. It is the only package in agentid that
// imports gorm.
//
// Two databases are supported. SQLite (the pure-Go modernc.org/sqlite
// driver, no cgo, through the github.com/libtnb/sqlite gorm dialector) is
// the embedded default for a single process; PostgreSQL
// (gorm.io/driver/postgres on pgx) serves many replicas. Every query here is
// written to behave the same on both, and the tests run on both.
//
// Errors are wrapped with context. Callers test them with errors.Is against
// ErrNotFound, ErrConflict and ErrReference; the underlying driver error stays
// in the chain for logs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite "github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Driver names returned by Store.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DefaultSQLitePath is the SQLite file Open uses when it is given an empty
// URL. It matches the default data directory of `agentid serve`; callers with
// another data directory pass "sqlite:" + their path instead.
const DefaultSQLitePath = "agentid-data/agentid.db"

// sqliteBusyTimeout is how long a SQLite connection waits for another writer
// before giving up with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// sqliteMaxIdleConns is how many idle SQLite connections are kept for
// reuse.
const sqliteMaxIdleConns = 32

// postgresMaxIdleConns is how many idle PostgreSQL connections are kept
// for reuse: a new one costs the server a backend process and the client
// a handshake.
const postgresMaxIdleConns = 32

// Store is a handle on the agentid database. It is safe for concurrent use.
// A Store handed to the function of Transaction runs every call inside that
// transaction.
type Store struct {
	db     *gorm.DB
	driver string
	log    *slog.Logger
	// root is true for the Store that Open returned, false for the
	// transaction-scoped Stores that Transaction hands out.
	root bool
	// checkpointer checkpoints a SQLite file database's write-ahead log
	// (nil otherwise).
	checkpointer *walCheckpointer
	// auditWriter runs a SQLite file database's audit appends (nil
	// otherwise).
	auditWriter *sqliteAuditWriter
	// stmts holds the SQLite statements run outside gorm prepared (nil on
	// PostgreSQL and on transaction-scoped Stores).
	stmts *stmtCache
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger        *slog.Logger
	slowThreshold time.Duration
	maxOpenConns  int
}

// WithLogger sets the logger for migrations and slow queries. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithSlowQueryThreshold logs queries slower than d at warning level; 0 turns
// slow-query logging off. The default is 500 ms.
func WithSlowQueryThreshold(d time.Duration) Option {
	return func(o *options) { o.slowThreshold = d }
}

// WithMaxOpenConns caps the number of open database connections; 0 (the
// default) means no limit.
func WithMaxOpenConns(n int) Option {
	return func(o *options) { o.maxOpenConns = n }
}

// Open opens the database named by dbURL and applies any pending migrations.
//
//   - "" opens the SQLite file DefaultSQLitePath.
//   - "sqlite:PATH" (also "sqlite://PATH") or a bare file path opens a SQLite
//     file, creating it (mode 0600) and its parent directory (mode 0700).
//     "sqlite::memory:" opens a private in-memory database on one connection.
//   - "postgres://..." or "postgresql://..." opens PostgreSQL; any pgx
//     connection parameter may be given in the query, for example
//     search_path=tenant to keep the tables in a schema of their own.
func Open(ctx context.Context, dbURL string, opts ...Option) (*Store, error) {
	o := options{logger: slog.Default(), slowThreshold: 500 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}

	var (
		dialector gorm.Dialector
		driver    string
		memory    bool
	)
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		driver = DriverPostgres
		dialector = postgres.New(postgres.Config{DSN: dbURL})
	default:
		driver = DriverSQLite
		path, err := sqlitePath(dbURL)
		if err != nil {
			return nil, err
		}
		memory = path == ":memory:"
		if !memory {
			if err := prepareSQLiteFile(path); err != nil {
				return nil, err
			}
		}
		dialector = sqlite.Open(sqliteDSN(path))
	}

	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 newGormLogger(o.logger, o.slowThreshold),
		NowFunc:                now,
		SkipDefaultTransaction: true,
		// SQLite parses every statement again unless it is prepared once
		// and kept (pgx caches PostgreSQL's prepared statements itself).
		// The cache is bounded: a few queries are built from filters.
		PrepareStmt:        driver == DriverSQLite,
		PrepareStmtMaxSize: 256,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", driver, redact(dbURL), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", driver, redact(dbURL), err)
	}
	switch {
	case memory:
		// Every connection to ":memory:" is a database of its own.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetConnMaxIdleTime(0)
		sqlDB.SetConnMaxLifetime(0)
	case o.maxOpenConns > 0:
		sqlDB.SetMaxOpenConns(o.maxOpenConns)
	}
	if driver == DriverSQLite && !memory {
		// database/sql keeps 2 idle connections by default: under load the
		// others are closed as soon as they are released and opened again
		// (file, pragmas, WAL index, page cache) for the next query.
		sqlDB.SetMaxIdleConns(sqliteMaxIdleConns)
	}
	if driver == DriverPostgres {
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		// Not database/sql's default of 2: under load every other
		// connection would be closed when released and opened again for
		// the next query.
		sqlDB.SetMaxIdleConns(postgresMaxIdleConns)
	}

	s := &Store{db: db, driver: driver, log: o.logger, root: true}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open %s database %s: %w", driver, redact(dbURL), err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open %s database %s: %w", driver, redact(dbURL), err)
	}
	if driver == DriverSQLite && !memory {
		s.auditWriter = &sqliteAuditWriter{db: sqlDB, own: o.maxOpenConns != 1}
		if s.checkpointer, err = startWALCheckpointer(ctx, sqlDB, s, s.auditWriter); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("open %s database %s: %w", driver, redact(dbURL), err)
		}
	}
	if driver == DriverSQLite {
		s.stmts = newStmtCache(sqlDB)
	}
	return s, nil
}

// sqlitePath turns the non-PostgreSQL forms of Open's URL into a file path.
func sqlitePath(dbURL string) (string, error) {
	path := dbURL
	if rest, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		path = strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", errors.New(`open sqlite database: empty path in "sqlite:" URL`)
		}
	} else if path == "" {
		path = DefaultSQLitePath
	}
	if path != ":memory:" && strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("open sqlite database %q: path must not contain '?' or '#'", path)
	}
	if strings.Contains(path, "://") {
		return "", fmt.Errorf("open database %q: unsupported URL scheme (want sqlite:, postgres:// or postgresql://)", redact(dbURL))
	}
	return path, nil
}

// prepareSQLiteFile creates the directory (0700) and the database file (0600)
// so that SQLite does not create them with the process umask.
func prepareSQLiteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create sqlite directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create sqlite file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create sqlite file %s: %w", path, err)
	}
	return nil
}

// sqliteDSN builds the modernc.org/sqlite DSN. The pragmas run on every new
// connection: busy_timeout first so that switching to WAL waits for other
// connections instead of failing. _txlock=immediate makes every write
// transaction take the write lock at BEGIN, so that two transactions never
// both read and then both try to upgrade to writing (which SQLite would fail
// with SQLITE_BUSY without waiting). _time_format=sqlite writes times as
// "2006-01-02 15:04:05.999999999-07:00", the text that SQLite's date
// functions read, that compares in time order for UTC times, and that
// databases written by earlier releases hold (the driver's own default is
// Go's time.String; the dialector also asks for this one, and it is said
// here so that it does not depend on that).
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if path != ":memory:" {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Checkpoints run in the background (checkpoint.go), not in
		// the COMMIT that fills the log.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walRestartBytes))
	}
	// A statement that may have to undo its own changes halfway through a
	// transaction (a multi-row INSERT) keeps a statement journal; in
	// memory, not in a temporary file opened and removed for each.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return path + "?" + q.Encode()
}

// queryRow runs a query that returns at most one row, written with ?
// parameters. On the SQLite Store that Open returned it goes straight to
// gorm's prepared-statement pool (PrepareStmt), which runs the query's
// prepared statement without gorm's query building and callbacks, which
// cost more than a lookup; elsewhere it runs through gorm, which turns the
// parameters into PostgreSQL's and stays inside a transaction.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s.root && s.driver == DriverSQLite {
		return s.db.ConnPool.QueryRowContext(ctx, query, args...)
	}
	return s.db.WithContext(ctx).Raw(query, args...).Row()
}

// redact removes the password from a database URL for error messages.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL
	}
	return u.Redacted()
}

// now is the clock of the store: UTC, truncated to the microsecond precision
// that PostgreSQL keeps, so that a time written and read back compares equal
// on both databases.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Close closes the database. Calling it on a Store handed out by Transaction
// is an error.
func (s *Store) Close() error {
	if !s.root {
		return errors.New("close store: called on a transaction")
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("close %s store: %w", s.driver, err)
	}
	if s.auditWriter != nil {
		s.auditWriter.close() // before the last checkpoint, which the pool runs
	}
	if s.checkpointer != nil {
		s.checkpointer.close(s)
		s.checkpointer = nil
	}
	if s.stmts != nil {
		s.stmts.close()
	}
	if err := sqlDB.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", s.driver, err)
	}
	return nil
}

// Ping checks that the database answers a query; it backs readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return fmt.Errorf("ping %s database: %w", s.driver, err)
	}
	if one != 1 {
		return fmt.Errorf("ping %s database: SELECT 1 returned %d", s.driver, one)
	}
	return nil
}

// Driver names the database: DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.driver }

// Transaction runs fn inside one database transaction. The Store given to fn
// does all its work in that transaction; the transaction commits when fn
// returns nil and rolls back when it returns an error or panics. Nested calls
// use savepoints.
//
// On PostgreSQL a failed statement aborts the whole transaction, so fn should
// return the first error it gets rather than carry on.
func (s *Store) Transaction(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, driver: s.driver, log: s.log})
	})
}
