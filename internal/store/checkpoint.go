package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// sqliteCheckpointInterval is how often the background checkpointer copies
// the write-ahead log of a SQLite database into the database file. Often:
// each checkpoint syncs the log written since the last one, and commits
// that land during a large sync wait for it. Under 4,500 audited
// verifications/s (about 100 MB of log a second), p99 was 17–34 ms with
// 250 ms, 12–19 ms with 100 ms, 10–11 ms with 50 ms and 8–10 ms with
// 20 ms, for the same CPU; with nothing new in the log a checkpoint returns
// without touching the disk.
const sqliteCheckpointInterval = 20 * time.Millisecond

// walRestartBytes is the size of write-ahead log past which the
// checkpointer makes the log start again from its beginning (see
// walCheckpointer). It is also the journal_size_limit (see sqliteDSN): a
// log that grew past it, say while a backup kept a read transaction on it, is
// cut back to it when it restarts. A variable so that tests can lower it.
var walRestartBytes int64 = 64 << 20

// walRestartWait bounds how long a restart waits for readers that are still
// reading the log, while it holds the write lock: past it the restart gives
// up (SQLITE_BUSY).
const walRestartWait = 5 * time.Millisecond

// walRestartBackoff is how long the checkpointer waits before it tries
// again a restart that gave up: a reader that keeps a transaction open (a
// backup, say) would otherwise cost the audit appender walRestartWait in
// every checkpoint interval.
const walRestartBackoff = 250 * time.Millisecond

// walCheckpointer checkpoints a SQLite database in WAL mode from a
// goroutine of its own.
//
// By default SQLite checkpoints inside the COMMIT that grows the log past
// 1,000 pages: that commit copies the log into the database file and syncs
// it, and the request waiting on that commit (an audit event, an issuance)
// waits milliseconds longer than the others. Every connection therefore
// runs with wal_autocheckpoint(0) (see sqliteDSN) and this goroutine runs a
// PASSIVE checkpoint every sqliteCheckpointInterval. A passive checkpoint
// takes no lock that writers or readers wait for; it copies what no reader
// still needs and syncs the database file.
//
// A passive checkpoint never makes the log start again from its beginning:
// only a writer does that, when it begins at a moment when every frame of
// the log has been copied and no reader is still on the log. Under a steady
// stream of commits (the verifier's audit trail) that moment never comes —
// each commit lands while the last checkpoint is still syncing — and the
// log grows without end: about 100 MB a second with one audit event per
// commit, every frame of which each checkpoint syncs to disk again. So once
// the log holds walRestartBytes, the checkpointer runs a RESTART checkpoint
// right after the passive one: it takes the write lock, copies the few
// frames committed since, waits up to walRestartWait for readers to leave
// the log (or gives up, and is not tried again for walRestartBackoff), and
// leaves the log to be started again by the next commit. While
// it runs it holds the audit writer's mutex (see sqliteAuditWriter), so
// that audit appends wait on it instead of polling SQLite's busy handler
// (whose first sleep is a millisecond).
//
// Close runs a last TRUNCATE checkpoint, and SQLite checkpoints again when
// the last connection closes.
type walCheckpointer struct {
	db *sql.DB
	// appends is the store's audit writer, held off during a restart.
	appends *sqliteAuditWriter
	// restartFrames is walRestartBytes in frames of the database's page
	// size.
	restartFrames int64
	// nextRestart is when a restart may be tried again after one gave up
	// (only the checkpointer's goroutine uses it).
	nextRestart time.Time
	// restarts counts the restarts tried, given up or not.
	restarts atomic.Int64
	stop     chan struct{}
	done     sync.WaitGroup
}

// startWALCheckpointer starts the checkpointer of db, which holds appends
// off while it restarts the log.
func startWALCheckpointer(ctx context.Context, db *sql.DB, s *Store, appends *sqliteAuditWriter) (*walCheckpointer, error) {
	var pageSize int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return nil, fmt.Errorf("read page size: %w", err)
	}
	c := &walCheckpointer{db: db, stop: make(chan struct{}), restartFrames: max(walRestartBytes/max(pageSize, 512), 1), appends: appends}
	c.done.Go(func() {
		t := time.NewTicker(sqliteCheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := c.checkpoint(ctx); err != nil {
					s.log.Warn("checkpoint of the SQLite write-ahead log failed", "error", err)
				}
				cancel()
			}
		}
	})
	return c, nil
}

// checkpoint runs one passive checkpoint, and restarts the log when it has
// grown past walRestartBytes.
func (c *walCheckpointer) checkpoint(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var blocked, frames, copied int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&blocked, &frames, &copied); err != nil {
		return err
	}
	if frames < c.restartFrames || time.Now().Before(c.nextRestart) {
		return nil
	}
	gaveUp, err := c.restart(ctx, conn)
	if gaveUp {
		c.nextRestart = time.Now().Add(walRestartBackoff)
	}
	return err
}

// restart runs a RESTART checkpoint on conn, holding the audit writer's
// mutex, with the busy timeout lowered to walRestartWait for it. A restart
// that finds readers still on the log reports busy, not an error.
func (c *walCheckpointer) restart(ctx context.Context, conn *sql.Conn) (busy bool, err error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", walRestartWait.Milliseconds())); err != nil {
		return false, fmt.Errorf("lower busy timeout: %w", err)
	}
	defer func() {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", sqliteBusyTimeout.Milliseconds()))
		if err != nil {
			// Not back in the pool with the short timeout.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	c.appends.mu.Lock()
	defer c.appends.mu.Unlock()
	c.restarts.Add(1)
	var gaveUp, frames, copied int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&gaveUp, &frames, &copied); err != nil {
		return false, fmt.Errorf("restart the log: %w", err)
	}
	return gaveUp != 0, nil
}

// close stops the goroutine and checkpoints what is left.
func (c *walCheckpointer) close(s *Store) {
	close(c.stop)
	c.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		s.log.Warn("final checkpoint of the SQLite write-ahead log failed", "error", err)
	}
}
