package async

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus"
)

// fetchLoop hands events to at most Config.Workers workers. It fetches
// only as many events as there are idle workers, so no event waits in a
// client buffer while its AckWait runs.
func (s *Service) fetchLoop(ctx context.Context) {
	defer s.wg.Done()
	slots := make(chan struct{}, s.cfg.Workers)
	release := func(n int) {
		for range n {
			<-slots
		}
	}
	failures := 0
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < s.cfg.Workers {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		batch, err := s.cons.Fetch(n, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			release(n)
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
		got := 0
		for msg := range batch.Messages() {
			got++
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { <-slots }()
				s.handle(ctx, msg)
			}()
		}
		cancel()
		release(n - got)
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			s.log.Debug("fetch of async events ended with an error", "err", err)
		}
	}
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

// handle runs one delivery of an event and settles it: ack (done,
// retried as a new message or given up), or nak with a delay (back off).
// When ctx ends during the invocation the event is left for redelivery.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) {
	ev, err := decodeEvent(msg.Headers(), msg.Data())
	if err != nil {
		s.log.Error("dropping an undecodable async event", "subject", msg.Subject(), "err", err)
		s.metrics.dropped.WithLabelValues("invalid").Inc()
		_ = msg.Term()
		return
	}
	delivered := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	conf := s.configs.get(ev.Function, ev.Qualifier)
	now := s.now()
	deadline := ev.Enqueued.Add(conf.MaxEventAge())
	if !now.Before(deadline) {
		last := outcome{status: ev.LastStatus, executedVersion: ev.version()}
		if delivered > 1 || last.status == 0 {
			last.status = 429 // it was waiting out throttles (or never got a turn)
		}
		if last.status == 200 {
			last.functionError = "Unhandled"
		}
		last.message = "Event age exceeded MaximumEventAgeInSeconds."
		s.giveUp(ev, conf, conditionEventAgeExceeded, last, "expired")
		_ = msg.Ack()
		return
	}
	s.metrics.age.Observe(now.Sub(ev.Enqueued).Seconds())

	stop := s.heartbeat(msg)
	resp, err := s.deps.Invoker.Invoke(ctx, &stratus.InvokeRequest{
		FunctionName: ev.Function,
		Qualifier:    ev.Qualifier,
		Payload:      ev.Payload,
		TraceID:      ev.TraceID,
		RequestID:    ev.RequestID,
	})
	stop()
	if err != nil && ctx.Err() != nil {
		_ = msg.Nak() // shutting down: the event runs again after the restart
		return
	}
	switch code := stratus.ErrorCode(err); {
	case err == nil && resp.FunctionError == "":
		s.metrics.invocations.WithLabelValues("success").Inc()
		ev.Invokes++
		if conf != nil && conf.OnSuccess != "" {
			s.deliverRecord(ev, conf.OnSuccess, "on_success", conditionSuccess,
				outcome{status: 200, payload: resp.Payload, executedVersion: orLatest(resp.ExecutedVersion)})
		}
		_ = msg.Ack()
	case err == nil:
		s.metrics.invocations.WithLabelValues("function_error").Inc()
		ev.Invokes++
		ev.Attempts++
		last := outcome{status: 200, functionError: resp.FunctionError, payload: resp.Payload,
			executedVersion: orLatest(resp.ExecutedVersion), message: errorMessage(resp.Payload)}
		if ev.Attempts > conf.RetryAttempts() {
			s.giveUp(ev, conf, conditionRetriesExhausted, last, "retries_exhausted")
			_ = msg.Ack()
			return
		}
		at := s.now().Add(s.cfg.retryDelay(ev.Attempts)) // the delay runs from the failure
		if at.After(deadline) {
			at = deadline // it expires then
		}
		ev.LastStatus = 200
		if err := s.scheduleRetry(ev, at); err != nil {
			s.log.Error("scheduling the retry of an async event failed; it will run again soon",
				"function", ev.Function, "requestId", ev.RequestID, "err", err)
			_ = msg.NakWithDelay(s.cfg.BackoffMin)
			return
		}
		s.metrics.retries.WithLabelValues("function_error").Inc()
		_ = msg.Ack()
	case code == stratus.ENOTFOUND:
		s.metrics.invocations.WithLabelValues("not_found").Inc()
		s.metrics.dropped.WithLabelValues("function_not_found").Inc()
		s.log.Warn("dropping an async event: its function does not exist (any more)",
			"function", ev.Function, "qualifier", ev.Qualifier, "requestId", ev.RequestID, "err", err)
		_ = msg.Term()
	case code == stratus.ETHROTTLED && ev.Disabled && ev.Invokes == 0 && s.disabled(ctx, ev.Function):
		s.metrics.invocations.WithLabelValues("throttled").Inc()
		s.giveUp(ev, conf, conditionRetriesExhausted, outcome{status: 429, executedVersion: ev.version(),
			message: "The function's reserved concurrency is 0: it is disabled."}, "disabled")
		_ = msg.Ack()
	default:
		reason := "error"
		if code == stratus.ETHROTTLED {
			reason = "throttled"
		} else {
			s.log.Warn("async invocation failed in the platform; backing off", "function", ev.Function,
				"requestId", ev.RequestID, "err", err)
		}
		s.metrics.invocations.WithLabelValues(reason).Inc()
		s.metrics.retries.WithLabelValues(reason).Inc()
		delay := s.cfg.backoff(int(delivered))
		if left := deadline.Sub(s.now()); delay > left {
			delay = left
		}
		_ = msg.NakWithDelay(delay)
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

// scheduleRetry stores ev as a message schedule that JetStream turns into
// a new event message at time at.
func (s *Service) scheduleRetry(ev *event, at time.Time) error {
	m := ev.message(s.scheduleSubject(ev.Function, ev.RequestID))
	m.Header[hdrSchedule] = []string{"@at " + at.UTC().Format(time.RFC3339Nano)}
	m.Header[hdrScheduleTarget] = []string{s.eventSubject(ev.Function)}
	// A worker that dies after this publish and before its ack publishes
	// the same retry again: the id makes that a no-op.
	m.Header[hdrMsgID] = []string{ev.RequestID + "-retry-" + itoa(ev.Attempts)}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout)
	defer cancel()
	return s.commit.publish(ctx, m)
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
