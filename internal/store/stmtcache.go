package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// stmtCache keeps the statements that a Store runs outside gorm on its
// hottest paths (the audit append) prepared, by query text. SQLite compiles
// a statement into a program before it runs it, and for an INSERT into a
// table with several indexes and a foreign key that compilation costs more
// than the insert itself; a prepared statement is compiled once per
// connection and then only reset, bound and stepped. (gorm's own queries are
// prepared by its PrepareStmt option, and pgx prepares PostgreSQL's. gorm
// prepares a statement it first meets inside a transaction on that
// transaction, and database/sql then prepares such a statement again in
// every later transaction; this cache prepares on the pool, before the
// transaction, which database/sql reuses per connection.)
//
// database/sql prepares a cached statement again on each pool connection
// the first time it runs there, and reuses the connection's statement in a
// transaction (Tx.StmtContext). The cache holds a bounded set of fixed query
// texts, so it needs no eviction.
type stmtCache struct {
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// get returns the prepared statement of query, preparing it the first time.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.stmts[query]
	c.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.stmts[query]; prev != nil {
		// Another goroutine prepared it meanwhile.
		_ = st.Close()
		return prev, nil
	}
	c.stmts[query] = st
	return st, nil
}

// warm prepares the statements of queries that are not cached yet. A
// transaction runs only statements warmed before it began (preparedTx): to
// prepare one, database/sql needs a connection of the pool, and while the
// transaction holds its own that can be the last one (an in-memory
// database has one), so preparing inside it could wait forever. A failure
// leaves the query to run unprepared.
func (c *stmtCache) warm(ctx context.Context, queries ...string) {
	for _, q := range queries {
		_, _ = c.get(ctx, q)
	}
}

// cached returns the prepared statement of query, or nil when it was not
// prepared.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// preparedTx runs the statements of a transaction from a stmtCache, those
// that were warmed before it began, and any other unprepared: it is the
// sqlConn of an audit append on SQLite. (Tx.StmtContext prepares a cached
// statement on the transaction's own connection when it was prepared on
// others only.)
type preparedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

// ExecContext runs query in the transaction.
func (p preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.cache.cached(query); st != nil {
		return p.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction.
func (p preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.cache.cached(query); st != nil {
		return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}
