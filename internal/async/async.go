// Package async runs Lambda's asynchronous invocation: the event queue on
// JetStream, the workers that invoke queued events through
// stratus.Invoker, retries, maximum event age, dead-letter queues and
// destinations (reference §5), and the event invoke configurations that
// steer them (reference §2.9).
//
// # Accepting an event
//
// InvokeAsync stores the event in the stream Config.Stream and returns
// only after JetStream acknowledged it; with SyncAlways that means after
// fsync. One fsync costs ~0.2-0.4 ms whatever the message's size, and
// JetStream does not group commits, so a committer goroutine does: it
// takes every publish that queued up while it wrote the previous group
// (and, if Config.CommitWindow is set, what arrives within the window)
// and writes the group's events of each function as ONE message, a
// bundle (bundle.go: a format byte, then each event's request id,
// function, qualifier, trace id, enqueued time, attempt, invoke and
// throttle counts, last status and payload), on the subject
// <prefix>.ev.<function>.<n> for n events, with a fresh Nats-Msg-Id.
// Every caller of the group is answered when that message is stored.
// Config.MaxBatch and Config.MaxBatchBytes bound a group; a bundle also
// stays below the server's maximum payload. An event whose request id
// the caller chose is the exception: it is a message of its own with
// Nats-Msg-Id = that id, so that JetStream stores a resent request once.
// The count in the subject lets Backlog count events from the stream's
// per-subject totals.
//
// Measured with go test -bench 'InvokeAsync|EventInvokeHTTP' (SyncAlways,
// two cores), events/s for 1 / 16 / 64 / 256 clients: with atomic batches
// (JetStream stages each in a file store of its own, ~4 ms) 5.4k / 4k /
// 15k / 37k; with bundles 5.3k / 33-38k / 107k / 250-280k (16 clients:
// 10k with the former 200 µs CommitWindow, see there). Invoke over HTTP
// with 64 clients: 9-11k before, 27-30k with bundles. One client still
// pays one fsync per event.
//
// Messages queued before bundles (the event in headers, the payload as
// the body) are still read, so that events and retries stored by an
// earlier version run after an upgrade.
//
// # Running an event
//
// A durable pull consumer on <prefix>.ev.> hands out messages; the fetch
// loop takes only as many as there are idle workers, and runs their
// events on at most Config.Workers workers (Config.MinWorkers while the
// host's CPUs are busy): a bundle's events run
// concurrently, the ones that find no idle worker wait in the loop's
// queue. Each event is invoked through the Invoker (so the function's
// concurrency limits apply). InProgress heartbeats keep a message's
// AckWait from expiring until every event in it has settled; then the
// message is acknowledged.
//
//	queued ──fetch──> invoking ──success──────────────> on-success destination
//	  ^  ^               │
//	  │  │               ├─function error, retries left──> after RetryDelays[n] ──┐
//	  │  │               ├─throttled / platform error────> after 1 s, 2 s, ... ───┤
//	  │  └───────────────┼───── a new message (a one-event bundle scheduled) ─────┘
//	  │                  ├─retries exhausted / too old / ─> DLQ + on-failure destination
//	  │                  │  accepted and attempted while
//	  │                  │  reserved concurrency is 0
//	  │                  └─function deleted──────────────> dropped (metric, log)
//	  └──(server died before the bundle's ack: all its events run again after AckWait)
//
// Once every event of a bundle has taken one of these ways, the bundle is
// acknowledged.
//
// An event that must run again later becomes a message of its own, so
// that its bundle can be acknowledged: a one-event bundle published as a
// JetStream message schedule on <prefix>.sched.<function>.<request id>
// that fires onto the event subject after the retry delay (function
// error) or the backoff (throttle, platform error; the event carries the
// count of consecutive ones, so the backoff doubles). Its Nats-Msg-Id is
// derived from the request id and those counts, so a worker that dies
// after publishing it publishes it again harmlessly. A retry waiting for
// its delay survives a crash exactly like a new event. Every check of the
// event's age happens when it is fetched, so a delay is capped at the
// event's expiry. An event cut short by shutdown, or still waiting for a
// worker then, is queued again at once. If queueing an event again fails,
// its bundle is negatively acknowledged and runs again as a whole.
//
// Reserved concurrency 0 disables a function: events accepted while it is
// disabled go to the dead-letter queue and the on-failure destination,
// without retries, if it is still disabled when they are first attempted.
// Events accepted before it was disabled are throttled like any others:
// they back off until the function is enabled again or they expire.
//
// Delivery is at least once, as Lambda's asynchronous invocation: a
// bundle whose worker died before the ack runs again after AckWait, all
// its events, including those that had finished.
package async

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/stratus-dev/stratus"
)

