package issuer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentid/agentid/internal/store"
)

// maxBatch caps the issuances one transaction stores.
const maxBatch = 256

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 30 * time.Second

// maxLinger is the longest the writer waits for issuances being signed to
// join a batch.
const maxLinger = 2 * time.Millisecond

// committer is the group commit of a Service's issuances. Callers queue
// their signed credential with the indexes it claims and wait; one writer
// goroutine, started when the queue fills and gone when it empties, takes
// everything queued and stores it in one transaction (store.CreateIssuances),
// while the next callers queue up behind it. Under load a transaction
// carries many issuances, and the database's one commit (and, on SQLite,
// its one write lock) is paid once for all of them; alone, an issuance
// waits for nothing but its own transaction.
//
// While issuances are being signed (counted by signing), the writer waits
// up to maxLinger for them to join the queue before it starts a batch: an
// issuance alone starts its transaction at once, and under load each
// transaction carries all the issuances in flight rather than a few.
type committer struct {
	mu      sync.Mutex
	queue   []*pendingIssuance
	running bool
	// arrived is signalled when an issuance joins the queue.
	arrived chan struct{}
	// signing counts the issuances between their draw and their commit.
	signing atomic.Int64
}

// pendingIssuance is one queued issuance and where its outcome goes.
type pendingIssuance struct {
	ctx  context.Context
	item store.Issuance
	done chan error
}

// commit stores rec with the status entries refs, as part of the next
// group-commit transaction, and returns once that transaction has
// committed (or failed). An index another issuer holds fails with an
// *indexTakenError, a credential id the organization has used with
// store.ErrConflict; the other issuances of the batch are not affected.
func (s *Service) commit(ctx context.Context, rec *store.IssuedCredential, refs []StatusRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pendingIssuance{ctx: ctx, done: make(chan error, 1), item: store.Issuance{Credential: rec}}
	for _, ref := range refs {
		p.item.Entries = append(p.item.Entries, store.StatusEntry{ListID: ref.ListID, Index: ref.Index, Purpose: ref.Purpose})
	}
	c := &s.commits
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if !c.running {
		c.running = true
		if c.arrived == nil {
			c.arrived = make(chan struct{}, 1)
		}
		go s.commitLoop()
	}
	c.mu.Unlock()
	select {
	case c.arrived <- struct{}{}:
	default:
	}
	// The batch is bounded by batchTimeout; waiting for it, rather than
	// for ctx, means a caller never returns while its row may still be
	// committed.
	return <-p.done
}

// commitLoop stores queued issuances, a batch per transaction, until the
// queue is empty.
func (s *Service) commitLoop() {
	c := &s.commits
	linger := time.NewTimer(maxLinger)
	defer linger.Stop()
	for {
		c.mu.Lock()
		if waiting := func() bool { return len(c.queue) > 0 && len(c.queue) < min(int(c.signing.Load()), maxBatch) }; waiting() {
			linger.Reset(maxLinger)
		wait:
			for waiting() {
				c.mu.Unlock()
				select {
				case <-c.arrived:
					c.mu.Lock()
				case <-linger.C:
					c.mu.Lock()
					break wait
				}
			}
		}
		n := min(len(c.queue), maxBatch)
		if n == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil // let the backing array go
		}
		c.mu.Unlock()
		s.commitBatch(batch)
	}
}

// commitBatch stores one batch and hands every caller its outcome.
func (s *Service) commitBatch(batch []*pendingIssuance) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- err // the caller gave up: nothing written
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	errs, err := s.storeBatch(live)
	for i, p := range live {
		switch {
		case err != nil:
			p.done <- err
		case errors.Is(errs[i], store.ErrIndexTaken):
			p.done <- &indexTakenError{errs[i]}
		default:
			p.done <- errs[i]
		}
	}
}

// storeBatch runs the transaction of a batch. A panic fails the batch
// rather than leave its callers waiting.
func (s *Service) storeBatch(batch []*pendingIssuance) (errs []error, err error) {
	defer func() {
		if r := recover(); r != nil {
			errs, err = nil, fmt.Errorf("store %d issued credentials: panic: %v", len(batch), r)
			s.log.Error("group commit panicked", "panic", r)
		}
	}()
	// The transaction outlives any one caller's cancellation: it carries
	// the others' issuances too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
	defer cancel()
	items := make([]store.Issuance, len(batch))
	for i, p := range batch {
		items[i] = p.item
	}
	start := time.Now()
	errs, err = s.store.CreateIssuances(ctx, items)
	s.log.DebugContext(ctx, "group commit", "issuances", len(items), "duration", time.Since(start), "error", err)
	return errs, err
}

// newOrderedID returns a UUID version 7 (RFC 9562): a millisecond Unix
// timestamp, then random bits. IDs made later sort later, so the indexes
// on credential ids and row IDs grow at their end instead of at random
// pages, and a group commit dirties a few index pages rather than one or
// more per credential.
func newOrderedID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
