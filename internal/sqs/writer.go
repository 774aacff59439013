package sqs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ticket is a submission to a writer; done receives the outcome once.
type ticket struct {
	items any // what the writer's flush function understands
	size  int // bytes the items add to a stored message
	done  chan error
	// set by the flush function before done fires
	seq uint64 // stream sequence of the stored message
	idx int    // position of the first item in it
}

// wait blocks until the ticket's write is durable (or failed) or ctx ends.
// A cancelled wait does not cancel the write.
func (t *ticket) wait(ctx context.Context) error {
	select {
	case err := <-t.done:
		t.done <- err // let later waiters see it too
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for a durable write: %w", ctx.Err())
	}
}

// writer is a group commit: submissions queue up while one JetStream
// publish (one fsync with SyncAlways) is in flight, and the next publish
// carries all of them. With one caller at a time nothing waits for
// company; under concurrency the batches grow by themselves, so the
// number of fsyncs per second, not per message, bounds throughput.
//
// submit never blocks, so callers may submit while holding their own
// locks, which fixes the order of submissions: the order in which they
// are stored.
type writer struct {
	maxBytes int
	flush    func(batch []*ticket) // stores the batch and completes every ticket

	mu     sync.Mutex
	queue  []*ticket // mu guards queue and closed
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

var errWriterClosed = errors.New("queue is closing")

func newWriter(maxBytes int, flush func([]*ticket)) *writer {
	w := &writer{maxBytes: maxBytes, flush: flush, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// submit queues items for the next write.
func (w *writer) submit(items any, size int) *ticket {
	t := &ticket{items: items, size: size, done: make(chan error, 1)}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		t.done <- errWriterClosed
		return t
	}
	w.queue = append(w.queue, t)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return t
}

// close stores what is queued, stops the writer and waits for it.
func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	for range w.wake {
		for {
			w.mu.Lock()
			batch := w.takeLocked()
			closed := w.closed
			w.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			w.flush(batch)
		}
	}
}

// takeLocked removes the longest prefix of the queue that fits maxBytes
// (at least one ticket). w.mu must be held.
func (w *writer) takeLocked() []*ticket {
	n, size := 0, 0
	for n < len(w.queue) && (n == 0 || size+w.queue[n].size <= w.maxBytes) {
		size += w.queue[n].size
		n++
	}
	batch := append([]*ticket(nil), w.queue[:n]...)
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	return batch
}

// complete finishes every ticket of a batch with err.
func complete(batch []*ticket, err error) {
	for _, t := range batch {
		t.done <- err
	}
}

// publishTimeout bounds one publish attempt.
const publishTimeout = 10 * time.Second

// publish stores msg durably, retrying a few times on timeouts under one
// message id so that a retried write is stored once.
func publish(js jetstream.JetStream, msg *nats.Msg) (*jetstream.PubAck, error) {
	var id [12]byte
	_, _ = rand.Read(id[:])
	msgID := hex.EncodeToString(id[:])
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		var ack *jetstream.PubAck
		ack, err = js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithRetryAttempts(3))
		cancel()
		if err == nil {
			return ack, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
			break
		}
	}
	return nil, fmt.Errorf("storing to %s: %w", msg.Subject, err)
}
