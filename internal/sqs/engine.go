package sqs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// engine runs one queue: its stream, the in-memory index rebuilt from it,
// the two group-commit writers (message bundles and state ops) and a
// clock goroutine that wakes long polls when delays and visibility
// timeouts end, applies retention and removes fully deleted bundles.
//
// Lock order: engine.mu, then writer.mu.
type engine struct {
	svc     *Service
	name    string
	arn     string
	id      [8]byte // queue id: names the stream and binds receipt handles
	stream  jetstream.Stream
	msgSubj string
	logSubj string
	log     *slog.Logger

	msgw  *writer // bundles of messages
	opw   *writer // state ops
	cache *bundleCache

	setMu sync.Mutex // serialises setConfig, so the stream ends with the last retention

	mu        sync.Mutex
	cfg       queueConfig         // mu guards everything below
	idx       *index              //
	dedup     *dedupTable         // FIFO queues
	attempts  map[string]*attempt // FIFO ReceiveRequestAttemptId replays
	signal    chan struct{}       // closed (and replaced) when messages may have become visible
	removals  []removal           // bundles to remove from the stream
	lastPurge time.Time
	opsSince  int // ops written since the last compaction
	snapSize  int // ops written by the last compaction
	closed    bool

	clockWake chan struct{}
	stop      chan struct{} // closed by close
	clockDone chan struct{}
	closeOnce sync.Once
}

// removal is a fully deleted bundle, to be removed from the stream at or
// after notBefore (FIFO bundles stay for the de-duplication window).
type removal struct {
	seq       uint64
	notBefore int64
}

func streamName(id [8]byte) string { return "SQS_" + hex.EncodeToString(id[:]) }

func (s *Service) now() int64 { return s.cfg.Now().UnixMilli() }

// openEngine binds to (creating if needed) the stream of queue rec and
// rebuilds the index from it.
func (s *Service) openEngine(ctx context.Context, rec *queueRecord) (*engine, error) {
	id, err := rec.idBytes()
	if err != nil {
		return nil, err
	}
	e := &engine{
		svc:       s,
		name:      rec.Name,
		arn:       s.queueARN(rec.Name),
		id:        id,
		msgSubj:   "sqs." + rec.ID + ".m",
		logSubj:   "sqs." + rec.ID + ".s",
		log:       s.log.With("queue", rec.Name),
		cache:     newBundleCache(s.cfg.CacheBytes),
		cfg:       parseConfig(rec.Attrs),
		attempts:  make(map[string]*attempt),
		signal:    make(chan struct{}),
		clockWake: make(chan struct{}, 1),
		stop:      make(chan struct{}),
		clockDone: make(chan struct{}),
	}
	e.idx = newIndex(e.cfg.FIFO)
	e.dedup = newDedupTable()
	if e.stream, err = s.js.CreateOrUpdateStream(ctx, e.streamConfig(e.cfg.Retention)); err != nil {
		return nil, fmt.Errorf("opening stream of queue %s: %w", rec.Name, err)
	}
	if err := e.recover(ctx); err != nil {
		return nil, fmt.Errorf("recovering queue %s: %w", rec.Name, err)
	}
	e.msgw = newWriter(maxBundleBytes, e.flushBundle)
	e.opw = newWriter(maxOpBytes, e.flushOps)
	go e.clock()
	return e, nil
}

// Sizes of stored messages: well below the server's max payload.
const (
	maxBundleBytes = 4 << 20
	maxOpBytes     = 512 << 10
	// dedupWindow is FIFO's de-duplication interval.
	dedupWindow = 5 * time.Minute
)

// streamConfig is the queue's stream keeping messages for retention.
func (e *engine) streamConfig(retention time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        streamName(e.id),
		Description: "Stratus SQS queue " + e.name,
		Subjects:    []string{e.msgSubj, e.logSubj},
		Storage:     jetstream.FileStorage,
		Replicas:    e.svc.cfg.Replicas,
		MaxAge:      retention,
		Duplicates:  min(2*time.Minute, retention), // covers our own publish retries; JetStream wants ≤ MaxAge
		AllowDirect: true,
		Discard:     jetstream.DiscardOld,
	}
}

