package sqs

import (
	"context"
	"fmt"

	"github.com/stratus-dev/stratus"
)

// sendEntry is one message to store, with its outcome.
type sendEntry struct {
	meta    meta
	payload payload
	// dedupKey is the FIFO de-duplication key; "" skips the table (moves
	// to a dead-letter queue).
	dedupKey string
	claim    *dedupEntry

	// Outcome.
	msgID  string
	seqNum string // FIFO
}

// size is what the entry adds to a bundle.
func (se *sendEntry) size() int { return len(se.payload.Body) + se.meta.Size + 128 }

// send stores entries, all of one request, in one bundle (one fsync).
// FIFO sends whose de-duplication key was used in the last five minutes
// are not stored; they report the first message's id and sequence
// number. Sent times must already be set.
func (e *engine) send(ctx context.Context, entries []*sendEntry) error {
	now := e.svc.now()
	var store []*sendEntry
	var dups []*sendEntry
	size := 0
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed()
	}
	for _, se := range entries {
		se.msgID = se.meta.ID
		if e.cfg.FIFO && se.dedupKey != "" {
			if de := e.dedup.lookup(se.dedupKey, now); de != nil {
				se.claim = de
				dups = append(dups, se)
				continue
			}
			se.claim = e.dedup.claim(se.dedupKey, now+dedupWindow.Milliseconds())
		}
		store = append(store, se)
		size += se.size()
	}
	var t *ticket
	if len(store) > 0 {
		t = e.msgw.submit(store, size)
	}
	e.mu.Unlock()
	if t != nil {
		if err := t.wait(ctx); err != nil {
			return err
		}
	}
	for _, se := range dups {
		select {
		case <-se.claim.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the de-duplicated message: %w", ctx.Err())
		}
		if se.claim.failed {
			return sqsErr(stratus.EUNAVAILABLE, "ServiceUnavailable", "The message with the same deduplication id could not be stored; retry the request.")
		}
		se.msgID, se.seqNum = se.claim.msgID, se.claim.seqNum
	}
	return nil
}

func errClosed() error {
	return sqsErr(stratus.EUNAVAILABLE, "ServiceUnavailable", "The queue is shutting down; retry the request.")
}

// flushBundle stores the entries of a batch of tickets as one bundle and,
// once stored, adds them to the index. It runs on the message writer's
// goroutine, so bundles enter the index in stream order.
func (e *engine) flushBundle(batch []*ticket) {
	var metas []meta
	var payloads []payload
	for _, t := range batch {
		for _, se := range t.items.([]*sendEntry) {
			metas = append(metas, se.meta)
			payloads = append(payloads, se.payload)
		}
	}
	data := encodePayloads(make([]byte, 0, 1024), payloads)
	msg := newMsg(e.msgSubj, data)
	msg.Header.Set(hdrMeta, encodeMetas(metas))
	ack, err := publish(e.svc.js, msg)

	e.mu.Lock()
	if err != nil {
		for _, t := range batch {
			for _, se := range t.items.([]*sendEntry) {
				if se.claim != nil {
					e.dedup.fail(se.claim)
				}
			}
		}
		e.mu.Unlock()
		complete(batch, fmt.Errorf("storing messages of queue %s: %w", e.name, err))
		return
	}
	now := e.svc.now()
	i := 0
	delayed := false
	for _, t := range batch {
		t.seq, t.idx = ack.Sequence, i
		for _, se := range t.items.([]*sendEntry) {
			m := &message{key: msgKey{ack.Sequence, uint16(i)}, meta: se.meta}
			m.visibleAt = se.meta.Sent + int64(se.meta.Delay)*1000
			delayed = delayed || m.visibleAt > now
			e.idx.add(m, now)
			if e.cfg.FIFO {
				se.seqNum = sequenceNumber(m.key)
			}
			if se.claim != nil {
				se.claim.resolve(se.meta.ID, se.seqNum)
			}
			i++
		}
	}
	e.cache.put(ack.Sequence, data)
	e.signalLocked()
	e.mu.Unlock()
	if delayed {
		e.kick()
	}
	complete(batch, nil)
}
