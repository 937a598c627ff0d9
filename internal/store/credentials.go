package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// Credential statuses, the current state of an issued credential.
const (
	CredentialActive    = "active"
	CredentialSuspended = "suspended"
	CredentialRevoked   = "revoked"
)

// IssuedCredential is a credential an organization issued: the signed
// document as it was handed out, with what is needed to find it (issuer,
// subject, types, validity) and its current status. Its status list entries
// are StatusEntry rows that name it by ID.
type IssuedCredential struct {
	// ID is the row's own identifier (a UUID), never shown to clients;
	// CreateIssuedCredential fills it in when empty.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// CredentialID is the credential's id (e.g. "urn:uuid:…"), unique
	// within the organization.
	CredentialID string `gorm:"column:credential_id"`
	IssuerDID    string `gorm:"column:issuer_did"`
	// SubjectID is the subject's id (the agent's DID), "" when it has none.
	SubjectID string `gorm:"column:subject_id"`
	// PrincipalDID is the human the credential's subject acts for (the
	// subject's principal or delegator claim), "" when none: the one party
	// besides the organization's admins who may change its status.
	PrincipalDID string `gorm:"column:principal_did"`
	// Types are the credential's types, encoded by JoinTypes.
	Types string `gorm:"column:types"`
	// Format is "ldp_vc" or "dc+sd-jwt".
	Format string `gorm:"column:format"`
	// Document is the issued credential: JSON for ldp_vc, the compact
	// SD-JWT for dc+sd-jwt.
	Document string `gorm:"column:document"`
	// Status is CredentialActive, CredentialSuspended or CredentialRevoked.
	Status          string     `gorm:"column:status"`
	CreatedAt       time.Time  `gorm:"column:created_at"`
	ValidFrom       *time.Time `gorm:"column:valid_from"`
	ValidUntil      *time.Time `gorm:"column:valid_until"`
	StatusChangedAt *time.Time `gorm:"column:status_changed_at"`
}

// TableName is the issued credential table.
func (IssuedCredential) TableName() string { return "issued_credentials" }

// JoinTypes encodes credential types for IssuedCredential.Types: a space
// before and after every type (" VerifiableCredential X "), so that a type
// filter is a LIKE on " X ". Types never contain white space (they are
// terms or IRIs); a type that does, or that holds the LIKE wildcards % or
// _, or is empty, is refused.
func JoinTypes(types []string) (string, error) {
	for _, t := range types {
		if t == "" || strings.ContainsAny(t, " \t\r\n%_\\") {
			return "", fmt.Errorf("credential type %q cannot be stored", t)
		}
	}
	return " " + strings.Join(types, " ") + " ", nil
}

// TypeList returns the credential's types.
func (c *IssuedCredential) TypeList() []string { return strings.Fields(c.Types) }