// Config configures a Service. Use DefaultConfig and override fields.
type Config struct {
	Region    string
	AccountID string

	// Stream is the JetStream stream of queued events; Subject is the
	// prefix of its subjects (<prefix>.ev.<function>.<n> for bundles of n
	// events, <prefix>.sched.<function>.<request id> for scheduled
	// retries and backoffs).
	Stream  string
	Subject string
	// ConfigBucket is the KV bucket of event invoke configurations.
	ConfigBucket string
	// Replicas is the replication factor of the stream and the bucket.
	Replicas int
	// Duplicates is the stream's de-duplication window for Nats-Msg-Id.
	Duplicates time.Duration

	// Workers bounds how many events are invoked at once.
	Workers int
	// MinWorkers is how many events are invoked at once while the host's
	// CPUs are busy; more, up to Workers, run only while they have idle
	// time (see workers.go). 0, or Workers or more, means Workers always.
	MinWorkers int
	// RetryDelays are the waits before the retries of a function error
	// (Lambda: about 1 and 2 minutes). Retry n waits RetryDelays[n-1], or
	// the last entry when there are fewer.
	RetryDelays []time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff of throttled
	// events and platform errors (Lambda: 1 s up to 5 minutes).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// AckWait is how long a fetched event may go without a heartbeat
	// before JetStream hands it out again; workers send InProgress every
	// AckWait/3 while the function runs.
	AckWait time.Duration

	// CommitWindow is how long the committer waits for more publishes once
	// it sees concurrent ones, before it writes them as one group. The
	// default is 0: the write of the previous group is the window. A Go
	// timer shorter than a millisecond sleeps about 1.1 ms on an idle
	// Linux process, and a 200 µs window measured 10k events/s with 16
	// clients against 30-40k/s without one.
	CommitWindow time.Duration
	// MaxBatch and MaxBatchBytes bound one group, and so one bundle (the
	// committer also keeps a bundle within the server's maximum payload).
	MaxBatch      int
	MaxBatchBytes int
	// PublishTimeout bounds one commit.
	PublishTimeout time.Duration

	// DeliveryAttempts and DeliveryBackoff govern handing a record to a
	// destination or an event to a dead-letter queue: attempts with
	// doubling waits, then the delivery counts as failed.
	DeliveryAttempts int
	DeliveryBackoff  time.Duration

	// Logger receives the async path's diagnostics; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns AWS's behaviour: retries after 1 and 2 minutes,
// backoff from 1 s to 5 minutes, and single-node settings.
func DefaultConfig() Config {
	return Config{
		Region:           "us-east-1",
		AccountID:        "000000000000",
		Stream:           "STRATUS_ASYNC",
		Subject:          "stratus.async",
		ConfigBucket:     "stratus_event_invoke_configs",
		Replicas:         1,
		Duplicates:       5 * time.Minute,
		Workers:          64,
		MinWorkers:       8 * runtime.NumCPU(),
		RetryDelays:      []time.Duration{time.Minute, 2 * time.Minute},
		BackoffMin:       time.Second,
		BackoffMax:       5 * time.Minute,
		AckWait:          30 * time.Second,
		CommitWindow:     0,
		MaxBatch:         512,
		MaxBatchBytes:    8 << 20,
		PublishTimeout:   10 * time.Second,
		DeliveryAttempts: 3,
		DeliveryBackoff:  200 * time.Millisecond,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("async: "+format, args...)) }
	if c.Region == "" {
		add("Region is empty")
	}
	if len(c.AccountID) != 12 {
		add("AccountID %q is not 12 digits", c.AccountID)
	}
	if c.Stream == "" || c.Subject == "" || c.ConfigBucket == "" {
		add("Stream, Subject and ConfigBucket are required")
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		add("Replicas must be 1–5, got %d", c.Replicas)
	}
	if c.Duplicates < time.Second {
		add("Duplicates %v is below 1s", c.Duplicates)
	}
	if c.Workers < 1 {
		add("Workers must be at least 1, got %d", c.Workers)
	}
	if c.MinWorkers < 0 {
		add("MinWorkers must not be negative, got %d", c.MinWorkers)
	}
	if len(c.RetryDelays) == 0 {
		add("RetryDelays is empty")
	}
	for _, d := range c.RetryDelays {
		if d < 0 {
			add("RetryDelays has a negative delay %v", d)
		}
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		add("backoff must satisfy 0 < BackoffMin (%v) <= BackoffMax (%v)", c.BackoffMin, c.BackoffMax)
	}
	if c.AckWait < time.Second {
		add("AckWait %v is below 1s", c.AckWait)
	}
	if c.CommitWindow < 0 {
		add("CommitWindow is negative")
	}
	if c.MaxBatch < 1 {
		add("MaxBatch must be at least 1, got %d", c.MaxBatch)
	}
	if c.MaxBatchBytes < 2<<20 {
		add("MaxBatchBytes must be at least 2 MiB (one event plus headers), got %d", c.MaxBatchBytes)
	}
	if c.PublishTimeout <= 0 {
		add("PublishTimeout must be positive")
	}
	if c.DeliveryAttempts < 1 {
		add("DeliveryAttempts must be at least 1, got %d", c.DeliveryAttempts)
	}
	if c.DeliveryBackoff < 0 {
		add("DeliveryBackoff is negative")
	}
	return errors.Join(errs...)
}