// setConfig applies new attributes to a running queue.
func (e *engine) setConfig(ctx context.Context, cfg queueConfig) error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	e.mu.Lock()
	old := e.cfg
	e.cfg = cfg
	e.mu.Unlock()
	if old.Retention != cfg.Retention {
		if _, err := e.svc.js.UpdateStream(ctx, e.streamConfig(cfg.Retention)); err != nil {
			return fmt.Errorf("updating retention of queue %s: %w", e.name, err)
		}
	}
	e.kick()
	return nil
}

// close stops the engine; stored state stays.
func (e *engine) close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.signalLocked()
		e.mu.Unlock()
		close(e.stop)
		<-e.clockDone
		e.msgw.close()
		e.opw.close()
	})
}

// signalLocked wakes every long poll. e.mu must be held.
func (e *engine) signalLocked() {
	close(e.signal)
	e.signal = make(chan struct{})
}

// kick wakes the clock to recompute its next deadline.
func (e *engine) kick() {
	select {
	case e.clockWake <- struct{}{}:
	default:
	}
}

// clockIdle is how often the clock runs without a deadline: retention,
// bundle removals and de-duplication expiry.
const clockIdle = 2 * time.Second

// clock makes messages visible when their time comes and wakes waiting
// receives; it also expires messages and removes deleted bundles.
func (e *engine) clock() {
	defer close(e.clockDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-e.clockWake:
		case <-timer.C:
		}
		now := e.svc.now()
		e.mu.Lock()
		if e.idx.advance(now) {
			e.signalLocked()
		}
		e.expireLocked(now)
		e.dedup.expire(now)
		for id, a := range e.attempts {
			if a.expires <= now {
				delete(e.attempts, id)
			}
		}
		due := e.dueRemovalsLocked(now)
		next := e.idx.nextTimer()
		e.mu.Unlock()
		e.removeBundles(due)
		wait := clockIdle
		if next > 0 {
			wait = min(wait, time.Duration(next-now)*time.Millisecond)
		}
		timer.Reset(max(wait, time.Millisecond))
	}
}

// expireLocked drops messages older than the retention period; the
// stream's MaxAge removes their bundles. e.mu must be held.
func (e *engine) expireLocked(now int64) {
	limit := now - e.cfg.Retention.Milliseconds()
	e.idx.sweep(func(m *message) bool { return m.meta.Sent <= limit }, func(m *message) {
		e.scheduleRemovalLocked(e.idx.remove(m))
	})
}

// scheduleRemovalLocked queues a fully deleted bundle for removal.
func (e *engine) scheduleRemovalLocked(b *bundle) {
	if b == nil {
		return
	}
	nb := int64(0)
	if e.cfg.FIFO {
		nb = b.sent + dedupWindow.Milliseconds()
	}
	e.removals = append(e.removals, removal{seq: b.seq, notBefore: nb})
	e.kick()
}

func (e *engine) dueRemovalsLocked(now int64) []uint64 {
	var due []uint64
	keep := e.removals[:0]
	for _, r := range e.removals {
		if r.notBefore <= now {
			due = append(due, r.seq)
		} else {
			keep = append(keep, r)
		}
	}
	e.removals = keep
	return due
}

// removeBundles deletes bundles whose messages are all deleted. A failure
// is retried by the next recovery (the state log still says they are
// deleted).
func (e *engine) removeBundles(seqs []uint64) {
	for _, seq := range seqs {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		err := e.stream.DeleteMsg(ctx, seq)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			e.log.Warn("removing a deleted bundle", "seq", seq, "err", err)
			continue
		}
		e.mu.Lock()
		delete(e.idx.bundles, seq)
		e.cache.drop(seq)
		e.mu.Unlock()
	}
}

// newNonce returns a receipt nonce; 0 means "never received".
func newNonce() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}

// header builds a NATS message for subject.
func newMsg(subject string, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = data
	return m
}
