package sqs

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// lookupLocked resolves a receipt handle of this queue. It returns
// ReceiptHandleIsInvalid for handles this deployment did not issue for
// this queue, and a nil message when the message is gone (deleted,
// expired or purged). e.mu must be held.
func (e *engine) lookupLocked(handle string) (*message, receipt, error) {
	r, ok := e.svc.receipts.decode(handle)
	if !ok || r.queueID != e.id {
		return nil, r, errReceiptHandle(handle)
	}
	return e.idx.msgs[msgKey{r.seq, r.idx}], r, nil
}

// deleteMessages deletes messages by receipt handle; errs[i] is the
// outcome of handles[i]. As on AWS, deleting with a stale handle (the
// message was received again since) succeeds but does not delete, and
// deleting a message that is already gone succeeds.
func (e *engine) deleteMessages(ctx context.Context, handles []string) ([]error, error) {
	errs := make([]error, len(handles))
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed()
	}
	var ops []op
	for i, h := range handles {
		m, r, err := e.lookupLocked(h)
		if err != nil {
			errs[i] = err
			continue
		}
		if m == nil || m.nonce != r.nonce || m.state == stMoving {
			continue
		}
		e.scheduleRemovalLocked(e.idx.remove(m))
		ops = append(ops, op{kind: opDelete, seq: m.key.seq, idx: m.key.idx})
	}
	var t *ticket
	if len(ops) > 0 {
		t = e.opw.submit(ops, len(ops)*16)
		e.opsSince += len(ops)
	}
	e.mu.Unlock()
	if t != nil {
		if err := t.wait(ctx); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// changeVisibility sets the visibility timeout of in-flight messages,
// counted from now; errs[i] is the outcome of entry i. A message that is
// not in flight under this handle (never received, visible again,
// received again since, deleted) gets MessageNotInflight; the total
// visibility since the receive may not exceed 12 hours.
func (e *engine) changeVisibility(ctx context.Context, handles []string, timeouts []time.Duration) ([]error, error) {
	errs := make([]error, len(handles))
	now := e.svc.now()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errClosed()
	}
	e.idx.advance(now)
	var ops []op
	woke := false
	for i, h := range handles {
		m, r, err := e.lookupLocked(h)
		if err != nil {
			errs[i] = err
			continue
		}
		if m == nil || m.nonce != r.nonce || m.state != stInFlight {
			errs[i] = errNotInflight()
			continue
		}
		vt := timeouts[i]
		if now+vt.Milliseconds()-m.recvAt > maxVisibility*1000 {
			errs[i] = errParamValue(int(vt.Seconds()), "VisibilityTimeout",
				fmt.Sprintf("Total VisibilityTimeout for the message is beyond the limit [%d seconds]", maxVisibility))
			continue
		}
		if vt == 0 {
			e.idx.makeVisible(m)
			m.visibleAt = now
			woke = true
		} else {
			e.idx.hide(m, stInFlight, now+vt.Milliseconds())
		}
		ops = append(ops, op{kind: opVisibility, seq: m.key.seq, idx: m.key.idx, visibleAt: m.visibleAt})
	}
	if woke {
		e.signalLocked()
	}
	var t *ticket
	if len(ops) > 0 {
		t = e.opw.submit(ops, len(ops)*24)
		e.opsSince += len(ops)
		e.kick()
	}
	e.mu.Unlock()
	if t != nil {
		if err := t.wait(ctx); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// purgeInterval is how often a queue may be purged (AWS: 60 seconds).
const purgeInterval = 60 * time.Second

// purge deletes every message sent before the call. The bundles are
// purged from the stream first; the index drops them afterwards, so that
// a crash in between leaves nothing half done. Messages sent while the
// purge runs survive.
func (e *engine) purge(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed()
	}
	if !e.lastPurge.IsZero() && time.Since(e.lastPurge) < purgeInterval {
		e.mu.Unlock()
		return sqsErr(stratus.EINVALID, "PurgeQueueInProgress",
			"Only one PurgeQueue operation on %s is allowed every 60 seconds.", e.name)
	}
	e.lastPurge = time.Now()
	var upTo uint64
	for seq := range e.idx.bundles {
		upTo = max(upTo, seq)
	}
	e.mu.Unlock()
	if upTo == 0 {
		return nil
	}
	err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(e.msgSubj), jetstream.WithPurgeSequence(upTo+1))
	if err != nil {
		return fmt.Errorf("purging queue %s: %w", e.name, err)
	}
	e.mu.Lock()
	for _, m := range e.idx.order {
		if m.key.seq <= upTo && m.state != stDeleted {
			e.idx.remove(m)
		}
	}
	for seq := range e.idx.bundles {
		if seq <= upTo {
			delete(e.idx.bundles, seq)
			e.cache.drop(seq)
		}
	}
	e.idx.sweep(func(*message) bool { return false }, nil)
	e.mu.Unlock()
	return nil
}

// counts returns the approximate numbers of visible, in-flight and
// delayed messages.
func (e *engine) counts() (visible, inflight, delayed int64) {
	now := e.svc.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idx.advance(now) {
		e.signalLocked()
	}
	e.expireLocked(now)
	return e.idx.visible, e.idx.inflight, e.idx.delayed
}

// replayAttemptLocked returns the messages of an earlier FIFO receive
// with the same ReceiveRequestAttemptId if all of them are still in
// flight from it. e.mu must be held.
func (e *engine) replayAttemptLocked(id string, now int64) ([]picked, *ticket, bool) {
	a := e.attempts[id]
	if id == "" || a == nil || a.expires <= now {
		return nil, nil, false
	}
	got := make([]picked, 0, len(a.keys))
	for i, k := range a.keys {
		m := e.idx.msgs[k]
		if m == nil || m.nonce != a.nonces[i] || m.state != stInFlight {
			delete(e.attempts, id)
			return nil, nil, false
		}
		got = append(got, picked{key: m.key, meta: m.meta, receives: m.receives, firstRecv: m.firstRecv, nonce: m.nonce})
	}
	return got, nil, true
}

func (e *engine) rememberAttemptLocked(id string, got []picked, now int64) {
	a := &attempt{expires: now + dedupWindow.Milliseconds()}
	for _, p := range got {
		a.keys = append(a.keys, p.key)
		a.nonces = append(a.nonces, p.nonce)
	}
	e.attempts[id] = a
}
