package esm

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratus-dev/stratus"
)

// runner runs the pollers of one enabled mapping. Each poller receives a
// batch, invokes the function and deletes what succeeded, one batch at a
// time, so the number of pollers is the number of concurrent invocations.
// The runner starts InitialPollers and, every ScaleInterval, adds up to
// ScaleStep more while the backlog needs them (one poller per BatchSize
// visible messages), up to MaximumConcurrency; pollers beyond the target
// retire after their batch.
type runner struct {
	s   *Service
	m   stratus.EventSourceMapping
	ctx context.Context // cancelled by stop: no new receives

	cancel context.CancelFunc
	wg     sync.WaitGroup
	active atomic.Int32
	want   atomic.Int32
	// visibility is the queue's visibility timeout, refreshed by the
	// scaler: throttled invocations are retried within it.
	visibility atomic.Int64
}

func (s *Service) newRunner(m *stratus.EventSourceMapping) *runner {
	ctx, cancel := context.WithCancel(s.hard)
	return &runner{s: s, m: *m.Clone(), ctx: ctx, cancel: cancel}
}

// differs reports whether m changes how the pollers work.
func (r *runner) differs(m *stratus.EventSourceMapping) bool {
	a, b := r.m, *m
	return a.FunctionName != b.FunctionName || a.Qualifier != b.Qualifier || a.BatchSize != b.BatchSize ||
		a.MaximumBatchingWindowInSeconds != b.MaximumBatchingWindowInSeconds ||
		a.ReportBatchItemFailures != b.ReportBatchItemFailures || a.MaximumConcurrency != b.MaximumConcurrency ||
		a.EventSourceARN != b.EventSourceARN
}

func (r *runner) maxPollers() int {
	if r.m.MaximumConcurrency > 0 {
		return r.m.MaximumConcurrency
	}
	return r.s.cfg.MaxPollers
}

func (r *runner) start() {
	r.visibility.Store(int64(30 * time.Second))
	if info, err := r.s.deps.Queues.QueueInfo(r.ctx, r.m.EventSourceARN); err == nil {
		r.visibility.Store(int64(info.VisibilityTimeout))
	}
	n := min(r.s.cfg.InitialPollers, r.maxPollers())
	r.want.Store(int32(n))
	for range n {
		r.spawn()
	}
	r.wg.Add(1)
	go r.scale()
}

// stop ends receiving; invocations in flight finish.
func (r *runner) stop() { r.cancel() }

// wait waits for the pollers to exit.
func (r *runner) wait() { r.wg.Wait() }

func (r *runner) spawn() {
	r.active.Add(1)
	r.wg.Add(1)
	go r.poll()
}

// scale adjusts the number of pollers to the backlog.
func (r *runner) scale() {
	defer r.wg.Done()
	t := time.NewTicker(r.s.cfg.ScaleInterval)
	defer t.Stop()
	floor := min(r.s.cfg.InitialPollers, r.maxPollers())
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		info, err := r.s.deps.Queues.QueueInfo(r.ctx, r.m.EventSourceARN)
		if err != nil {
			continue
		}
		r.visibility.Store(int64(info.VisibilityTimeout))
		target := int((info.Visible + int64(r.m.BatchSize) - 1) / int64(r.m.BatchSize))
		target = min(max(target, floor), r.maxPollers())
		cur := int(r.want.Load())
		if target > cur {
			target = min(target, cur+r.s.cfg.ScaleStep)
		}
		r.want.Store(int32(target))
		for int(r.active.Load()) < target {
			r.spawn()
		}
	}
}

// poll is one poller: receive, invoke, delete, until stopped or retired.
func (r *runner) poll() {
	defer r.wg.Done()
	backoff := r.s.cfg.BackoffMin
	for {
		if r.ctx.Err() != nil {
			r.active.Add(-1)
			return
		}
		if n := r.active.Load(); n > r.want.Load() && r.active.CompareAndSwap(n, n-1) {
			return
		}
		msgs, err := r.collect()
		if err != nil {
			r.s.log.Warn("receiving from an event source", "uuid", r.m.UUID, "queue", r.m.EventSourceARN, "err", err)
			sleep(r.ctx, backoff)
			backoff = min(2*backoff, r.s.cfg.BackoffMax)
			continue
		}
		backoff = r.s.cfg.BackoffMin
		if len(msgs) > 0 {
			r.process(msgs)
		}
	}
}

