package logs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// item is one queued event.
type item struct {
	group, stream string
	ts            int64
	msg           string
}

// queue is the bounded buffer between PutLogEvents and the publisher.
type queue struct {
	mu        sync.Mutex
	items     []item // mu guards every field below
	bytes     int
	inflight  int
	closed    bool
	overflow  bool // events were dropped since the last overflow warning
	accepted  uint64
	published uint64
	failed    uint64
	dropped   uint64
	progress  chan struct{} // closed and replaced when published/failed grow

	wake   chan struct{} // capacity 1: "there is work"
	urgent chan struct{} // capacity 1: "publish now" (Flush, Close): ends a linger
}

func (q *queue) init() {
	q.progress = make(chan struct{})
	q.wake = make(chan struct{}, 1)
	q.urgent = make(chan struct{}, 1)
}

// hurry ends the publisher's linger, if it is lingering.
func (q *queue) hurry() {
	select {
	case q.urgent <- struct{}{}:
	default:
	}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.hurry()
	q.signal()
}

// take swaps the queued items for spare and reports whether the queue is
// closed.
func (q *queue) take(spare []item) ([]item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items, q.bytes, q.inflight = spare, 0, len(items)
	return items, q.closed
}

func (q *queue) finish(published, failed int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.published += uint64(published)
	q.failed += uint64(failed)
	q.inflight -= published + failed
	close(q.progress)
	q.progress = make(chan struct{})
}

func (q *queue) stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Queued: q.accepted, Published: q.published, Dropped: q.dropped,
		Failed: q.failed, Pending: len(q.items) + q.inflight}
}

// PutLogEvents queues events for durable writing and returns at once. A
// zero Timestamp means now; messages longer than MaxEventSize are
// truncated. Events are dropped (and counted) when the queue is full, the
// Logs is closed, or a name is empty or longer than 512 bytes.
func (l *Logs) PutLogEvents(group, stream string, events ...stratus.LogEvent) {
	if len(events) == 0 {
		return
	}
	q := &l.q
	var now int64
	q.mu.Lock()
	if q.closed || !validName(group) || !validName(stream) {
		q.dropped += uint64(len(events))
		q.mu.Unlock()
		return
	}
	for _, e := range events {
		msg := e.Message
		if len(msg) > l.cfg.MaxEventSize {
			msg = truncate(msg, l.cfg.MaxEventSize)
		}
		if len(q.items) >= l.cfg.QueueEvents || q.bytes+len(msg) > l.cfg.QueueBytes {
			q.dropped++
			q.overflow = true
			continue
		}
		ts := e.Timestamp.UnixMilli()
		if e.Timestamp.IsZero() {
			if now == 0 {
				now = time.Now().UnixMilli()
			}
			ts = now
		}
		q.items = append(q.items, item{group: group, stream: stream, ts: ts, msg: msg})
		q.bytes += len(msg)
		q.accepted++
	}
	q.mu.Unlock()
	q.signal()
}

