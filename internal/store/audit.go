package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

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
		ev.ID = newUUID()
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

// maxAuditInsert is how many rows one INSERT statement of
// AppendAuditEvents carries (15 parameters a row; SQLite allows 32766).
const maxAuditInsert = 200

// AppendAuditEvents appends events, each already prepared with
// PrepareAuditEvent, to their chains in one transaction, all or none. Within
// a chain they are appended in the order given; each gets its Seq, PrevHash
// and Hash. On an error none is recorded and their Seq, PrevHash and Hash
// are cleared.
//
// The transaction reads and locks the head of each chain concerned, in
// chain order, numbers and hashes the chain's events after it, inserts them
// and moves the head. On PostgreSQL the head rows are locked with SELECT ...
// FOR UPDATE, which serializes appenders across processes (taking the locks
// in one order keeps two multi-chain batches from deadlocking); on SQLite
// every write transaction begins with BEGIN IMMEDIATE (see sqliteDSN), which
// excludes other writers. Appenders therefore never fork a chain.
func (s *Store) AppendAuditEvents(ctx context.Context, events []*AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	byChain := map[string][]*AuditEvent{}
	var chains []string
	for _, ev := range events {
		if ev.Time.IsZero() || ev.ID == "" {
			return fmt.Errorf("append audit events: event %q is not prepared", ev.ID)
		}
		c := ev.OrganizationID
		if _, ok := byChain[c]; !ok {
			chains = append(chains, c)
		}
		byChain[c] = append(byChain[c], ev)
	}
	slices.Sort(chains)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		rows := make([]*auditRow, 0, len(events))
		for _, chain := range chains {
			head, err := lockAuditHead(tx, chain)
			if err != nil {
				return fmt.Errorf("chain %q: %w", chain, err)
			}
			seq, hash := head.Seq, head.Hash
			for _, ev := range byChain[chain] {
				seq++
				ev.Seq, ev.PrevHash = seq, hash
				ev.Hash = auditchain.ComputeHash(ev)
				hash = ev.Hash
				row, err := toAuditRow(ev)
				if err != nil {
					return err
				}
				rows = append(rows, row)
			}
			res := tx.Model(&AuditHead{}).Where("chain = ? AND seq = ?", chain, head.Seq).
				Updates(map[string]any{"seq": seq, "hash": hash})
			if res.Error != nil {
				return fmt.Errorf("move head of chain %q to %d: %w", chain, seq, classify(res.Error))
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("move head of chain %q to %d: the head moved under the lock", chain, seq)
			}
		}
		for len(rows) > 0 {
			n := min(len(rows), maxAuditInsert)
			if err := tx.Create(rows[:n]).Error; err != nil {
				return fmt.Errorf("insert events %d to %d of chain %q: %w", rows[0].Seq, rows[n-1].Seq, chainOf(rows[0]), classify(err))
			}
			rows = rows[n:]
		}
		return nil
	})
	if err != nil {
		for _, ev := range events {
			ev.Seq, ev.PrevHash, ev.Hash = 0, "", ""
		}
		if len(chains) == 1 {
			return fmt.Errorf("append audit event to chain %q: %w", chains[0], err)
		}
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

func chainOf(r *auditRow) string {
	if r.OrganizationID == nil {
		return ""
	}
	return *r.OrganizationID
}

// lockAuditHead returns the head of chain, creating it (at the genesis) the
// first time, locked for the rest of the transaction tx.
func lockAuditHead(tx *gorm.DB, chain string) (*AuditHead, error) {
	query := "SELECT chain, seq, hash FROM audit_heads WHERE chain = ?"
	if tx.Dialector.Name() == DriverPostgres {
		query += " FOR UPDATE"
	}
	for range 2 {
		var heads []AuditHead
		if err := tx.Raw(query, chain).Scan(&heads).Error; err != nil {
			return nil, fmt.Errorf("lock chain head: %w", classify(err))
		}
		if len(heads) == 1 {
			return &heads[0], nil
		}
		// A new chain. Two first appenders may race here: ON CONFLICT makes
		// the loser's insert a no-op (on PostgreSQL it waits for the winner
		// to commit), and both then lock the one row.
		err := tx.Exec("INSERT INTO audit_heads (chain, seq, hash) VALUES (?, 0, ?) ON CONFLICT (chain) DO NOTHING",
			chain, auditchain.GenesisHash).Error
		if err != nil {
			return nil, fmt.Errorf("create chain head: %w", classify(err))
		}
	}
	return nil, errors.New("lock chain head: the head row does not appear")
}

func toAuditRow(ev *AuditEvent) (*auditRow, error) {
	creds, err := jsonList(ev.CredentialIDs)
	if err != nil {
		return nil, err
	}
	reasons, err := jsonList(ev.Reasons)
	if err != nil {
		return nil, err
	}
	row := &auditRow{
		Seq: ev.Seq, ID: ev.ID, OccurredAt: ev.Time,
		RelyingParty: ev.RelyingParty, AgentDID: ev.Agent, PrincipalDID: ev.Principal,
		CredentialIDs: creds, Action: ev.Action, Resource: ev.Resource, Decision: ev.Decision,
		Reasons: reasons, RequestID: ev.RequestID, PrevHash: ev.PrevHash, Hash: ev.Hash,
	}
	if ev.OrganizationID != "" {
		org := ev.OrganizationID
		row.OrganizationID = &org
	}
	return row, nil
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
