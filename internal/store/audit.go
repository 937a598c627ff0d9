package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentid/agentid/internal/auditchain"
)

// AuditEvent is an audit event as the store appends and returns it. The type
// and its hash are defined by internal/auditchain; see there for the chain
// and the canonical serialization.
type AuditEvent = auditchain.Event

// Limits of ListAuditEvents.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// auditRow is a row of audit_events. organization_id is NULL for the
// operator chain; credential_ids and reasons hold JSON arrays of strings.
type auditRow struct {
	Seq            int64     `gorm:"column:seq"`
	ID             string    `gorm:"column:id;primaryKey"`
	OccurredAt     time.Time `gorm:"column:occurred_at"`
	OrganizationID *string   `gorm:"column:organization_id"`
	RelyingParty   string    `gorm:"column:relying_party"`
	AgentDID       string    `gorm:"column:agent_did"`
	PrincipalDID   string    `gorm:"column:principal_did"`
	CredentialIDs  string    `gorm:"column:credential_ids"`
	Action         string    `gorm:"column:action"`
	Resource       string    `gorm:"column:resource"`
	Decision       string    `gorm:"column:decision"`
	Reasons        string    `gorm:"column:reasons"`
	RequestID      string    `gorm:"column:request_id"`
	PrevHash       string    `gorm:"column:prev_hash"`
	Hash           string    `gorm:"column:hash"`
}

func (auditRow) TableName() string { return "audit_events" }

// AuditHead is the last event of a chain as the audit_heads table records
// it: the row every appender locks.
type AuditHead struct {
	// OrganizationID names the chain ("" for the operator chain).
	OrganizationID string `gorm:"column:chain;primaryKey"`
	Seq            int64  `gorm:"column:seq"`
	Hash           string `gorm:"column:hash"`
}

// TableName is the audit head table.
func (AuditHead) TableName() string { return "audit_heads" }

// chainExpr is the chain key of an audit_events row; the unique index
// audit_events_chain_seq is on this expression and seq.
const chainExpr = "COALESCE(organization_id, '')"

// AppendAuditEvent appends ev to the chain of ev.OrganizationID ("" for the
// operator chain) and fills in its Seq, PrevHash and Hash, and its ID and
// Time when they are empty (Time is kept to the microsecond, in UTC, so that
// it reads back equal from either database). It is AppendAuditEvents with
// one event.
//
// It returns auditchain.ErrInvalidEvent for an unknown decision or text that
// is not UTF-8, and ErrReference for an unknown organization.
func (s *Store) AppendAuditEvent(ctx context.Context, ev *AuditEvent) error {
	if err := PrepareAuditEvent(ev); err != nil {
		return err
	}
	return s.AppendAuditEvents(ctx, []*AuditEvent{ev})
}

