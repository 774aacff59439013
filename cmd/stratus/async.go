package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/async"
)

// asyncOptions are the server flags of asynchronous invocation.
type asyncOptions struct {
	RetryDelays durationList
	BackoffMax  time.Duration
	Workers     int
	MinWorkers  int
	AckWait     time.Duration
}

func defaultAsyncOptions() asyncOptions {
	d := async.DefaultConfig()
	return asyncOptions{RetryDelays: d.RetryDelays, BackoffMax: d.BackoffMax, Workers: d.Workers, MinWorkers: d.MinWorkers, AckWait: d.AckWait}
}

func (o *asyncOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.RetryDelays, "async-retry-delays",
		"waits before the retries of an asynchronous invocation that failed with a function error (STRATUS_ASYNC_RETRY_DELAYS)")
	fs.DurationVar(&o.BackoffMax, "async-backoff-max", o.BackoffMax,
		"longest backoff of a throttled asynchronous invocation; the backoff starts at 1s and doubles (STRATUS_ASYNC_BACKOFF_MAX)")
	fs.IntVar(&o.Workers, "async-workers", o.Workers,
		"most asynchronous invocations run at once (STRATUS_ASYNC_WORKERS)")
	fs.IntVar(&o.MinWorkers, "async-min-workers", o.MinWorkers,
		"asynchronous invocations run at once while the host's CPUs are busy; more, up to --async-workers, only while they have idle time; 0: always --async-workers (STRATUS_ASYNC_MIN_WORKERS)")
	fs.DurationVar(&o.AckWait, "async-ack-wait", o.AckWait,
		"how soon an asynchronous invocation whose worker stopped sending heartbeats (e.g. the server died) runs again (STRATUS_ASYNC_ACK_WAIT)")
}

func (o asyncOptions) validate() []error {
	var errs []error
	if len(o.RetryDelays) == 0 {
		errs = append(errs, fmt.Errorf("--async-retry-delays is empty"))
	}
	if o.BackoffMax < time.Second {
		errs = append(errs, fmt.Errorf("--async-backoff-max %v is below the 1s the backoff starts at", o.BackoffMax))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--async-workers %d must be at least 1", o.Workers))
	}
	if o.MinWorkers < 0 {
		errs = append(errs, fmt.Errorf("--async-min-workers %d is negative", o.MinWorkers))
	}
	if o.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("--async-ack-wait %v is below 1s", o.AckWait))
	}
	return errs
}

// durationList is a flag value of comma-separated durations, e.g. 60s,120s.
type durationList []time.Duration

func (l *durationList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, d := range *l {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}

func (l *durationList) Set(v string) error {
	var out durationList
	for _, part := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a list of durations like 60s,120s", v)
		}
		out = append(out, d)
	}
	*l = out
	return nil
}

// openAsync opens the asynchronous invocation service, registers its
// metrics and starts its workers.
func (m *Main) openAsync(ctx context.Context, js jetstream.JetStream, reg prometheus.Registerer) error {
	c := m.Config
	acfg := async.DefaultConfig()
	acfg.Region, acfg.AccountID = c.Region, c.AccountID
	acfg.RetryDelays = c.Async.RetryDelays
	acfg.BackoffMax = c.Async.BackoffMax
	acfg.Workers = c.Async.Workers
	acfg.MinWorkers = c.Async.MinWorkers
	acfg.AckWait = c.Async.AckWait
	acfg.Logger = m.Logger.With("component", "async")
	deps := async.Deps{Functions: m.store, Invoker: m.router}
	if m.conc != nil {
		deps.Concurrency = m.conc
	}
	// Dead-letter queues and queue destinations need the SQS service:
	// deps.Queues stays nil (those deliveries fail, counted and logged)
	// until it exists.
	var err error
	if m.async, err = async.Open(ctx, js, acfg, deps); err != nil {
		return fmt.Errorf("opening the async invocation queue: %w", err)
	}
	if err := m.async.Register(reg); err != nil {
		return fmt.Errorf("registering async metrics: %w", err)
	}
	// A deleted function loses its event invoke configurations (as on
	// AWS), so that a new function of the same name starts without them.
	svc := m.async
	m.stopAsyncWatch = m.store.WatchFunctions(func(f *stratus.Function, deleted bool) {
		if deleted {
			go func() { _ = svc.DeleteFunctionConfigs(context.Background(), f.Name) }()
		}
	})
	m.async.Start()
	return nil
}

// closeAsync stops the async workers (invocations still running after a
// few seconds run again after the next start) and the queue.
func (m *Main) closeAsync() {
	if m.stopAsyncWatch != nil {
		m.stopAsyncWatch()
	}
	if m.async != nil {
		m.async.Close(5 * time.Second)
	}
}

// queueSender adapts the SQS service (stratus.Queues) to what async
// delivers to dead-letter queues and queue destinations.
type queueSender struct{ q stratus.Queues }

var _ async.QueueSender = queueSender{}

func (a queueSender) SendMessage(ctx context.Context, queueARN string, body []byte, attrs map[string]async.Attribute) error {
	msg := &stratus.QueueMessage{Body: string(body)}
	if len(attrs) > 0 {
		msg.Attributes = make(map[string]stratus.MessageAttribute, len(attrs))
		for k, v := range attrs {
			msg.Attributes[k] = stratus.MessageAttribute{DataType: v.DataType, StringValue: v.StringValue}
		}
	}
	_, err := a.q.SendMessage(ctx, queueARN, msg)
	return err
}

// setAsyncQueues lets dead-letter queues and queue destinations reach the
// SQS service q. Call it after openAsync.
func (m *Main) setAsyncQueues(q stratus.Queues) {
	if m.async != nil && q != nil {
		m.async.SetQueueSender(queueSender{q})
	}
}
