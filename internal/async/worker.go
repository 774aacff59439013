package async

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus"
)

// delivery is one fetched message: a bundle of events that run
// concurrently. Heartbeats keep its AckWait from running out until every
// event has settled; then it is acknowledged, or, if an event could not
// be queued again, handed out again after a delay (all its events run
// again: at least once).
type delivery struct {
	msg    jetstream.Msg
	stop   func() // stops the heartbeats
	left   atomic.Int64
	failed atomic.Bool
}

// task is one event of a delivery.
type task struct {
	d  *delivery
	ev *event
}

// fetchLoop runs fetched events on at most Config.Workers workers (fewer
// while the host's CPUs are busy, see adaptWorkers). It
// fetches only as many messages as there are idle workers; the events of
// a bundle beyond those wait in a queue (their message heartbeating)
// until workers free up, and the next fetch waits until the queue is
// empty.
func (s *Service) fetchLoop(ctx context.Context) {
	defer s.wg.Done()
	slots := make(chan struct{}, s.cfg.Workers) // one per running event
	var running atomic.Int64
	s.adaptWorkers(ctx, slots, &running)
	var (
		held     int    // slots taken and not yet given to an event
		queue    []task // fetched events waiting for a slot
		batch    jetstream.MessageBatch
		stop     context.CancelFunc // ends batch's fetch
		failures int
	)
	for {
		for len(queue) > 0 && held > 0 {
			s.start(ctx, queue[0], slots, &running)
			queue[0] = task{}
			queue = queue[1:]
			held--
		}
		if batch == nil && len(queue) == 0 {
			if held == 0 {
				select {
				case slots <- struct{}{}:
					held++
				case <-ctx.Done():
					return
				}
			}
		more:
			for held < s.cfg.Workers {
				select {
				case slots <- struct{}{}:
					held++
				default:
					break more
				}
			}
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			b, err := s.cons.Fetch(held, jetstream.FetchContext(fctx))
			if err != nil {
				cancel()
				failures++
				if ctx.Err() != nil {
					return
				}
				if failures == 1 || failures%60 == 0 {
					s.log.Warn("fetching async events failed", "err", err, "failures", failures)
				}
				select {
				case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 5*time.Second)):
				case <-ctx.Done():
					return
				}
				continue
			}
			failures = 0
			batch, stop = b, cancel
		}
		var msgs <-chan jetstream.Msg
		if batch != nil {
			msgs = batch.Messages()
		}
		var free chan<- struct{} // a slot, when events wait for one
		if len(queue) > 0 {
			free = slots
		}
		select {
		case msg, ok := <-msgs:
			if ok {
				queue = append(queue, s.open(msg)...)
				continue
			}
			stop()
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
				s.log.Debug("fetch of async events ended with an error", "err", err)
			}
			batch = nil
		case free <- struct{}{}:
			held++
		case <-ctx.Done():
			if batch != nil {
				stop()
				for msg := range batch.Messages() {
					_ = msg.Nak()
				}
			}
			// Events that did not get a worker run after the restart.
			for _, t := range queue {
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.settle(t.d, s.requeue(t.ev))
				}()
			}
			return
		}
	}
}

// open decodes a fetched message into its events and starts its
// heartbeats. An undecodable message is dropped.
func (s *Service) open(msg jetstream.Msg) []task {
	events, err := decodeEvents(msg.Headers(), msg.Data())
	if err != nil {
		s.log.Error("dropping an undecodable async event message", "subject", msg.Subject(), "err", err)
		s.metrics.dropped.WithLabelValues("invalid").Inc()
		_ = msg.Term()
		return nil
	}
	d := &delivery{msg: msg, stop: s.heartbeat(msg)}
	d.left.Store(int64(len(events)))
	tasks := make([]task, len(events))
	for i, ev := range events {
		tasks[i] = task{d: d, ev: ev}
	}
	return tasks
}

// start runs t on the slot the caller took.
func (s *Service) start(ctx context.Context, t task, slots chan struct{}, running *atomic.Int64) {
	s.wg.Add(1)
	running.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { running.Add(-1); <-slots }()
		s.settle(t.d, s.run(ctx, t.ev))
	}()
}

// settle records that one event of d has settled (ok: ended or queued
// again) and acknowledges d after its last one.
func (s *Service) settle(d *delivery, ok bool) {
	if !ok {
		d.failed.Store(true)
	}
	if d.left.Add(-1) > 0 {
		return
	}
	d.stop()
	if d.failed.Load() {
		_ = d.msg.NakWithDelay(s.cfg.BackoffMin)
		return
	}
	_ = d.msg.Ack()
}

// outcome is what the last attempt of an event produced, for destination
// records and dead-letter attributes.
type outcome struct {
	status          int    // 200 for function results, else 429, 500...
	functionError   string // "Unhandled" for function errors
	payload         []byte // the function's response or error body
	executedVersion string
	message         string // ErrorMessage of a dead-letter message
}