// PrepareAuditEvent fills in ev's ID and Time when they are empty, keeps its
// Time to the microsecond in UTC and validates it, as AppendAuditEvent does
// before it appends. A caller that batches events (AppendAuditEvents)
// prepares each one first, so that one bad event fails alone.
func PrepareAuditEvent(ev *AuditEvent) error {
	if ev.ID == "" {
		ev.ID = newEventID()
	}
	if ev.Time.IsZero() {
		ev.Time = now()
	} else {
		ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	}
	ev.Seq, ev.PrevHash, ev.Hash = 0, "", "" // set when appended
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// newEventID returns a time-ordered (version 7) UUID in its canonical text
// form: 48 bits of Unix milliseconds, then 74 random bits. Event ids are
// the primary key of audit_events; ids that grow with time are inserted at
// the right edge of its index, where random (version 4) ids would each dirty
// a page of their own, anywhere in an index that keeps growing.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	b[3], b[4], b[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// maxAuditInsert is how many rows one INSERT statement of AppendAuditEvents
// carries on PostgreSQL (one array per column, whatever the count).
const maxAuditInsert = 256

// maxSQLiteInsert is how many rows one INSERT statement carries on SQLite
// (15 parameters a row). Measured per event, with prepared statements, 8 to
// 32 rows a statement cost about the same (32 to 43 µs of CPU in groups of
// 16 to 128 events, against 38 to 48 µs for one row a statement).
const maxSQLiteInsert = 32

// sqliteInsertRows is how many of n events the next INSERT on SQLite
// carries: the largest power of two that is at most n and maxSQLiteInsert.
// Each row count is a prepared statement of its own (see stmtCache), which
// SQLite holds compiled on the audit connection; with powers of two a
// group is inserted by at most a few statements, and six of them are ever
// compiled instead of 32.
func sqliteInsertRows(n int) int {
	return 1 << (bits.Len(uint(min(n, maxSQLiteInsert))) - 1)
}

// AppendAuditEvents appends events, each already prepared with
// PrepareAuditEvent, to their chains in one transaction, all or none. Within
// a chain they are appended in the order given; each gets its Seq, PrevHash
// and Hash. On an error none is recorded and their Seq, PrevHash and Hash
// are cleared.
//
// The transaction reads and locks the head of each chain concerned, in
// chain order, numbers and hashes the chain's events after it, moves the
// head and inserts them. On PostgreSQL the head rows are locked with SELECT
// ... FOR UPDATE, which serializes appenders across processes (taking the
// locks in one order keeps two multi-chain batches from deadlocking); on
// SQLite every write transaction begins with BEGIN IMMEDIATE (see
// sqliteDSN), which excludes other writers. The head is moved only from the
// value read (a compare-and-set), so appenders never fork a chain.
//
// A long-lived writer appends through an AuditAppender instead, which
// skips the read of the head when it knows it.
func (s *Store) AppendAuditEvents(ctx context.Context, events []*AuditEvent) error {
	return (&AuditAppender{s: s}).Append(ctx, events)
}

// AuditAppender appends audit events, as AppendAuditEvents does, for one
// long-lived writer such as the verifier's audit log. It is safe for
// concurrent use.
//
// It remembers the head each chain had after its last commit, and starts
// the next append from there instead of reading the head first: the head
// row is moved with a compare-and-set on that remembered sequence number
// and hash, in the transaction that inserts the events. When another writer
// (another process, or another appender) has moved the head meanwhile, the
// compare-and-set matches no row; the appender then reads and locks the head
// as AppendAuditEvents does and starts again from it. The remembered head is
// therefore only a guess that saves a statement, never a source of truth:
// the chain cannot fork whatever it holds. After a wrong guess the
// appender reads the head of that chain for its next few appends.
//
// On PostgreSQL an append to one chain whose head is remembered is one
// statement (the head's compare-and-set and the insert, in a data-modifying
// WITH) in no explicit transaction: one round trip instead of five.
type AuditAppender struct {
	s *Store

	mu sync.Mutex
	// heads maps a chain to its head as this appender last committed it;
	// nil when the appender remembers nothing (AppendAuditEvents, and
	// appenders on a transaction, whose commit they do not see).
	heads map[string]AuditHead
	// distrust maps a chain whose remembered head was found stale to the
	// number of appends that read its head instead: when replicas take
	// turns on a chain, a guess that is mostly wrong costs a statement
	// more than no guess.
	distrust map[string]int
}

// staleBackoff is how many appends to a chain read its head after its
// remembered head was found stale.
const staleBackoff = 16

// NewAuditAppender returns an appender that appends to s. On a Store handed
// out by Transaction it appends in that transaction and remembers nothing.
func (s *Store) NewAuditAppender() *AuditAppender {
	a := &AuditAppender{s: s}
	if s.root {
		a.heads, a.distrust = map[string]AuditHead{}, map[string]int{}
	}
	return a
}

// auditBatch is the events of one chain in a call to Append.
type auditBatch struct {
	chain  string
	events []*AuditEvent
	// from is the head the events are numbered after; to, the head they
	// leave.
	from, to AuditHead
}

// Append appends events as AppendAuditEvents does, with the same
// guarantees and errors.
func (a *AuditAppender) Append(ctx context.Context, events []*AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	batches, err := auditBatches(events)
	if err != nil {
		return err
	}
	if err := a.append(ctx, batches); err != nil {
		for _, ev := range events {
			ev.Seq, ev.PrevHash, ev.Hash = 0, "", ""
		}
		a.forget(batches)
		if len(batches) == 1 {
			return fmt.Errorf("append audit event to chain %q: %w", batches[0].chain, err)
		}
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// auditBatches splits events by chain, keeping their order within a chain,
// and orders the chains (the order their heads are locked in).
func auditBatches(events []*AuditEvent) ([]*auditBatch, error) {
	var batches []*auditBatch
	var byChain map[string]*auditBatch // once there are several chains
	for _, ev := range events {
		if ev.Time.IsZero() || ev.ID == "" {
			return nil, fmt.Errorf("append audit events: event %q is not prepared", ev.ID)
		}
		var b *auditBatch
		switch {
		case byChain != nil:
			b = byChain[ev.OrganizationID]
		case len(batches) == 1 && batches[0].chain == ev.OrganizationID:
			b = batches[0]
		case len(batches) == 1:
			byChain = map[string]*auditBatch{batches[0].chain: batches[0]}
		}
		if b == nil {
			b = &auditBatch{chain: ev.OrganizationID}
			batches = append(batches, b)
			if byChain != nil {
				byChain[b.chain] = b
			}
		}
		b.events = append(b.events, ev)
	}
	slices.SortFunc(batches, func(x, y *auditBatch) int { return strings.Compare(x.chain, y.chain) })
	return batches, nil
}

// seal numbers and hashes b's events after head.
func (b *auditBatch) seal(head AuditHead) {
	b.from = head
	seq, hash := head.Seq, head.Hash
	for _, ev := range b.events {
		seq++
		ev.Seq, ev.PrevHash = seq, hash
		ev.Hash = auditchain.ComputeHash(ev)
		hash = ev.Hash
	}
	b.to = AuditHead{OrganizationID: b.chain, Seq: seq, Hash: hash}
}

// remembered returns the head of chain as this appender last committed it.
func (a *AuditAppender) remembered(chain string) (AuditHead, bool) {
	if a.heads == nil {
		return AuditHead{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.distrust[chain]; n > 0 {
		if n == 1 {
			delete(a.distrust, chain)
		} else {
			a.distrust[chain] = n - 1
		}
		return AuditHead{}, false
	}
	h, ok := a.heads[chain]
	return h, ok
}

// stale records that the remembered head of chain was not the head.
func (a *AuditAppender) stale(chain string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.heads, chain)
	a.distrust[chain] = staleBackoff
}

// remember records the heads batches left, once they are committed.
func (a *AuditAppender) remember(batches []*auditBatch) {
	if a.heads == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range batches {
		a.heads[b.chain] = b.to
	}
}

// forget drops what the appender remembers of the chains of batches: after
// a failure it does not know whether their heads moved.
func (a *AuditAppender) forget(batches []*auditBatch) {
	if a.heads == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range batches {
		delete(a.heads, b.chain)
	}
}

// sqlConn is what the append runs its statements on: a *sql.Tx, or the
// connection pool of a gorm transaction.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (a *AuditAppender) append(ctx context.Context, batches []*auditBatch) error {
	pg := a.s.driver == DriverPostgres
	if !a.s.root {
		// Inside the caller's transaction: its commit is not ours to see.
		conn, ok := a.s.db.Statement.ConnPool.(sqlConn)
		if !ok {
			return fmt.Errorf("append in transaction: unexpected connection %T", a.s.db.Statement.ConnPool)
		}
		return a.appendIn(ctx, conn, pg, batches)
	}
	sqlDB, err := a.s.db.DB()
	if err != nil {
		return err
	}
	if pg && len(batches) == 1 {
		if head, ok := a.remembered(batches[0].chain); ok {
			done, err := appendOneStatement(ctx, sqlDB, batches[0], head)
			if err != nil {
				return err
			}
			if done {
				a.remember(batches)
				return nil
			}
			// Another writer moved the head: read it.
			a.stale(batches[0].chain)
		}
	}
	if !pg {
		// The SQLite driver watches a context that can end with a
		// goroutine of its own for every statement, and database/sql
		// another for the transaction: up to a third of the CPU of a
		// small group. SQLite statements do not wait on the network, and
		// the wait for the write lock is bounded by busy_timeout; so a
		// context that ends stops the append before it begins, not
		// midway.
		if err := ctx.Err(); err != nil {
			return err
		}
		ctx = context.WithoutCancel(ctx)
	}
	if a.s.stmts != nil {
		a.s.stmts.warm(ctx, selectHeadSQLite, createHeadSQLite, moveHeadSQLite)
		for _, b := range batches {
			for n := len(b.events); n > 0; n -= sqliteInsertRows(n) {
				a.s.stmts.warm(ctx, insertSQLite(sqliteInsertRows(n)))
			}
		}
	}
	commit := func(db txBeginner) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var conn sqlConn = tx
		if a.s.stmts != nil {
			conn = preparedTx{tx: tx, cache: a.s.stmts}
		}
		if err := a.appendIn(ctx, conn, pg, batches); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", classify(err))
		}
		return nil
	}
	if w := a.s.auditWriter; w != nil {
		err = w.run(ctx, commit)
	} else {
		err = commit(sqlDB)
	}
	if err != nil {
		return err
	}
	a.remember(batches)
	return nil
}

// appendIn appends batches with the statements of one transaction, which
// conn runs in.
func (a *AuditAppender) appendIn(ctx context.Context, conn sqlConn, pg bool, batches []*auditBatch) error {
	for _, b := range batches {
		head, ok := a.remembered(b.chain)
		if !ok {
			var err error
			if head, err = lockAuditHead(ctx, conn, pg, b.chain); err != nil {
				return fmt.Errorf("chain %q: %w", b.chain, err)
			}
		}
		b.seal(head)
		moved, err := moveAuditHead(ctx, conn, pg, b)
		if err == nil && !moved && ok {
			// The remembered head is stale: read the head and start
			// again from it.
			a.stale(b.chain)
			if head, err = lockAuditHead(ctx, conn, pg, b.chain); err != nil {
				return fmt.Errorf("chain %q: %w", b.chain, err)
			}
			b.seal(head)
			moved, err = moveAuditHead(ctx, conn, pg, b)
		}
		if err != nil {
			return err
		}
		if !moved {
			return fmt.Errorf("move head of chain %q to %d: the head moved under the lock", b.chain, b.to.Seq)
		}
	}
	for _, b := range batches {
		for events := b.events; len(events) > 0; {
			n := min(len(events), maxAuditInsert)
			if !pg {
				n = sqliteInsertRows(n)
			}
			if err := insertAuditEvents(ctx, conn, pg, events[:n]); err != nil {
				return fmt.Errorf("insert events %d to %d of chain %q: %w", events[0].Seq, events[n-1].Seq, b.chain, classify(err))
			}
			events = events[n:]
		}
	}
	return nil
}

// Statements of the append. SQLite takes ? and PostgreSQL $n parameters.
const (
	selectHeadSQLite   = "SELECT seq, hash FROM audit_heads WHERE chain = ?"
	selectHeadPostgres = "SELECT seq, hash FROM audit_heads WHERE chain = $1 FOR UPDATE"
	createHeadSQLite   = "INSERT INTO audit_heads (chain, seq, hash) VALUES (?, 0, ?) ON CONFLICT (chain) DO NOTHING"
	createHeadPostgres = "INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING"
	moveHeadSQLite     = "UPDATE audit_heads SET seq = ?, hash = ? WHERE chain = ? AND seq = ? AND hash = ?"
	moveHeadPostgres   = "UPDATE audit_heads SET seq = $1, hash = $2 WHERE chain = $3 AND seq = $4 AND hash = $5"

	auditColumns = "seq, id, occurred_at, organization_id, relying_party, agent_did, principal_did, " +
		"credential_ids, action, resource, decision, reasons, request_id, prev_hash, hash"
	auditColumnCount = 15

	// insertPostgres inserts any number of rows from one array per
	// column, so that one statement, prepared once per connection by pgx,
	// serves every group size. organization_id "" is the operator chain
	// (NULL).
	insertPostgres = "INSERT INTO audit_events (" + auditColumns + ") " +
		"SELECT u.seq, u.id, u.occurred_at, NULLIF(u.organization_id, ''), u.relying_party, u.agent_did, u.principal_did, " +
		"u.credential_ids, u.action, u.resource, u.decision, u.reasons, u.request_id, u.prev_hash, u.hash " +
		"FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], " +
		"$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]) " +
		"AS u(" + auditColumns + ")"

	// appendPostgres is insertPostgres behind the compare-and-set of the
	// head ($16 to $20 as in moveHeadPostgres): one statement, atomic
	// without a transaction, that inserts nothing when the head is not
	// where the appender expects it.
	appendPostgres = "WITH head AS (UPDATE audit_heads SET seq = $16, hash = $17 " +
		"WHERE chain = $18 AND seq = $19 AND hash = $20 RETURNING 1) " +
		insertPostgres + " WHERE EXISTS (SELECT 1 FROM head)"
)

// lockAuditHead returns the head of chain, creating it (at the genesis) the
// first time, locked for the rest of the transaction conn runs in.
func lockAuditHead(ctx context.Context, conn sqlConn, pg bool, chain string) (AuditHead, error) {
	query, create := selectHeadSQLite, createHeadSQLite
	if pg {
		query, create = selectHeadPostgres, createHeadPostgres
	}
	for range 2 {
		head := AuditHead{OrganizationID: chain}
		err := conn.QueryRowContext(ctx, query, chain).Scan(&head.Seq, &head.Hash)
		if err == nil {
			return head, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return AuditHead{}, fmt.Errorf("lock chain head: %w", classify(err))
		}
		// A new chain. Two first appenders may race here: ON CONFLICT makes
		// the loser's insert a no-op (on PostgreSQL it waits for the winner
		// to commit), and both then lock the one row.
		if _, err := conn.ExecContext(ctx, create, chain, auditchain.GenesisHash); err != nil {
			return AuditHead{}, fmt.Errorf("create chain head: %w", classify(err))
		}
	}
	return AuditHead{}, errors.New("lock chain head: the head row does not appear")
}

// moveAuditHead moves the head of b's chain from b.from to b.to and reports
// whether it was at b.from.
func moveAuditHead(ctx context.Context, conn sqlConn, pg bool, b *auditBatch) (bool, error) {
	query := moveHeadSQLite
	if pg {
		query = moveHeadPostgres
	}
	res, err := conn.ExecContext(ctx, query, b.to.Seq, b.to.Hash, b.chain, b.from.Seq, b.from.Hash)
	if err != nil {
		return false, fmt.Errorf("move head of chain %q to %d: %w", b.chain, b.to.Seq, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("move head of chain %q to %d: %w", b.chain, b.to.Seq, err)
	}
	return n == 1, nil
}

// appendOneStatement appends b, whose head is expected at head, with
// appendPostgres, and reports whether the head was there (when it was not,
// nothing is written).
func appendOneStatement(ctx context.Context, db *sql.DB, b *auditBatch, head AuditHead) (bool, error) {
	b.seal(head)
	args := postgresColumns(b.events)
	args = append(args, b.to.Seq, b.to.Hash, b.chain, b.from.Seq, b.from.Hash)
	res, err := db.ExecContext(ctx, appendPostgres, args...)
	if err != nil {
		return false, fmt.Errorf("insert events %d to %d: %w", b.events[0].Seq, b.to.Seq, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert events %d to %d: %w", b.events[0].Seq, b.to.Seq, err)
	}
	switch n {
	case int64(len(b.events)):
		return true, nil
	case 0:
		return false, nil
	}
	return false, fmt.Errorf("insert events %d to %d: %d rows inserted", b.events[0].Seq, b.to.Seq, n)
}

// insertAuditEvents inserts sealed events with one statement.
func insertAuditEvents(ctx context.Context, conn sqlConn, pg bool, events []*AuditEvent) error {
	if pg {
		_, err := conn.ExecContext(ctx, insertPostgres, postgresColumns(events)...)
		return err
	}
	args := make([]any, 0, len(events)*auditColumnCount)
	for _, ev := range events {
		creds, err := jsonList(ev.CredentialIDs)
		if err != nil {
			return err
		}
		reasons, err := jsonList(ev.Reasons)
		if err != nil {
			return err
		}
		var org any // NULL for the operator chain
		if ev.OrganizationID != "" {
			org = ev.OrganizationID
		}
		args = append(args, ev.Seq, ev.ID, ev.Time, org, ev.RelyingParty, ev.Agent, ev.Principal,
			creds, ev.Action, ev.Resource, ev.Decision, reasons, ev.RequestID, ev.PrevHash, ev.Hash)
	}
	_, err := conn.ExecContext(ctx, insertSQLite(len(events)), args...)
	return err
}

// insertSQLiteText caches the INSERT statement of each row count.
var insertSQLiteText [maxSQLiteInsert + 1]atomic.Pointer[string]

// insertSQLite returns the multi-row INSERT of n rows: one statement of n
// rows runs faster than n statements.
func insertSQLite(n int) string {
	if p := insertSQLiteText[n].Load(); p != nil {
		return *p
	}
	const row = ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	var sb strings.Builder
	sb.Grow(len("INSERT INTO audit_events () VALUES ") + len(auditColumns) + n*len(row))
	sb.WriteString("INSERT INTO audit_events (" + auditColumns + ") VALUES ")
	for i := range n {
		if i == 0 {
			sb.WriteString(row[1:])
		} else {
			sb.WriteString(row)
		}
	}
	text := sb.String()
	insertSQLiteText[n].Store(&text)
	return text
}

// postgresColumns returns the 15 column arrays insertPostgres takes.
func postgresColumns(events []*AuditEvent) []any {
	n := len(events)
	var (
		seqs  = make([]int64, n)
		times = make([]time.Time, n)
		text  = make([]string, 13*n) // the text columns, column after column
	)
	col := func(c int) []string { return text[c*n : (c+1)*n : (c+1)*n] }
	for i, ev := range events {
		seqs[i], times[i] = ev.Seq, ev.Time
		creds, _ := jsonList(ev.CredentialIDs) // cannot fail: a list of strings
		reasons, _ := jsonList(ev.Reasons)
		for c, v := range [13]string{ev.ID, ev.OrganizationID, ev.RelyingParty, ev.Agent, ev.Principal,
			creds, ev.Action, ev.Resource, ev.Decision, reasons, ev.RequestID, ev.PrevHash, ev.Hash} {
			text[c*n+i] = v
		}
	}
	args := make([]any, 0, auditColumnCount+5)
	args = append(args, seqs, col(0), times)
	for c := 1; c < 13; c++ {
		args = append(args, col(c))
	}
	return args
}

func (r *auditRow) event() AuditEvent {
	ev := AuditEvent{
		Seq: r.Seq, ID: r.ID, Time: r.OccurredAt.UTC(),
		RelyingParty: r.RelyingParty, Agent: r.AgentDID, Principal: r.PrincipalDID,
		Action: r.Action, Resource: r.Resource, Decision: r.Decision,
		RequestID: r.RequestID, PrevHash: r.PrevHash, Hash: r.Hash,
	}
	if r.OrganizationID != nil {
		ev.OrganizationID = *r.OrganizationID
	}
	// A list column that is not a JSON array of strings was written by
	// someone else than AppendAuditEvent; it is read as a list holding the
	// raw text so that the event's hash, not this read, reports it.
	ev.CredentialIDs = readList(r.CredentialIDs)
	ev.Reasons = readList(r.Reasons)
	return ev
}

func jsonList(list []string) (string, error) {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

func readList(text string) []string {
	list := []string{}
	if err := json.Unmarshal([]byte(text), &list); err != nil || list == nil {
		return []string{text}
	}
	return list
}

// AuditFilter selects the events of one chain for ListAuditEvents and
// EachAuditEvent. Empty fields select everything.
type AuditFilter struct {
	// OrganizationID names the chain: an organization's id, or "" for the
	// operator chain (events of no organization).
	OrganizationID string
	// Agent and Principal are DIDs, matched exactly.
	Agent     string
	Principal string
	// Decision is auditchain.DecisionVerified or DecisionRejected.
	Decision string
	// From (inclusive) and To (exclusive) bound the event time.
	From time.Time
	To   time.Time
	// AfterSeq selects the events numbered after it (keyset paging).
	AfterSeq int64
	// Limit caps ListAuditEvents: DefaultAuditLimit when 0 or negative, at
	// most MaxAuditLimit. For EachAuditEvent, 0 means no limit.
	Limit int
}

// ListAuditEvents returns the events of f's chain that match f, in sequence
// order, at most f.Limit of them (see AuditFilter). To page, call again with
// AfterSeq set to the last Seq returned.
func (s *Store) ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	q := s.db.WithContext(ctx).Model(&auditRow{}).Where(chainExpr+" = ?", f.OrganizationID)
	if f.AfterSeq > 0 {
		q = q.Where("seq > ?", f.AfterSeq)
	}
	if f.Agent != "" {
		q = q.Where("agent_did = ?", f.Agent)
	}
	if f.Principal != "" {
		q = q.Where("principal_did = ?", f.Principal)
	}
	if f.Decision != "" {
		q = q.Where("decision = ?", f.Decision)
	}
	// Times are stored in UTC; SQLite compares them as text, which orders
	// correctly only between UTC times.
	if !f.From.IsZero() {
		q = q.Where("occurred_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("occurred_at < ?", f.To.UTC())
	}
	var rows []auditRow
	if err := q.Order("seq").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list audit events of chain %q: %w", f.OrganizationID, classify(err))
	}
	out := make([]AuditEvent, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].event())
	}
	return out, nil
}

// EachAuditEvent calls fn for every event of f's chain that matches f, in
// sequence order, up to f.Limit events when it is positive. It reads in
// pages and holds no connection or transaction while fn runs, so fn may use
// the store. It stops at, and returns, the first error fn returns.
func (s *Store) EachAuditEvent(ctx context.Context, f AuditFilter, fn func(*AuditEvent) error) error {
	remaining := f.Limit
	page := f
	for {
		page.Limit = MaxAuditLimit
		if remaining > 0 && remaining < page.Limit {
			page.Limit = remaining
		}
		events, err := s.ListAuditEvents(ctx, page)
		if err != nil {
			return err
		}
		for i := range events {
			if err := fn(&events[i]); err != nil {
				return err
			}
		}
		if remaining > 0 {
			remaining -= len(events)
			if remaining <= 0 {
				return nil
			}
		}
		if len(events) < page.Limit {
			return nil
		}
		page.AfterSeq = events[len(events)-1].Seq
	}
}

// AuditEventsFrom calls fn for every event of the chain of organization orgID
// ("" for the operator chain) from sequence number from on, in order: the
// whole chain when from is 1. See EachAuditEvent.
func (s *Store) AuditEventsFrom(ctx context.Context, orgID string, from int64, fn func(*AuditEvent) error) error {
	return s.EachAuditEvent(ctx, AuditFilter{OrganizationID: orgID, AfterSeq: from - 1}, fn)
}

// AuditHeads returns the head of every chain, ordered by organization id
// (the operator chain, "", first). A chain with no events has no head.
func (s *Store) AuditHeads(ctx context.Context) ([]AuditHead, error) {
	var heads []AuditHead
	if err := s.db.WithContext(ctx).Order("chain").Find(&heads).Error; err != nil {
		return nil, fmt.Errorf("audit heads: %w", classify(err))
	}
	// Chains whose head row is gone still have events; report them with an
	// empty head so that a verification notices.
	var chains []string
	err := s.db.WithContext(ctx).Raw("SELECT DISTINCT " + chainExpr + " FROM audit_events WHERE " +
		chainExpr + " NOT IN (SELECT chain FROM audit_heads)").Scan(&chains).Error
	if err != nil {
		return nil, fmt.Errorf("audit heads: %w", classify(err))
	}
	for _, c := range chains {
		heads = append(heads, AuditHead{OrganizationID: c, Hash: auditchain.GenesisHash})
	}
	slices.SortFunc(heads, func(a, b AuditHead) int { return strings.Compare(a.OrganizationID, b.OrganizationID) })
	return heads, nil
}
