package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus/internal/awsapi"
)

// Headers of JetStream's atomic batch publish.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

var errClosed = errors.New("async: queue closed")

// pending is one publish waiting for its group to be committed.
type pending struct {
	msg  *nats.Msg
	size int
	done chan error // buffered: the committer never blocks on it
}

// committer writes publishes to JetStream in groups: one goroutine takes
// what has queued up while the previous group was written, so concurrent
// callers share an fsync (group commit). Each caller is answered when its
// own message is stored.
type committer struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	observe func(size int, mode string, d time.Duration)

	in   chan *pending
	stop chan struct{}
	done chan struct{}
}

func newCommitter(cfg Config, js jetstream.JetStream, lg *slog.Logger, observe func(int, string, time.Duration)) *committer {
	c := &committer{
		cfg:     cfg,
		nc:      js.Conn(),
		js:      js,
		log:     lg,
		observe: observe,
		in:      make(chan *pending, 4*cfg.MaxBatch),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.run()
	return c
}

// publish stores m and returns once JetStream acknowledged it. If ctx ends
// first, m may or may not be stored.
func (c *committer) publish(ctx context.Context, m *nats.Msg) error {
	p := &pending{msg: m, size: len(m.Data) + len(m.Subject) + 256, done: make(chan error, 1)}
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
			if size+p.size > c.cfg.MaxBatchBytes {
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

// commit writes group and answers every caller.
func (c *committer) commit(group []*pending) {
	start := time.Now()
	mode := "single"
	if len(group) >= c.cfg.MinAtomicBatch {
		mode = "atomic"
		err := c.commitAtomic(group)
		if err == nil {
			for _, p := range group {
				p.done <- nil
			}
			c.observe(len(group), mode, time.Since(start))
			return
		}
		// The batch was not stored as a whole (or we cannot tell): publish
		// one by one. Nats-Msg-Id makes that safe if it was stored after
		// all.
		c.log.Warn("atomic batch publish failed; publishing its messages one by one", "messages", len(group), "err", err)
		mode = "fallback"
	}
	c.commitEach(group)
	c.observe(len(group), mode, time.Since(start))
}

// commitEach pipelines the group's publishes and waits for every ack.
func (c *committer) commitEach(group []*pending) {
	futures := make([]jetstream.PubAckFuture, len(group))
	for i, p := range group {
		f, err := c.js.PublishMsgAsync(p.msg)
		if err != nil {
			p.done <- fmt.Errorf("publishing to %s: %w", p.msg.Subject, err)
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
			group[i].done <- nil
		case err := <-f.Err():
			group[i].done <- fmt.Errorf("publishing to %s: %w", group[i].msg.Subject, err)
		case <-timeout.C:
			for _, p := range group[i:] {
				p.done <- fmt.Errorf("publishing to %s: no acknowledgement within %v", p.msg.Subject, c.cfg.PublishTimeout)
			}
			return
		}
	}
}

// batchAck is JetStream's answer to the commit of an atomic batch.
type batchAck struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Batch  string `json:"batch"`
	Count  int    `json:"count"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// commitAtomic writes the group as one atomic batch: JetStream stores it
// all or nothing with a single fsync.
func (c *committer) commitAtomic(group []*pending) error {
	id := awsapi.NewRequestID()
	var resp *nats.Msg
	for i, p := range group {
		h := make(nats.Header, len(p.msg.Header)+3)
		for k, v := range p.msg.Header {
			h[k] = v
		}
		h[hdrBatchID] = []string{id}
		h[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
		m := &nats.Msg{Subject: p.msg.Subject, Data: p.msg.Data, Header: h}
		if i < len(group)-1 {
			if err := c.nc.PublishMsg(m); err != nil {
				return err
			}
			continue
		}
		h[hdrBatchCommit] = []string{"1"}
		var err error
		if resp, err = c.nc.RequestMsg(m, c.cfg.PublishTimeout); err != nil {
			return err
		}
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("decoding batch ack %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("batch rejected: %s (error %d)", ack.Error.Description, ack.Error.ErrCode)
	}
	if ack.Count != len(group) {
		return fmt.Errorf("batch ack counts %d messages, sent %d", ack.Count, len(group))
	}
	return nil
}