// retryDelay is the wait before function-error retry n (1-based).
func (c Config) retryDelay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > len(c.RetryDelays) {
		return c.RetryDelays[len(c.RetryDelays)-1]
	}
	return c.RetryDelays[n-1]
}

// backoff is the wait after the n-th (1-based) consecutive throttle or
// platform error: BackoffMin doubled n-1 times, at most BackoffMax.
func (c Config) backoff(n int) time.Duration {
	d := c.BackoffMin
	for i := 1; i < n && d < c.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.BackoffMax)
}

// Attribute is an SQS message attribute.
type Attribute struct {
	DataType    string // "String" or "Number"
	StringValue string
}

// QueueSender sends a message to an SQS queue named by its ARN: the
// dead-letter queues and queue destinations of asynchronous invocation.
// An unknown queue is an ENOTFOUND error.
type QueueSender interface {
	SendMessage(ctx context.Context, queueARN string, body []byte, attrs map[string]Attribute) error
}

// ConcurrencyReader reads the account's concurrency settings; a function
// with reserved concurrency 0 is disabled, and events accepted for it go
// straight to the dead-letter queue and the on-failure destination.
type ConcurrencyReader interface {
	Concurrency(ctx context.Context) (*stratus.ConcurrencyConfig, error)
}

// Deps are the services a Service uses.
type Deps struct {
	Functions stratus.FunctionService // required
	Invoker   stratus.Invoker         // required
	// Queues delivers to SQS dead-letter queues and destinations; nil
	// makes those deliveries fail (counted and logged).
	Queues QueueSender
	// Concurrency tells disabled functions apart; nil treats every
	// throttle as temporary.
	Concurrency ConcurrencyReader
}
