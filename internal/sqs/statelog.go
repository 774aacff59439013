package sqs

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// compactMinOps is how many ops the state log holds at least before it is
// compacted.
const compactMinOps = 20000

// flushOps stores the ops of a batch of tickets as one state record. It
// runs on the op writer's goroutine, which also compacts the log.
func (e *engine) flushOps(batch []*ticket) {
	var buf []byte
	for _, t := range batch {
		for _, o := range t.items.([]op) {
			buf = appendOp(buf, o)
		}
	}
	_, err := publish(e.svc.js, newMsg(e.logSubj, buf))
	if err != nil {
		err = fmt.Errorf("recording message state of queue %s: %w", e.name, err)
	}
	complete(batch, err)
	if err == nil {
		if err := e.maybeCompact(); err != nil {
			e.log.Warn("compacting the state log", "err", err)
		}
	}
}

// maybeCompact rewrites the state log once it has grown to twice the
// live state (and at least compactMinOps ops): it writes the current
// state of every received message and every deleted message of a stored
// bundle as fresh ops, then purges the records before them. Ops submitted
// meanwhile are stored after the snapshot; since every op sets absolute
// state, replaying them again over the snapshot is harmless. A crash
// halfway leaves the old records in place, which replay the same state.
func (e *engine) maybeCompact() error {
	e.mu.Lock()
	if e.closed || e.opsSince < max(compactMinOps, 2*e.snapSize) {
		e.mu.Unlock()
		return nil
	}
	var ops []op
	for _, m := range e.idx.msgs {
		if m.nonce != 0 && m.state != stDeleted {
			ops = append(ops, op{kind: opReceive, seq: m.key.seq, idx: m.key.idx, receives: m.receives,
				visibleAt: m.visibleAt, firstRecv: m.firstRecv, recvAt: m.recvAt, nonce: m.nonce})
		}
	}
	for _, b := range e.idx.bundles {
		for _, i := range b.dead {
			ops = append(ops, op{kind: opDelete, seq: b.seq, idx: i})
		}
	}
	e.opsSince, e.snapSize = len(ops), len(ops)
	e.mu.Unlock()

	var first uint64
	var buf []byte
	flush := func() error {
		ack, err := publish(e.svc.js, newMsg(e.logSubj, buf))
		if err != nil {
			return err
		}
		if first == 0 {
			first = ack.Sequence
		}
		buf = buf[:0]
		return nil
	}
	for _, o := range ops {
		buf = appendOp(buf, o)
		if len(buf) >= maxOpBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(buf) > 0 || first == 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(e.logSubj), jetstream.WithPurgeSequence(first)); err != nil {
		return fmt.Errorf("purging old state records of queue %s: %w", e.name, err)
	}
	return nil
}