// CreateIssuedCredential stores c, filling in its ID and CreatedAt when they
// are empty. It returns ErrConflict when the organization already has a
// credential with that id.
func (s *Store) CreateIssuedCredential(ctx context.Context, c *IssuedCredential) error {
	switch {
	case c.OrganizationID == "", c.CredentialID == "", c.IssuerDID == "", c.Document == "":
		return errors.New("store issued credential: organization, id, issuer and document are required")
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	for _, t := range []*time.Time{c.ValidFrom, c.ValidUntil} {
		if t != nil {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	if c.Status == "" {
		c.Status = CredentialActive
	}
	if err := s.db.WithContext(ctx).Create(c).Error; err != nil {
		return fmt.Errorf("store issued credential %s: %w", c.CredentialID, classify(err))
	}
	return nil
}

// IssuedCredentialByID returns the organization's credential with the given
// credential id, or ErrNotFound — also when another organization has one:
// organizations never see each other's credentials. With forUpdate, the row
// is locked for the rest of the caller's transaction (PostgreSQL; SQLite's
// write transactions exclude each other anyway).
func (s *Store) IssuedCredentialByID(ctx context.Context, orgID, credentialID string, forUpdate bool) (*IssuedCredential, error) {
	query := "SELECT * FROM issued_credentials WHERE organization_id = ? AND credential_id = ?"
	if forUpdate && s.driver == DriverPostgres {
		query += " FOR UPDATE"
	}
	var rows []IssuedCredential
	if err := s.db.WithContext(ctx).Raw(query, orgID, credentialID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("issued credential %s: %w", credentialID, classify(err))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("issued credential %s: %w", credentialID, ErrNotFound)
	}
	return &rows[0], nil
}

// CredentialFilter selects issued credentials of one organization. Empty
// fields do not filter.
type CredentialFilter struct {
	OrganizationID string
	// Subject is the subject's id (the agent's DID).
	Subject string
	// Type is one of the credential's types.
	Type string
	// Status is CredentialActive, CredentialSuspended or CredentialRevoked.
	Status string
	// From (inclusive) and To (exclusive) bound the issuance time.
	From, To time.Time
	// AfterTime and AfterID continue a listing after the credential that
	// was issued at AfterTime with row ID AfterID (the last of the previous
	// page).
	AfterTime time.Time
	AfterID   string
	// Limit caps the answer: DefaultCredentialLimit when 0 or negative, at
	// most MaxCredentialLimit.
	Limit int
}

// Page sizes of ListIssuedCredentials.
const (
	DefaultCredentialLimit = 100
	MaxCredentialLimit     = 1000
)

// ListIssuedCredentials returns the credentials f selects, oldest first
// (by issuance time, then row ID).
func (s *Store) ListIssuedCredentials(ctx context.Context, f CredentialFilter) ([]IssuedCredential, error) {
	if f.OrganizationID == "" {
		return nil, errors.New("list issued credentials: no organization")
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultCredentialLimit
	case limit > MaxCredentialLimit:
		limit = MaxCredentialLimit
	}
	q := s.db.WithContext(ctx).Model(&IssuedCredential{}).Where("organization_id = ?", f.OrganizationID)
	if f.Subject != "" {
		q = q.Where("subject_id = ?", f.Subject)
	}
	if f.Type != "" {
		if strings.ContainsAny(f.Type, " \t\r\n%_\\") {
			return nil, nil // no stored type has these characters
		}
		q = q.Where("types LIKE ?", "% "+f.Type+" %")
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	// Times are stored in UTC; SQLite compares them as text, which orders
	// correctly only between UTC times.
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	if f.AfterID != "" {
		t := f.AfterTime.UTC()
		q = q.Where("(created_at > ? OR (created_at = ? AND id > ?))", t, t, f.AfterID)
	}
	var out []IssuedCredential
	if err := q.Order("created_at, id").Limit(limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list issued credentials: %w", classify(err))
	}
	return out, nil
}

// CountIssuedCredentials counts an organization's issued credentials.
func (s *Store) CountIssuedCredentials(ctx context.Context, orgID string) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&IssuedCredential{}).Where("organization_id = ?", orgID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count issued credentials: %w", classify(err))
	}
	return n, nil
}

// ChangeCredentialStatus records a status change of the credential row
// rowID: its new status, the new value of each entry in values (matched by
// list and index), and one more version of every list touched, so that the
// next read of a list sees the change. Call it inside Transaction, after
// reading the credential with forUpdate: the change is durable when that
// transaction commits.
func (s *Store) ChangeCredentialStatus(ctx context.Context, rowID, status string, values []StatusEntry) error {
	db := s.db.WithContext(ctx)
	at := now()
	res := db.Model(&IssuedCredential{}).Where("id = ?", rowID).
		Updates(map[string]any{"status": status, "status_changed_at": at})
	if res.Error != nil {
		return fmt.Errorf("change status of credential %s: %w", rowID, classify(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("change status of credential %s: %w", rowID, ErrNotFound)
	}
	var lists []string
	for _, e := range values {
		res := db.Model(&StatusEntry{}).Where("list_id = ? AND idx = ? AND credential_row_id = ?", e.ListID, e.Index, rowID).
			Update("value", e.Value)
		if res.Error != nil {
			return fmt.Errorf("change status list %s index %d: %w", e.ListID, e.Index, classify(res.Error))
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("change status list %s index %d: %w", e.ListID, e.Index, ErrNotFound)
		}
		if !slices.Contains(lists, e.ListID) {
			lists = append(lists, e.ListID)
		}
	}
	slices.Sort(lists) // one lock order for every writer
	for _, id := range lists {
		res := db.Model(&StatusList{}).Where("id = ?", id).Update("version", gorm.Expr("version + 1"))
		if res.Error != nil {
			return fmt.Errorf("bump version of status list %s: %w", id, classify(res.Error))
		}
	}
	return nil
}

// Issuance is a credential to store together with the status entries it
// claims (CreateIssuances). The entries' CredentialRowID is set to the
// credential's ID.
type Issuance struct {
	Credential *IssuedCredential
	Entries    []StatusEntry
}

// ErrIndexTaken means a status index being claimed is allocated already.
// It is an ErrConflict.
var ErrIndexTaken = fmt.Errorf("%w: status index taken", ErrConflict)

// maxInsertRows caps the rows of one multi-row statement. Statements are
// built for power-of-two row counts up to it, so that a handful of
// statements are prepared and reused whatever the batch sizes.
const maxInsertRows = 64

// CreateIssuances stores credentials with the status entries they claim,
// many in one transaction (group commit): one commit, and a few multi-row
// statements, for the whole batch.
//
// It returns one error per issuance, and the others are stored all the
// same: nil when the issuance is stored; ErrIndexTaken when one of its
// status indexes was allocated already (committed, or claimed by an earlier
// issuance of the batch); ErrConflict when its organization has a
// credential with its id (or an earlier issuance of the batch has it);
// another error when it cannot be stored. The second result is a failure
// of the transaction as a whole: then nothing is stored. The issuances are
// durable when it returns.
//
// The batch is first checked against the committed rows and stored with
// multi-row inserts. Should that fail (a writer elsewhere claimed an index
// between the check and the insert, which PostgreSQL allows), the batch is
// stored again in a new transaction one issuance at a time, each in a
// savepoint, so that only the issuances at fault fail.
func (s *Store) CreateIssuances(ctx context.Context, items []Issuance) ([]error, error) {
	errs := make([]error, len(items))
	for i := range items {
		errs[i] = prepareIssuance(&items[i])
	}
	valid := slices.Clone(errs)
	err := s.Transaction(ctx, func(tx *Store) error { return tx.createIssuancesBulk(ctx, items, errs) })
	if err == nil {
		return errs, nil
	}
	if Retryable(err) || ctx.Err() != nil {
		return nil, fmt.Errorf("store %d issued credentials: %w", len(items), err)
	}
	copy(errs, valid)
	err = s.Transaction(ctx, func(tx *Store) error {
		for i := range items {
			if errs[i] == nil {
				errs[i] = tx.createIssuanceOne(ctx, &items[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store %d issued credentials: %w", len(items), classify(err))
	}
	return errs, nil
}

// prepareIssuance checks an issuance and fills in what CreateIssuedCredential
// would.
func prepareIssuance(it *Issuance) error {
	c := it.Credential
	switch {
	case c == nil:
		return errors.New("store issued credential: no credential")
	case c.OrganizationID == "", c.CredentialID == "", c.IssuerDID == "", c.Document == "":
		return errors.New("store issued credential: organization, id, issuer and document are required")
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	for _, t := range []*time.Time{c.ValidFrom, c.ValidUntil} {
		if t != nil {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	if c.Status == "" {
		c.Status = CredentialActive
	}
	for i := range it.Entries {
		if it.Entries[i].ListID == "" || it.Entries[i].Index < 0 {
			return fmt.Errorf("store issued credential %s: bad status entry %q %d", c.CredentialID, it.Entries[i].ListID, it.Entries[i].Index)
		}
		it.Entries[i].CredentialRowID = c.ID
	}
	return nil
}

// createIssuancesBulk is the fast path of CreateIssuances: multi-row
// inserts that skip rows whose unique keys are taken (ON CONFLICT DO
// NOTHING), by committed rows, by other transactions (PostgreSQL waits for
// them to end) or by earlier rows of the batch. An issuance whose
// credential or one of whose entries was skipped gets its error, and what
// was inserted of it is deleted again. Rows are inserted in key order, so
// that two batches waiting for each other's keys cannot deadlock. Call it
// inside a transaction.
func (s *Store) createIssuancesBulk(ctx context.Context, items []Issuance, errs []error) error {
	db := s.db.WithContext(ctx)
	var creds []*IssuedCredential
	var entries []*StatusEntry
	owner := map[string]int{} // credential row ID → item
	for i := range items {
		if errs[i] != nil {
			continue
		}
		creds = append(creds, items[i].Credential)
		owner[items[i].Credential.ID] = i
		for j := range items[i].Entries {
			entries = append(entries, &items[i].Entries[j])
		}
	}
	slices.SortFunc(creds, func(a, b *IssuedCredential) int {
		return cmp.Or(strings.Compare(a.OrganizationID, b.OrganizationID), strings.Compare(a.CredentialID, b.CredentialID))
	})
	slices.SortFunc(entries, func(a, b *StatusEntry) int {
		return cmp.Or(strings.Compare(a.ListID, b.ListID), cmp.Compare(a.Index, b.Index))
	})

	stored := map[string]bool{}
	for _, chunk := range chunks(creds) {
		args := make([]any, 0, len(chunk)*len(credentialColumns))
		for _, c := range chunk {
			args = append(args, c.OrganizationID, c.CredentialID, c.ID, c.IssuerDID, c.SubjectID, c.PrincipalDID,
				c.Types, c.Format, c.Document, c.Status, c.CreatedAt, c.ValidFrom, c.ValidUntil, c.StatusChangedAt)
		}
		var ids []string
		if err := db.Raw(insertSQL("issued_credentials", credentialColumns, len(chunk), "id"), args...).Scan(&ids).Error; err != nil {
			return fmt.Errorf("store %d issued credentials: %w", len(chunk), classify(err))
		}
		for _, id := range ids {
			stored[id] = true
		}
	}
	for _, c := range creds {
		if !stored[c.ID] {
			errs[owner[c.ID]] = fmt.Errorf("store issued credential %s: %w", c.CredentialID, ErrConflict)
		}
	}

	type entryKey struct {
		list string
		idx  int
	}
	claimed := map[entryKey]string{}
	for _, chunk := range chunks(entries) {
		args := make([]any, 0, len(chunk)*len(entryColumns))
		for _, e := range chunk {
			args = append(args, e.ListID, e.Index, e.CredentialRowID, e.Purpose, e.Value)
		}
		var rows []StatusEntry
		err := db.Raw(insertSQL("status_entries", entryColumns, len(chunk), "list_id, idx, credential_row_id"), args...).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("claim %d status indexes: %w", len(chunk), classify(err))
		}
		for _, r := range rows {
			claimed[entryKey{r.ListID, r.Index}] = r.CredentialRowID
		}
	}
	var undo []string
	for _, e := range entries {
		i := owner[e.CredentialRowID]
		if claimed[entryKey{e.ListID, e.Index}] != e.CredentialRowID && errs[i] == nil {
			errs[i] = fmt.Errorf("claim status list %s index %d: %w", e.ListID, e.Index, ErrIndexTaken)
		}
	}
	for _, c := range creds {
		if errs[owner[c.ID]] != nil {
			undo = append(undo, c.ID)
		}
	}
	// Take back what was inserted of the issuances that failed.
	for _, chunk := range padded(undo) {
		if err := db.Exec("DELETE FROM status_entries WHERE credential_row_id IN ?", chunk).Error; err != nil {
			return fmt.Errorf("release status indexes: %w", classify(err))
		}
		if err := db.Exec("DELETE FROM issued_credentials WHERE id IN ?", chunk).Error; err != nil {
			return fmt.Errorf("remove issued credentials: %w", classify(err))
		}
	}
	return nil
}

// Columns of the multi-row inserts of createIssuancesBulk.
var (
	credentialColumns = []string{"organization_id", "credential_id", "id", "issuer_did", "subject_id", "principal_did",
		"types", "format", "document", "status", "created_at", "valid_from", "valid_until", "status_changed_at"}
	entryColumns = []string{"list_id", "idx", "credential_row_id", "purpose", "value"}
)

// insertSQLs caches the statements insertSQL builds.
var insertSQLs sync.Map

// insertSQL is a statement inserting rows rows into table, skipping those
// whose unique keys are taken and returning the columns returning of the
// others.
func insertSQL(table string, columns []string, rows int, returning string) string {
	key := fmt.Sprintf("%s/%d", table, rows)
	if q, ok := insertSQLs.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT DO NOTHING RETURNING " + returning)
	q, _ := insertSQLs.LoadOrStore(key, b.String())
	return q.(string)
}

// createIssuanceOne stores one issuance in a savepoint of the caller's
// transaction, which a failure leaves usable.
func (s *Store) createIssuanceOne(ctx context.Context, it *Issuance) error {
	err := s.Transaction(ctx, func(tx *Store) error {
		db := tx.db.WithContext(ctx)
		if err := db.Create(it.Credential).Error; err != nil {
			return fmt.Errorf("store issued credential %s: %w", it.Credential.CredentialID, classify(err))
		}
		for i := range it.Entries {
			e := &it.Entries[i]
			if err := db.Create(e).Error; err != nil {
				err = classify(err)
				if errors.Is(err, ErrConflict) {
					err = ErrIndexTaken
				}
				return fmt.Errorf("claim status list %s index %d: %w", e.ListID, e.Index, err)
			}
		}
		return nil
	})
	return err
}

// chunks splits rows into slices of power-of-two lengths, at most
// maxInsertRows, largest first.
func chunks[T any](rows []T) [][]T {
	var out [][]T
	for len(rows) > 0 {
		n := maxInsertRows
		for n > len(rows) {
			n /= 2
		}
		out = append(out, rows[:n:n])
		rows = rows[n:]
	}
	return out
}

// padded splits values into chunks for an IN list, each of a power-of-two
// length (padded by repeating its last value), at most maxInsertRows.
func padded[T any](values []T) [][]T {
	var out [][]T
	for len(values) > 0 {
		n := min(len(values), maxInsertRows)
		size := 1
		for size < n {
			size *= 2
		}
		chunk := make([]T, size)
		copy(chunk, values[:n])
		for i := n; i < size; i++ {
			chunk[i] = values[n-1]
		}
		out = append(out, chunk)
		values = values[n:]
	}
	return out
}