// run makes one attempt of ev and settles it: the event ends (success,
// given up, dropped) or is queued again as a message of its own (a retry
// after a function error, a backoff after a throttle or a platform error,
// an invocation cut short by shutdown). It reports false when it could
// not queue the event again, so that its message runs again.
func (s *Service) run(ctx context.Context, ev *event) bool {
	conf := s.configs.get(ev.Function, ev.Qualifier)
	now := s.now()
	deadline := ev.Enqueued.Add(conf.MaxEventAge())
	if !now.Before(deadline) {
		last := outcome{status: ev.LastStatus, executedVersion: ev.version()}
		if ev.Throttles > 0 || last.status == 0 {
			last.status = 429 // it was waiting out throttles (or never got a turn)
		}
		if last.status == 200 {
			last.functionError = "Unhandled"
		}
		last.message = "Event age exceeded MaximumEventAgeInSeconds."
		s.giveUp(ev, conf, conditionEventAgeExceeded, last, "expired")
		return true
	}
	s.metrics.age.Observe(now.Sub(ev.Enqueued).Seconds())

	resp, err := s.deps.Invoker.Invoke(ctx, &stratus.InvokeRequest{
		FunctionName: ev.Function,
		Qualifier:    ev.Qualifier,
		Payload:      ev.Payload,
		TraceID:      ev.TraceID,
		RequestID:    ev.RequestID,
	})
	if err != nil && ctx.Err() != nil {
		return s.requeue(ev) // shutting down: the event runs again after the restart
	}
	switch code := stratus.ErrorCode(err); {
	case err == nil && resp.FunctionError == "":
		s.metrics.invocations.WithLabelValues("success").Inc()
		ev.Invokes++
		if conf != nil && conf.OnSuccess != "" {
			s.deliverRecord(ev, conf.OnSuccess, "on_success", conditionSuccess,
				outcome{status: 200, payload: resp.Payload, executedVersion: orLatest(resp.ExecutedVersion)})
		}
		return true
	case err == nil:
		s.metrics.invocations.WithLabelValues("function_error").Inc()
		ev.Invokes++
		ev.Attempts++
		last := outcome{status: 200, functionError: resp.FunctionError, payload: resp.Payload,
			executedVersion: orLatest(resp.ExecutedVersion), message: errorMessage(resp.Payload)}
		if ev.Attempts > conf.RetryAttempts() {
			s.giveUp(ev, conf, conditionRetriesExhausted, last, "retries_exhausted")
			return true
		}
		ev.LastStatus = 200
		ev.Throttles = 0
		// The delay runs from the failure.
		if !s.retryAt(ev, s.now().Add(s.cfg.retryDelay(ev.Attempts)), deadline) {
			return false
		}
		s.metrics.retries.WithLabelValues("function_error").Inc()
		return true
	case code == stratus.ENOTFOUND:
		s.metrics.invocations.WithLabelValues("not_found").Inc()
		s.metrics.dropped.WithLabelValues("function_not_found").Inc()
		s.log.Warn("dropping an async event: its function does not exist (any more)",
			"function", ev.Function, "qualifier", ev.Qualifier, "requestId", ev.RequestID, "err", err)
		return true
	case code == stratus.ETHROTTLED && ev.Disabled && ev.Invokes == 0 && s.disabled(ctx, ev.Function):
		s.metrics.invocations.WithLabelValues("throttled").Inc()
		s.giveUp(ev, conf, conditionRetriesExhausted, outcome{status: 429, executedVersion: ev.version(),
			message: "The function's reserved concurrency is 0: it is disabled."}, "disabled")
		return true
	default:
		reason := "error"
		if code == stratus.ETHROTTLED {
			reason = "throttled"
		} else {
			s.log.Warn("async invocation failed in the platform; backing off", "function", ev.Function,
				"requestId", ev.RequestID, "err", err)
		}
		s.metrics.invocations.WithLabelValues(reason).Inc()
		ev.Throttles++
		if !s.retryAt(ev, s.now().Add(s.cfg.backoff(ev.Throttles)), deadline) {
			return false
		}
		s.metrics.retries.WithLabelValues(reason).Inc()
		return true
	}
}

// heartbeat keeps msg's AckWait from running out while it is handled.
func (s *Service) heartbeat(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// retryAt queues ev again as a message schedule (a one-event bundle) that
// JetStream turns into a new event message at time at, or at deadline if
// that comes first (the event then expires when it is fetched). It
// reports whether ev was stored.
func (s *Service) retryAt(ev *event, at, deadline time.Time) bool {
	if at.After(deadline) {
		at = deadline
	}
	m := &nats.Msg{
		Subject: s.cfg.scheduleSubject(ev.Function, ev.RequestID),
		Data:    encodeBundle([]*event{ev}),
		Header: nats.Header{
			hdrSchedule:       []string{"@at " + at.UTC().Format(time.RFC3339Nano)},
			hdrScheduleTarget: []string{s.cfg.eventSubject(ev.Function, 1)},
			hdrMsgID:          []string{ev.continuationID()},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	if err := s.commit.publishMsg(ctx, m); err != nil {
		s.log.Error("queueing the next attempt of an async event failed; its message runs again soon",
			"function", ev.Function, "requestId", ev.RequestID, "err", err)
		return false
	}
	return true
}

// requeue queues ev again at once, for an attempt that shutdown cut short
// or prevented. It reports whether ev was stored.
func (s *Service) requeue(ev *event) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	if err := s.commit.publishEvent(ctx, ev); err != nil {
		s.log.Warn("queueing an interrupted async event again failed; its message runs again",
			"function", ev.Function, "requestId", ev.RequestID, "err", err)
		return false
	}
	return true
}

// disabled reports whether function has reserved concurrency 0.
func (s *Service) disabled(ctx context.Context, function string) bool {
	if s.deps.Concurrency == nil {
		return false
	}
	c, err := s.deps.Concurrency.Concurrency(ctx)
	if err != nil {
		return false
	}
	n, ok := c.ReservedFor(function)
	return ok && n == 0
}

// version is the version an event runs as, for records of events that did
// not run.
func (ev *event) version() string { return orLatest(ev.Qualifier) }

func orLatest(v string) string {
	if v == "" {
		return stratus.LatestVersion
	}
	return v
}
