package sqs

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// recover rebuilds the index: a headers-only scan of the bundles gives
// every stored message, the state log replayed over them gives receive
// counts, visibility and deletions. Bundles whose messages are all
// deleted are queued for removal; FIFO de-duplication ids of the last
// five minutes are restored from the bundles (deleted messages included,
// since their bundles are kept that long).
func (e *engine) recover(ctx context.Context) error {
	now := e.svc.now()
	var all []*message
	byKey := make(map[msgKey]*message)
	err := scanSubject(ctx, e.stream, e.msgSubj, true, func(seq uint64, hdr nats.Header, _ []byte) {
		metas, err := decodeMetas(hdr.Get(hdrMeta))
		if err != nil {
			e.log.Error("skipping an undecodable bundle", "seq", seq, "err", err)
			return
		}
		for i, md := range metas {
			m := &message{key: msgKey{seq, uint16(i)}, meta: md}
			m.visibleAt = md.Sent + int64(md.Delay)*1000
			all = append(all, m)
			byKey[m.key] = m
		}
	})
	if err != nil {
		return err
	}
	ops := 0
	err = scanSubject(ctx, e.stream, e.logSubj, false, func(seq uint64, _ nats.Header, data []byte) {
		err := decodeOps(data, func(o op) {
			ops++
			m := byKey[msgKey{o.seq, o.idx}]
			if m == nil || m.state == stDeleted {
				return
			}
			switch o.kind {
			case opReceive:
				m.receives, m.visibleAt, m.firstRecv, m.recvAt, m.nonce = o.receives, o.visibleAt, o.firstRecv, o.recvAt, o.nonce
			case opVisibility:
				m.visibleAt = o.visibleAt
			case opDelete:
				m.state = stDeleted
			}
		})
		if err != nil {
			e.log.Error("skipping an undecodable state record", "seq", seq, "err", err)
		}
	})
	if err != nil {
		return err
	}
	e.opsSince = ops
	for _, m := range all {
		if e.cfg.FIFO && m.meta.Sent+dedupWindow.Milliseconds() > now {
			e.dedup.restore(e.dedupKey(m.meta.Group, m.meta.Dedup), m, m.meta.Sent+dedupWindow.Milliseconds())
		}
		if m.state == stDeleted {
			e.idx.addDead(m.key, m.meta.Sent)
			continue
		}
		e.idx.add(m, now)
	}
	for _, b := range e.idx.bundles {
		if b.live == 0 {
			e.scheduleRemovalLocked(b)
		}
	}
	e.expireLocked(now)
	return nil
}

// scanSubject calls fn for every message stored on subject, in order,
// with an ordered consumer (headers only if asked).
func scanSubject(ctx context.Context, st jetstream.Stream, subject string, headersOnly bool, fn func(seq uint64, hdr nats.Header, data []byte)) error {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("reading state of %s: %w", subject, err)
	}
	if info.State.Subjects[subject] == 0 {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		HeadersOnly:    headersOnly,
	})
	if err != nil {
		return fmt.Errorf("scanning %s: %w", subject, err)
	}
	idle := 0
	for {
		batch, err := cons.FetchNoWait(512)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", subject, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("scanning %s: %w", subject, err)
			}
			fn(md.Sequence.Stream, msg.Headers(), msg.Data())
			if md.NumPending == 0 {
				for range batch.Messages() {
				}
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("scanning %s: %w", subject, err)
		}
		if n > 0 {
			idle = 0
			continue
		}
		if idle++; idle > 100 {
			return fmt.Errorf("scanning %s: no progress", subject)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scanning %s: %w", subject, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
