package verify

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// Recorder buffers key uses in memory and writes them in batches: per key
// the latest time and client IP (api_keys.last_used_at and last_used_ip) and
// per key and UTC day the number of requests and of refused attempts
// (key_usage). Recording is a map update under a mutex; Flush writes what
// was buffered with store.RecordUses, one UPDATE and one upsert however many
// requests there were. A failed flush keeps the data for the next one and
// never fails a request. It is safe for concurrent use.
type Recorder struct {
	st  *store.Store
	log *slog.Logger

	mu      sync.Mutex
	pending map[useKey]model.KeyUse

	flushMu sync.Mutex // one flush at a time, so retries merge in order
	// written counts the batches written (flushes that had uses to write
	// and succeeded).
	written atomic.Int64

	startOnce, closeOnce sync.Once
	stop, done           chan struct{}
}

// useKey groups uses: per key, UTC day, and whether the key was refused.
type useKey struct {
	keyID   int64
	day     int64 // days since the Unix epoch, UTC
	refused bool
}

// NewRecorder returns a recorder writing to st. Call Start to flush in the
// background and Close to stop and flush what is left.
func NewRecorder(st *store.Store, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{st: st, log: log, pending: make(map[useKey]model.KeyUse)}
}

// Record notes that the key was used successfully at at from ip.
func (r *Recorder) Record(keyID int64, ip string, at time.Time) { r.add(keyID, ip, at, false, "") }

// RecordRefused notes that the key, which exists, was presented at at from
// ip and refused for reason (model.RefusedRevoked, RefusedIP …).
func (r *Recorder) RecordRefused(keyID int64, ip string, at time.Time, reason string) {
	r.add(keyID, ip, at, true, reason)
}

func (r *Recorder) add(keyID int64, ip string, at time.Time, refused bool, reason string) {
	k := useKey{keyID: keyID, day: at.Unix() / 86400, refused: refused}
	r.mu.Lock()
	u := r.pending[k]
	u.KeyID = keyID
	if !at.Before(u.At) {
		u.At, u.IP = at, ip
	}
	if refused {
		u.Refused++
		u.RefusedBy.Add(reason, 1)
	} else {
		u.Requests++
	}
	r.pending[k] = u
	r.mu.Unlock()
}

// Pending returns how many key-day entries wait for the next flush.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush writes everything buffered so far in one batch. If the write fails
// the uses are kept (merged with those recorded meanwhile) for the next
// flush, and the error is returned.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.pending
	if len(batch) == 0 {
		r.mu.Unlock()
		return nil
	}
	r.pending = make(map[useKey]model.KeyUse, len(batch))
	r.mu.Unlock()

	uses := make([]model.KeyUse, 0, len(batch))
	for _, u := range batch {
		uses = append(uses, u)
	}
	err := r.st.RecordUses(ctx, uses)
	if err != nil {
		r.mergeBack(batch)
		return err
	}
	r.written.Add(1)
	return nil
}

// Written returns how many batches have been written: the flushes that
// had uses to write and succeeded (a flush with nothing buffered writes
// nothing and is not counted).
func (r *Recorder) Written() int64 { return r.written.Load() }

// mergeBack returns a batch that could not be written to the buffer.
func (r *Recorder) mergeBack(batch map[useKey]model.KeyUse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, old := range batch {
		u, ok := r.pending[k]
		if !ok {
			r.pending[k] = old
			continue
		}
		u.Requests += old.Requests
		u.Refused += old.Refused
		if old.At.After(u.At) {
			u.At, u.IP = old.At, old.IP
		}
		r.pending[k] = u
	}
}

// Start flushes every interval in the background until Close. A failed
// flush is logged and retried at the next tick.
func (r *Recorder) Start(every time.Duration) {
	r.startOnce.Do(func() {
		r.stop, r.done = make(chan struct{}), make(chan struct{})
		go r.loop(every)
	})
}

func (r *Recorder) loop(every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), max(every, 10*time.Second))
			if err := r.Flush(ctx); err != nil {
				r.log.Warn("writing last-used times failed; keeping them for the next try", "err", err, "pending", r.Pending())
			}
			cancel()
		}
	}
}

// Close stops the background flushes and flushes what is left. It is safe
// to call more than once.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		// Waits for a Start in progress, and keeps a later one from starting.
		r.startOnce.Do(func() {})
		if r.stop != nil {
			close(r.stop)
			<-r.done
		}
	})
	return r.Flush(ctx)
}
