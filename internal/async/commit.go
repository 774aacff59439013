package async

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus/internal/awsapi"
)

var errClosed = errors.New("async: queue closed")

// Modes of a group commit, for the commit metrics.
const (
	modeBundle  = "bundle"  // only bundles: one message per function
	modeMessage = "message" // also messages stored as they are
)

// headerRoom is what a bundle leaves of the server's maximum payload for
// its headers.
const headerRoom = 4 << 10

// pending is one publish waiting for its group to be committed: an event,
// stored in one bundle with the group's other events of its function, or
// a message stored as it is (scheduled retries; events whose request id
// the caller chose, which JetStream de-duplicates by that id).
type pending struct {
	ev   *event
	msg  *nats.Msg
	size int
	done chan error // buffered: the committer never blocks on it
}

// committer writes publishes to JetStream in groups: one goroutine takes
// what has queued up while the previous group was written, so concurrent
// callers share a write and its fsync (group commit). Each caller is
// answered when the message holding its event is stored.
type committer struct {
	cfg      Config
	js       jetstream.JetStream
	maxBytes int // bounds a group, so that any bundle of it fits a message
	observe  func(events int, mode string, d time.Duration)

	in   chan *pending
	stop chan struct{}
	done chan struct{}
}

// newCommitter returns a committer; start runs it.
func newCommitter(cfg Config, js jetstream.JetStream, observe func(int, string, time.Duration)) *committer {
	maxBytes := cfg.MaxBatchBytes
	if mp := int(js.Conn().MaxPayload()); mp > 0 {
		maxBytes = min(maxBytes, mp-headerRoom)
	}
	return &committer{
		cfg:      cfg,
		js:       js,
		maxBytes: maxBytes,
		observe:  observe,
		in:       make(chan *pending, 4*cfg.MaxBatch),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

func (c *committer) start() { go c.run() }

// publishEvent stores ev in a bundle on its function's subject and returns
// once JetStream acknowledged it. If ctx ends first, ev may or may not be
// stored.
func (c *committer) publishEvent(ctx context.Context, ev *event) error {
	return c.publish(ctx, &pending{ev: ev, size: ev.encodedSize(), done: make(chan error, 1)})
}

// publishMsg stores m as it is, like publishEvent.
func (c *committer) publishMsg(ctx context.Context, m *nats.Msg) error {
	return c.publish(ctx, &pending{msg: m, size: len(m.Data) + len(m.Subject) + 256, done: make(chan error, 1)})
}

func (c *committer) publish(ctx context.Context, p *pending) error {
	select {
	case c.in <- p:
	case <-c.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the committer after the group being written; publishes
// still queued fail with errClosed.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	var carry *pending
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-c.in:
			case <-c.stop:
				c.failQueued()
				return
			}
		}
		group := []*pending{first}
		size := first.size
		take := func(p *pending) bool {
			if size+p.size > c.maxBytes {
				carry = p
				return false
			}
			group = append(group, p)
			size += p.size
			return len(group) < c.cfg.MaxBatch
		}
		// Everything that queued up while the last group was written.
	drain:
		for len(group) < c.cfg.MaxBatch {
			select {
			case p := <-c.in:
				if !take(p) {
					break drain
				}
			default:
				break drain
			}
		}
		// Concurrent callers: wait a little for more of them.
		if len(group) > 1 && carry == nil && len(group) < c.cfg.MaxBatch && c.cfg.CommitWindow > 0 {
			t := time.NewTimer(c.cfg.CommitWindow)
		window:
			for {
				select {
				case p := <-c.in:
					if !take(p) {
						break window
					}
				case <-t.C:
					break window
				}
			}
			t.Stop()
		}
		c.commit(group)
	}
}

func (c *committer) failQueued() {
	for {
		select {
		case p := <-c.in:
			p.done <- errClosed
		default:
			return
		}
	}
}

// write is one message of a group commit and the callers it answers.
type write struct {
	msg     *nats.Msg
	waiters []*pending
}

// commit writes group, the events of each function as one bundle and the
// messages as they are, pipelined, and answers every caller.
func (c *committer) commit(group []*pending) {
	start := time.Now()
	writes := c.messages(group)
	mode := modeBundle
	for _, p := range group {
		if p.msg != nil {
			mode = modeMessage
			break
		}
	}
	futures := make([]jetstream.PubAckFuture, len(writes))
	for i, w := range writes {
		f, err := c.js.PublishMsgAsync(w.msg)
		if err != nil {
			w.answer(fmt.Errorf("publishing to %s: %w", w.msg.Subject, err))
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(c.cfg.PublishTimeout)
	defer timeout.Stop()
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			writes[i].answer(nil)
		case err := <-f.Err():
			writes[i].answer(fmt.Errorf("publishing to %s: %w", writes[i].msg.Subject, err))
		case <-timeout.C:
			for _, w := range writes[i:] {
				w.answer(fmt.Errorf("publishing to %s: no acknowledgement within %v", w.msg.Subject, c.cfg.PublishTimeout))
			}
			c.observe(len(group), mode, time.Since(start))
			return
		}
	}
	c.observe(len(group), mode, time.Since(start))
}

// messages turns a group into the messages to write: one bundle per
// function, in the order the functions first appear, with a fresh
// Nats-Msg-Id (should the client resend it, JetStream stores it once),
// and the group's messages as they are.
func (c *committer) messages(group []*pending) []write {
	var writes []write
	bundles := map[string]int{} // function -> index in writes
	for _, p := range group {
		if p.msg != nil {
			writes = append(writes, write{msg: p.msg, waiters: []*pending{p}})
			continue
		}
		i, ok := bundles[p.ev.Function]
		if !ok {
			i = len(writes)
			bundles[p.ev.Function] = i
			writes = append(writes, write{})
		}
		writes[i].waiters = append(writes[i].waiters, p)
	}
	for fn, i := range bundles {
		ws := writes[i].waiters
		events := make([]*event, len(ws))
		for j, p := range ws {
			events[j] = p.ev
		}
		writes[i].msg = &nats.Msg{
			Subject: c.cfg.eventSubject(fn, len(events)),
			Header:  nats.Header{hdrMsgID: []string{awsapi.NewRequestID()}},
			Data:    encodeBundle(events),
		}
	}
	return writes
}

func (w write) answer(err error) {
	for _, p := range w.waiters {
		p.done <- err
	}
}
