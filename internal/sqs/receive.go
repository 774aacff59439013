package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// receiveReq is a ReceiveMessage after validation.
type receiveReq struct {
	max        int
	wait       time.Duration
	visibility time.Duration
	attemptID  string // FIFO ReceiveRequestAttemptId
}

// picked is a message chosen by a receive, with the state it was given
// (copied, since the message may change once the lock is released).
type picked struct {
	key       msgKey
	meta      meta
	receives  uint32
	firstRecv int64
	nonce     uint64
}

// receive returns up to r.max messages, waiting up to r.wait for the
// first: it returns as soon as one is available (long polling). The
// receive is durable (receive counts, visibility) before it returns.
func (e *engine) receive(ctx context.Context, r receiveReq) ([]*stratus.ReceivedMessage, error) {
	deadline := time.Now().Add(r.wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		dlq := e.deadLetterQueue()
		now := e.svc.now()
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, errClosed()
		}
		got, t, replay := e.replayAttemptLocked(r.attemptID, now)
		var moving []*message
		if !replay {
			got, moving, t = e.pickLocked(r, now, dlq != nil)
			if len(got) > 0 && r.attemptID != "" && e.cfg.FIFO {
				e.rememberAttemptLocked(r.attemptID, got, now)
			}
		}
		sig := e.signal
		e.mu.Unlock()
		if len(moving) > 0 {
			e.moveToDLQ(ctx, dlq, moving)
		}
		if len(got) > 0 {
			return e.deliver(ctx, got, t)
		}
		if len(moving) > 0 {
			continue
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, nil
		}
		if timer == nil {
			timer = time.NewTimer(remaining)
		}
		select {
		case <-sig:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// deadLetterQueue returns the engine of the queue's dead-letter queue if
// it has a redrive policy and the queue exists.
func (e *engine) deadLetterQueue() *engine {
	e.mu.Lock()
	arn := e.cfg.DeadLetterARN
	e.mu.Unlock()
	if arn == "" {
		return nil
	}
	dlq, _ := e.svc.engineByARN(arn)
	return dlq
}

// pickLocked chooses messages, makes them in flight and submits the
// receive ops. Messages whose next receive would exceed maxReceiveCount
// are set moving (when a dead-letter queue exists) and returned apart.
// e.mu must be held.
func (e *engine) pickLocked(r receiveReq, now int64, redrive bool) (got []picked, moving []*message, t *ticket) {
	if e.idx.advance(now) {
		e.signalLocked()
	}
	e.expireLocked(now)
	limit := now - e.cfg.Retention.Milliseconds()
	var ops []op
	var zero []*message // received with visibility 0: visible again after the pick
	take := func(m *message) {
		m.receives++
		if m.firstRecv == 0 {
			m.firstRecv = now
		}
		m.recvAt, m.nonce = now, newNonce()
		e.idx.hide(m, stInFlight, now+r.visibility.Milliseconds())
		if r.visibility == 0 {
			zero = append(zero, m)
		}
		got = append(got, picked{key: m.key, meta: m.meta, receives: m.receives, firstRecv: m.firstRecv, nonce: m.nonce})
		ops = append(ops, op{kind: opReceive, seq: m.key.seq, idx: m.key.idx, receives: m.receives,
			visibleAt: m.visibleAt, firstRecv: m.firstRecv, recvAt: m.recvAt, nonce: m.nonce})
	}
	// over reports whether m must go to the dead-letter queue instead.
	over := func(m *message) bool {
		return redrive && e.cfg.MaxReceiveCount > 0 && int(m.receives) >= e.cfg.MaxReceiveCount
	}
	if !e.cfg.FIFO {
		for len(got) < r.max {
			m := e.idx.popReady()
			if m == nil {
				break
			}
			switch {
			case m.meta.Sent <= limit:
				e.scheduleRemovalLocked(e.idx.remove(m))
			case over(m):
				e.idx.hide(m, stMoving, 0)
				moving = append(moving, m)
			default:
				take(m)
			}
		}
	} else {
		for len(got) < r.max {
			g := e.idx.popGroup()
			if g == nil {
				break
			}
			for i := 0; i < len(g.msgs) && len(got) < r.max; {
				m := g.msgs[i]
				if m.state != stVisible {
					break
				}
				if m.meta.Sent <= limit {
					e.scheduleRemovalLocked(e.idx.remove(m))
					continue
				}
				if over(m) {
					e.idx.hide(m, stMoving, 0)
					moving = append(moving, m)
					break // the rest of the group waits for the move
				}
				take(m)
				i++
			}
			e.idx.offer(g)
		}
	}
	for _, m := range zero {
		e.idx.makeVisible(m)
	}
	if len(ops) > 0 {
		t = e.opw.submit(ops, len(ops)*40)
		e.opsSince += len(ops)
		e.kick()
	}
	return got, moving, t
}

// deliver loads the picked messages' content, waits until the receive is
// durable and renders the messages.
func (e *engine) deliver(ctx context.Context, got []picked, t *ticket) ([]*stratus.ReceivedMessage, error) {
	out := make([]*stratus.ReceivedMessage, 0, len(got))
	for _, p := range got {
		pl, err := e.loadPayload(ctx, p.key)
		if errors.Is(err, errGone) {
			continue // expired by retention or purged meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, e.render(p, pl))
	}
	if t != nil {
		if err := t.wait(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// render builds the received form of a message with every system
// attribute; the API filters them by the names the caller asked for.
func (e *engine) render(p picked, pl payload) *stratus.ReceivedMessage {
	rm := &stratus.ReceivedMessage{
		MessageID:              p.meta.ID,
		ReceiptHandle:          e.svc.receipts.encode(receipt{queueID: e.id, seq: p.key.seq, idx: p.key.idx, nonce: p.nonce}),
		Body:                   pl.Body,
		MD5OfBody:              md5Hex(pl.Body),
		MD5OfMessageAttributes: p.meta.MD5Attrs,
		Attributes:             pl.Attrs,
		SystemAttributes: map[string]string{
			"SenderId":                         p.meta.Sender,
			"SentTimestamp":                    strconv.FormatInt(p.meta.Sent, 10),
			"ApproximateReceiveCount":          strconv.FormatUint(uint64(p.receives), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(p.firstRecv, 10),
		},
	}
	if p.meta.Group != "" {
		rm.SystemAttributes["MessageGroupId"] = p.meta.Group
	}
	if e.cfg.FIFO {
		rm.SystemAttributes["MessageDeduplicationId"] = p.meta.Dedup
		rm.SystemAttributes["SequenceNumber"] = sequenceNumber(p.key)
	}
	if p.meta.Trace != "" {
		rm.SystemAttributes["AWSTraceHeader"] = p.meta.Trace
	}
	if p.meta.DLQSource != "" {
		rm.SystemAttributes["DeadLetterQueueSourceArn"] = p.meta.DLQSource
	}
	return rm
}

var errGone = errors.New("message no longer stored")

// loadPayload returns a stored message's body and attributes, from the
// cache or the stream.
func (e *engine) loadPayload(ctx context.Context, k msgKey) (payload, error) {
	e.mu.Lock()
	data, ok := e.cache.get(k.seq)
	e.mu.Unlock()
	if !ok {
		raw, err := e.stream.GetMsg(ctx, k.seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			e.mu.Lock()
			if m := e.idx.msgs[k]; m != nil {
				e.scheduleRemovalLocked(e.idx.remove(m))
			}
			e.mu.Unlock()
			return payload{}, errGone
		} else if err != nil {
			return payload{}, fmt.Errorf("reading message %d of queue %s: %w", k.seq, e.name, err)
		}
		data = raw.Data
		e.mu.Lock()
		e.cache.put(k.seq, data)
		e.mu.Unlock()
	}
	pl, err := decodePayload(data, int(k.idx))
	if err != nil {
		return payload{}, fmt.Errorf("decoding message %d/%d of queue %s: %w", k.seq, k.idx, e.name, err)
	}
	return pl, nil
}

// moveToDLQ stores moving messages in the dead-letter queue and deletes
// them here. A message whose move fails becomes visible again (its receive
// count unchanged), so the next receive retries the move.
func (e *engine) moveToDLQ(ctx context.Context, dlq *engine, moving []*message) {
	for _, m := range moving {
		pl, err := e.loadPayload(ctx, m.key)
		if err == nil {
			md := m.meta
			md.DLQSource, md.Delay = e.arn, 0
			se := &sendEntry{meta: md, payload: pl}
			if dlq.fifo() {
				se.dedupKey = "moved:" + md.ID
				if md.Dedup == "" {
					se.meta.Dedup = md.ID
				}
				if se.meta.Group == "" {
					se.meta.Group = md.ID
				}
			}
			err = dlq.send(ctx, []*sendEntry{se})
		}
		e.mu.Lock()
		if m.state != stMoving {
			e.mu.Unlock()
			continue
		}
		if err != nil {
			if !errors.Is(err, errGone) {
				e.log.Warn("moving a message to the dead-letter queue", "dlq", dlq.arn, "messageId", m.meta.ID, "err", err)
				e.idx.makeVisible(m)
				e.signalLocked()
			}
			e.mu.Unlock()
			continue
		}
		e.scheduleRemovalLocked(e.idx.remove(m))
		t := e.opw.submit([]op{{kind: opDelete, seq: m.key.seq, idx: m.key.idx}}, 16)
		e.opsSince++
		e.mu.Unlock()
		if err := t.wait(ctx); err != nil {
			e.log.Warn("recording a move to the dead-letter queue", "messageId", m.meta.ID, "err", err)
		}
	}
}

func (e *engine) fifo() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.FIFO
}