func validName(s string) bool { return s != "" && len(s) <= 512 }

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Flush waits until every event queued before the call is acknowledged by
// JetStream or has failed; it reports failures and ctx's end.
func (l *Logs) Flush(ctx context.Context) error {
	q := &l.q
	q.mu.Lock()
	target, failedBefore := q.accepted, q.failed
	q.mu.Unlock()
	q.hurry()
	q.signal()
	for {
		q.mu.Lock()
		finished, failed, ch := q.published+q.failed, q.failed, q.progress
		q.mu.Unlock()
		if finished >= target {
			if n := failed - failedBefore; n > 0 {
				return fmt.Errorf("flushing logs: %d events failed to publish", n)
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("flushing logs: %w", ctx.Err())
		}
	}
}

// publish is the publisher goroutine: it drains the queue one batch at a
// time until the queue is closed and empty.
func (l *Logs) publish() {
	defer close(l.done)
	var idPrefix [8]byte
	_, _ = rand.Read(idPrefix[:])
	p := publisher{l: l, idPrefix: hex.EncodeToString(idPrefix[:]) + "-"}
	var spare []item
	var lastWarn time.Time
	var linger *time.Timer
	var lastTake time.Time
	for {
		// Batches are at least PublishLinger apart, so that the events
		// of an invocation (START, its output, END, REPORT) and of the
		// ones around it share a stored message and its fsync rather
		// than each paying one; Flush and Close cut the wait short.
		if wait := l.cfg.PublishLinger - time.Since(lastTake); wait > 0 {
			if linger == nil {
				linger = time.NewTimer(wait)
			} else {
				linger.Reset(wait)
			}
			select {
			case <-linger.C:
			case <-l.q.urgent:
			case <-l.stop:
			}
			linger.Stop()
		}
		items, closed := l.q.take(spare)
		lastTake = time.Now()
		if len(items) == 0 {
			if closed {
				return
			}
			select {
			case <-l.q.wake:
			case <-l.stop:
			}
			lastTake = time.Now() // the first event waits for company
			spare = items
			continue
		}
		if time.Since(lastWarn) >= time.Minute && l.warnOverflow() {
			lastWarn = time.Now()
		}
		ok, failed := p.send(items)
		l.q.finish(ok, failed)
		clear(items) // let the messages be collected
		spare = items[:0]
	}
}

// warnOverflow logs a warning if events were dropped since the last one
// and reports whether it did. The publisher calls it at most once a minute.
func (l *Logs) warnOverflow() bool {
	l.q.mu.Lock()
	overflow, dropped := l.q.overflow, l.q.dropped
	l.q.overflow = false
	l.q.mu.Unlock()
	if overflow {
		l.log.Warn("log queue full: dropping events", "stream", l.cfg.Stream,
			"dropped_total", dropped, "queue_events", l.cfg.QueueEvents, "queue_bytes", l.cfg.QueueBytes)
	}
	return overflow
}

// publisher packs items into messages and publishes them.
type publisher struct {
	l        *Logs
	idPrefix string
	n        uint64 // messages published, for Nats-Msg-Id
}

// outMsg is one stored message and the number of events in it.
type outMsg struct {
	msg    *nats.Msg
	events int
}

// send publishes items and returns how many events were stored and how
// many failed after all retries.
func (p *publisher) send(items []item) (ok, failed int) {
	msgs := p.pack(items)
	for attempt := 1; len(msgs) > 0; attempt++ {
		retry := p.publishAll(msgs)
		for _, m := range msgs {
			ok += m.events
		}
		for _, m := range retry {
			ok -= m.events
		}
		if len(retry) == 0 {
			break
		}
		if attempt >= p.l.cfg.PublishRetries {
			for _, m := range retry {
				failed += m.events
			}
			p.l.log.Error("giving up publishing log events", "stream", p.l.cfg.Stream,
				"events", failed, "attempts", attempt)
			break
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		msgs = retry
	}
	return ok, failed
}

// pack groups items by log stream, keeping their order, into messages of
// at most MaxBatchBytes and maxEventsPerMsg events.
func (p *publisher) pack(items []item) []outMsg {
	type key struct{ group, stream string }
	open := make(map[key]int) // index in msgs of the stream's open message
	var msgs []outMsg
	for _, it := range items {
		k := key{it.group, it.stream}
		i, found := open[k]
		if found {
			m := &msgs[i]
			if len(m.msg.Data)+len(it.msg)+20 > p.l.cfg.MaxBatchBytes || m.events >= maxEventsPerMsg {
				found = false
			}
		}
		if !found {
			p.n++
			h := nats.Header{}
			h.Set(jetstream.MsgIDHeader, p.idPrefix+strconv.FormatUint(p.n, 10))
			data := make([]byte, 1, min(p.l.cfg.MaxBatchBytes, 4096))
			data[0] = formatV1
			msgs = append(msgs, outMsg{msg: &nats.Msg{
				Subject: subjectFor(p.l.cfg.SubjectPrefix, it.group, it.stream),
				Header:  h, Data: data,
			}})
			i = len(msgs) - 1
			open[k] = i
		}
		m := &msgs[i]
		m.msg.Data = appendEvent(m.msg.Data, it.ts, it.msg)
		m.events++
	}
	return msgs
}

// publishAll publishes msgs asynchronously and waits for every ack; it
// returns the messages to retry.
func (p *publisher) publishAll(msgs []outMsg) (retry []outMsg) {
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := p.l.js.PublishMsgAsync(m.msg)
		if err != nil {
			p.l.log.Warn("publishing log batch", "subject", m.msg.Subject, "err", err)
			retry = append(retry, m)
			continue
		}
		futures[i] = f
	}
	timeout := time.NewTimer(p.l.cfg.PublishTimeout)
	defer timeout.Stop()
	expired := false // after the timeout, only acks already there count
	for i, f := range futures {
		if f == nil {
			continue
		}
		if expired {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				p.l.log.Warn("storing log batch", "subject", msgs[i].msg.Subject, "err", err)
				retry = append(retry, msgs[i])
			default:
				retry = append(retry, msgs[i])
			}
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			p.l.log.Warn("storing log batch", "subject", msgs[i].msg.Subject, "err", err)
			retry = append(retry, msgs[i])
		case <-timeout.C:
			expired = true
			retry = append(retry, msgs[i])
		}
	}
	return retry
}