// collect receives one batch: up to BatchSize messages, gathering for up
// to MaximumBatchingWindowInSeconds once the first message arrived.
func (r *runner) collect() ([]*stratus.ReceivedMessage, error) {
	arn := r.m.EventSourceARN
	first, err := r.s.deps.Queues.ReceiveMessages(r.ctx, arn, min(r.m.BatchSize, 10), r.s.cfg.PollWait)
	if err != nil || len(first) == 0 || r.m.MaximumBatchingWindowInSeconds == 0 || len(first) >= r.m.BatchSize {
		return first, err
	}
	msgs, size := first, 0
	for _, m := range msgs {
		size += len(m.Body)
	}
	deadline := time.Now().Add(time.Duration(r.m.MaximumBatchingWindowInSeconds) * time.Second)
	for len(msgs) < r.m.BatchSize && size < r.s.cfg.MaxPayload {
		wait := time.Until(deadline)
		if wait <= 0 || r.ctx.Err() != nil {
			break
		}
		more, err := r.s.deps.Queues.ReceiveMessages(r.ctx, arn, min(r.m.BatchSize-len(msgs), 10), min(wait, 20*time.Second))
		if err != nil {
			break // invoke with what we have
		}
		for _, m := range more {
			size += len(m.Body)
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// process invokes the function with msgs, split into events of at most
// MaxPayload bytes.
func (r *runner) process(msgs []*stratus.ReceivedMessage) {
	start := time.Now()
	var chunk []record
	size := 0
	for _, m := range msgs {
		rec := newRecord(m, r.m.EventSourceARN, r.s.cfg.Region)
		n := len(rec.Body) + len(rec.ReceiptHandle) + 512
		for _, a := range rec.MessageAttributes {
			n += len(a.DataType) + len(a.BinaryValue)*4/3 + 64
			if a.StringValue != nil {
				n += len(*a.StringValue)
			}
		}
		if len(chunk) > 0 && size+n > r.s.cfg.MaxPayload {
			r.invoke(chunk, start)
			chunk, size = nil, 0
		}
		chunk, size = append(chunk, rec), size+n
	}
	if len(chunk) > 0 {
		r.invoke(chunk, start)
	}
}

// invoke runs the function on one event and deletes the messages that
// succeeded. Throttled (and temporarily unavailable) invocations are
// retried with backoff while the messages are still invisible; any other
// failure leaves the messages to reappear after the visibility timeout.
func (r *runner) invoke(records []record, received time.Time) {
	payload, err := encodeEvent(records)
	if err != nil {
		r.s.log.Error("encoding an SQS event", "uuid", r.m.UUID, "err", err)
		return
	}
	deadline := received.Add(time.Duration(r.visibility.Load()) - time.Second)
	backoff := r.s.cfg.BackoffMin
	var resp *stratus.InvokeResponse
	for {
		resp, err = r.s.deps.Invoker.Invoke(r.s.hard, &stratus.InvokeRequest{
			FunctionName: r.m.FunctionName, Qualifier: r.m.Qualifier, Payload: payload,
		})
		if err == nil {
			break
		}
		code := stratus.ErrorCode(err)
		retry := code == stratus.ETHROTTLED || code == stratus.EUNAVAILABLE
		if !retry || time.Now().Add(backoff).After(deadline) || r.s.hard.Err() != nil {
			r.s.log.Warn("invoking a function for an event source mapping", "uuid", r.m.UUID,
				"function", r.m.FunctionName, "records", len(records), "err", err)
			return
		}
		sleep(r.s.hard, backoff)
		backoff = min(2*backoff, r.s.cfg.BackoffMax)
	}
	if resp.FunctionError != "" {
		return // the whole batch failed
	}
	var failed map[string]bool
	if r.m.ReportBatchItemFailures {
		ids := make(map[string]bool, len(records))
		for _, rec := range records {
			ids[rec.MessageID] = true
		}
		var all bool
		if failed, all = batchFailures(resp.Payload, ids); all {
			return
		}
	}
	handles := make([]string, 0, len(records))
	for _, rec := range records {
		if !failed[rec.MessageID] {
			handles = append(handles, rec.ReceiptHandle)
		}
	}
	if len(handles) == 0 {
		return
	}
	if err := r.s.deps.Queues.DeleteMessages(r.s.hard, r.m.EventSourceARN, handles); err != nil {
		r.s.log.Warn("deleting processed messages", "uuid", r.m.UUID, "queue", r.m.EventSourceARN, "err", err)
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
