package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	moderncsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Status list kinds.
const (
	// StatusListBitstring is a W3C Bitstring Status List: one purpose per
	// list, 1-bit entries.
	StatusListBitstring = "bitstring"
	// StatusListToken is an IETF Token Status List: one list for every
	// status of a token, 2-bit entries (0 VALID, 1 INVALID, 2 SUSPENDED).
	StatusListToken = "token"
)

// StatusPurposeToken is the purpose of every token status list: its values
// carry revocation and suspension at once.
const StatusPurposeToken = "status"

// StatusList is one status list: its identity, its capacity and how much of
// it is allocated, its version (one more for every status change) and the
// cached signed form of the list at SignedVersion.
type StatusList struct {
	// ID is the list's public identifier, the last segment of its URL
	// (/status/{id}); OpenStatusList fills it in.
	ID             string `gorm:"column:id;primaryKey"`
	OrganizationID string `gorm:"column:organization_id"`
	// IssuerDID is the identity that signs the list and every credential
	// whose status it holds: a verifier accepts a list only from the
	// credential's own issuer.
	IssuerDID string `gorm:"column:issuer_did"`
	// Kind is StatusListBitstring or StatusListToken.
	Kind string `gorm:"column:kind"`
	// Purpose is "revocation" or "suspension" for bitstring lists,
	// StatusPurposeToken for token lists.
	Purpose string `gorm:"column:purpose"`
	// Seq numbers the lists of one issuer, kind and purpose from 1.
	Seq int `gorm:"column:seq"`
	// Size is the number of entries; Bits the bits per entry.
	Size int `gorm:"column:size"`
	Bits int `gorm:"column:bits"`
	// Used is a lower bound of the number of allocated indexes, recorded
	// now and then by NoteStatusListUsage.
	Used int `gorm:"column:used"`
	// Version is 1 for a new list and grows with every status change.
	Version int64 `gorm:"column:version"`
	// EncodedList, SignedDocument and SignedAt are the list as last signed,
	// at SignedVersion (0: never signed).
	EncodedList    string     `gorm:"column:encoded_list"`
	SignedDocument string     `gorm:"column:signed_document"`
	SignedVersion  int64      `gorm:"column:signed_version"`
	SignedAt       *time.Time `gorm:"column:signed_at"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
}

// TableName is the status list table.
func (StatusList) TableName() string { return "status_lists" }

// StatusEntry is one allocated index of a list: which credential it belongs
// to and its current value (0 valid). Entries are never deleted, so an
// index is never handed out twice.
type StatusEntry struct {
	ListID          string `gorm:"column:list_id;primaryKey"`
	Index           int    `gorm:"column:idx;primaryKey"`
	CredentialRowID string `gorm:"column:credential_row_id"`
	// Purpose is the list's purpose, copied for convenience.
	Purpose string `gorm:"column:purpose"`
	Value   int    `gorm:"column:value"`
}

// TableName is the status entry table.
func (StatusEntry) TableName() string { return "status_entries" }

// StatusListSpec says which list an index is wanted from.
type StatusListSpec struct {
	OrganizationID string
	IssuerDID      string
	Kind           string
	Purpose        string
	// Size and Bits are those of a list created for the spec.
	Size int
	Bits int
	// FullPercent is the fill level, in percent of Size, from which a list
	// takes no more allocations and a new one is opened (1 to 100).
	FullPercent int
}

// OpenStatusList returns the newest list of spec's issuer, kind and purpose
// that is less than FullPercent allocated, creating the next list when
// there is none. Concurrent callers, in one process or several, that find no
// open list race to create the same next seq: the unique key lets one win,
// and the others use its list.
func (s *Store) OpenStatusList(ctx context.Context, spec StatusListSpec) (*StatusList, error) {
	switch {
	case spec.OrganizationID == "", spec.IssuerDID == "", spec.Kind == "", spec.Purpose == "":
		return nil, errors.New("open status list: incomplete spec")
	case spec.Size <= 0, spec.Bits <= 0, spec.FullPercent < 1, spec.FullPercent > 100:
		return nil, fmt.Errorf("open status list: bad size %d, bits %d or fill level %d%%", spec.Size, spec.Bits, spec.FullPercent)
	}
	db := s.db.WithContext(ctx)
	for range 8 {
		var lists []StatusList
		err := db.Select("id, organization_id, issuer_did, kind, purpose, seq, size, bits, used, version, created_at").
			Where("issuer_did = ? AND kind = ? AND purpose = ?", spec.IssuerDID, spec.Kind, spec.Purpose).
			Where("used * 100 < size * ?", spec.FullPercent).
			Order("seq DESC").Limit(1).Find(&lists).Error
		if err != nil {
			return nil, fmt.Errorf("open %s status list of %s: %w", spec.Purpose, spec.IssuerDID, classify(err))
		}
		if len(lists) == 1 {
			if lists[0].OrganizationID != spec.OrganizationID {
				return nil, fmt.Errorf("open %s status list of %s: the list belongs to another organization", spec.Purpose, spec.IssuerDID)
			}
			return &lists[0], nil
		}
		var maxSeq int
		err = db.Model(&StatusList{}).Select("COALESCE(MAX(seq), 0)").
			Where("issuer_did = ? AND kind = ? AND purpose = ?", spec.IssuerDID, spec.Kind, spec.Purpose).
			Scan(&maxSeq).Error
		if err != nil {
			return nil, fmt.Errorf("open %s status list of %s: %w", spec.Purpose, spec.IssuerDID, classify(err))
		}
		l := &StatusList{
			ID: newShortID(), OrganizationID: spec.OrganizationID, IssuerDID: spec.IssuerDID,
			Kind: spec.Kind, Purpose: spec.Purpose, Seq: maxSeq + 1, Size: spec.Size, Bits: spec.Bits,
			Version: 1, CreatedAt: now(),
		}
		// A savepoint (or a transaction of its own): on PostgreSQL a failed
		// insert would otherwise abort the caller's whole transaction.
		err = s.Transaction(ctx, func(tx *Store) error {
			return tx.db.WithContext(ctx).Create(l).Error
		})
		switch err = classify(err); {
		case err == nil:
			return l, nil
		case errors.Is(err, ErrConflict):
			continue // another issuer opened it first: use theirs
		default:
			return nil, fmt.Errorf("create %s status list %d of %s: %w", spec.Purpose, l.Seq, spec.IssuerDID, err)
		}
	}
	return nil, fmt.Errorf("open %s status list of %s: %w: lost the race to create a list too often", spec.Purpose, spec.IssuerDID, ErrConflict)
}

// StatusIndexTaken reports whether idx of the list has been allocated (and
// committed, or allocated earlier in the caller's transaction).
func (s *Store) StatusIndexTaken(ctx context.Context, listID string, idx int) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&StatusEntry{}).Where("list_id = ? AND idx = ?", listID, idx).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("status list %s index %d: %w", listID, idx, classify(err))
	}
	return n > 0, nil
}

// ClaimStatusIndex allocates idx of the list to the credential row
// credentialRowID (which must be stored in the same transaction). It returns
// ErrConflict when the index is taken, leaving the caller's transaction
// usable (the insert runs in a savepoint), so the caller can draw another.
// Call it inside Transaction, and store the credential in the same one.
func (s *Store) ClaimStatusIndex(ctx context.Context, e *StatusEntry) error {
	err := s.Transaction(ctx, func(tx *Store) error {
		return tx.db.WithContext(ctx).Create(e).Error
	})
	if err != nil {
		return fmt.Errorf("claim status list %s index %d: %w", e.ListID, e.Index, classify(err))
	}
	return nil
}

// CountStatusListEntries counts the allocated indexes of a list.
func (s *Store) CountStatusListEntries(ctx context.Context, listID string) (int, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&StatusEntry{}).Where("list_id = ?", listID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count entries of status list %s: %w", listID, classify(err))
	}
	return int(n), nil
}

// NoteStatusListUsage records that at least used indexes of the list are
// allocated (used never decreases; it is capped at the list's size).
// Issuers call it now and then, not for every allocation, so that the list
// row does not become a point every issuance waits on: it only steers
// OpenStatusList to a new list when one fills.
func (s *Store) NoteStatusListUsage(ctx context.Context, listID string, used int) error {
	err := s.db.WithContext(ctx).Model(&StatusList{}).Where("id = ? AND used < ?", listID, used).
		Update("used", gorm.Expr("CASE WHEN ? > size THEN size ELSE ? END", used, used)).Error
	if err != nil {
		return fmt.Errorf("note allocations of status list %s: %w", listID, classify(err))
	}
	return nil
}

// StatusListByID returns the list with the given ID, its cached signed form
// included, or ErrNotFound.
func (s *Store) StatusListByID(ctx context.Context, id string) (*StatusList, error) {
	var l StatusList
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&l).Error; err != nil {
		return nil, fmt.Errorf("status list %s: %w", id, classify(err))
	}
	return &l, nil
}

// SetStatusEntries returns the entries of the list whose value is not 0.
// To build the list at a version, read the version (StatusListByID) first
// and the entries after: the entries are then at least as new as the
// version, never older.
func (s *Store) SetStatusEntries(ctx context.Context, listID string) ([]StatusEntry, error) {
	var out []StatusEntry
	err := s.db.WithContext(ctx).Where("list_id = ? AND value <> 0", listID).Order("idx").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("set entries of status list %s: %w", listID, classify(err))
	}
	return out, nil
}

// SaveSignedStatusList caches the signed form of the list at version. It
// never replaces a cache of a newer version, so a slow signer cannot
// overwrite a faster one's newer list.
func (s *Store) SaveSignedStatusList(ctx context.Context, listID string, version int64, encodedList, document string, signedAt time.Time) error {
	err := s.db.WithContext(ctx).Model(&StatusList{}).
		Where("id = ? AND signed_version <= ?", listID, version).
		Updates(map[string]any{
			"encoded_list": encodedList, "signed_document": document,
			"signed_version": version, "signed_at": signedAt.UTC().Truncate(time.Microsecond),
		}).Error
	if err != nil {
		return fmt.Errorf("cache signed status list %s version %d: %w", listID, version, classify(err))
	}
	return nil
}

// StatusEntriesOf returns the status entries of a credential row, with
// their lists (without the cached signed forms), ordered by purpose.
func (s *Store) StatusEntriesOf(ctx context.Context, credentialRowID string) ([]StatusEntry, error) {
	var out []StatusEntry
	err := s.db.WithContext(ctx).Where("credential_row_id = ?", credentialRowID).Order("purpose, list_id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("status entries of credential %s: %w", credentialRowID, classify(err))
	}
	return out, nil
}

// Retryable reports whether err is a transient failure of a transaction
// that may succeed when run again: a PostgreSQL deadlock or serialization
// failure, or SQLite busy beyond its timeout.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40P01" || pgErr.Code == "40001"
	}
	var sqliteErr *moderncsqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// CountStatusEntries counts the status indexes allocated on an
// organization's lists.
func (s *Store) CountStatusEntries(ctx context.Context, orgID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&StatusEntry{}).
		Where("list_id IN (SELECT id FROM status_lists WHERE organization_id = ?)", orgID).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count status entries: %w", classify(err))
	}
	return n, nil
}
