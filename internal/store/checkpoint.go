package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// sqliteCheckpointInterval is how often the background checkpointer copies
// the write-ahead log of a SQLite database into the database file.
const sqliteCheckpointInterval = 250 * time.Millisecond

// walCheckpointer checkpoints a SQLite database in WAL mode from a
// goroutine of its own.
//
// By default SQLite checkpoints inside the COMMIT that grows the log past
// 1,000 pages: that commit copies the log into the database file and syncs
// it, and the request waiting on that commit (an audit event, an issuance)
// waits milliseconds longer than the others. Every connection therefore
// runs with wal_autocheckpoint(0) (see sqliteDSN) and this goroutine runs a
// PASSIVE checkpoint every sqliteCheckpointInterval on a connection of its
// own. A passive checkpoint takes no lock that writers or readers wait for;
// it copies what no reader still needs, and the log restarts from its
// beginning once everything was copied. Close runs a last full checkpoint,
// and SQLite checkpoints again when the last connection closes.
type walCheckpointer struct {
	db   *sql.DB
	stop chan struct{}
	done sync.WaitGroup
}

func startWALCheckpointer(db *sql.DB, s *Store) *walCheckpointer {
	c := &walCheckpointer{db: db, stop: make(chan struct{})}
	c.done.Go(func() {
		t := time.NewTicker(sqliteCheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if _, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
					s.log.Warn("checkpoint of the SQLite write-ahead log failed", "error", err)
				}
				cancel()
			}
		}
	})
	return c
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
