package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// sqliteAuditWriter runs the audit appends of a SQLite file database one at
// a time, on one connection of their own.
//
// One at a time: its mutex is also what the checkpointer holds while it
// restarts the write-ahead log (see walCheckpointer), so that an append
// waits on the mutex, not in SQLite's busy handler (whose first sleep is a
// millisecond).
//
// On a connection of their own: when appends ran on whichever connection of
// the pool was free, the audit trail's multi-row inserts (a statement per
// row count) ended up prepared on every connection, each holding its
// compiled programs: under load SQLite's memory grew from 12 to 24 MB with
// ten connections open, and the server's peak RSS by 6–8 MB.
type sqliteAuditWriter struct {
	db *sql.DB
	// own is whether appends keep a connection of their own: not when the
	// pool is capped at one connection, which a connection held aside
	// would starve.
	own bool

	mu sync.Mutex
	// conn is the appends' connection, taken from the pool when first
	// needed and given back after a failure (nil until then, and always
	// when !own). Guarded by mu.
	conn *sql.Conn
}

// txBeginner begins transactions: a *sql.DB on any connection of its pool,
// a *sql.Conn on that one.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// run runs fn holding w.mu, with the appends' connection (with the pool when
// !w.own). A connection on which fn failed is given back to the pool and a
// fresh one taken next time: the failure may have left it unusable.
func (w *sqliteAuditWriter) run(ctx context.Context, fn func(txBeginner) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.own {
		return fn(w.db)
	}
	if w.conn == nil {
		conn, err := w.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("take the audit connection: %w", err)
		}
		w.conn = conn
	}
	err := fn(w.conn)
	if err != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
	return err
}

// close gives the appends' connection back to the pool.
func (w *sqliteAuditWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}
