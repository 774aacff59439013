// Package async runs Lambda's asynchronous invocation: the event queue on
// JetStream, the workers that invoke queued events through
// stratus.Invoker, retries, maximum event age, dead-letter queues and
// destinations (reference §5), and the event invoke configurations that
// steer them (reference §2.9).
//
// # Accepting an event
//
// InvokeAsync appends the event to the stream Config.Stream on the
// subject <prefix>.ev.<function> with Nats-Msg-Id = the request id, and
// returns only after JetStream acknowledged it; with SyncAlways that means
// after fsync. One fsync costs ~0.3 ms and JetStream does not group
// commits, so a committer goroutine does: it gathers the publishes that
// arrive while the previous commit runs (and for up to Config.CommitWindow
// more), writes a group of Config.MinAtomicBatch or more as one atomic
// batch (one fsync for the batch) and a smaller group as pipelined
// publishes, and answers each caller when its own message is stored.
//
// # Running an event
//
// A durable pull consumer on <prefix>.ev.> hands events to at most
// Config.Workers workers; each invokes the function through the Invoker
// (so the function's concurrency limits apply) and keeps the message's
// AckWait from expiring with InProgress heartbeats while it runs.
//
//	queued ──fetch──> invoking ──success──────────────> on-success destination, ack
//	  ^                  │
//	  │                  ├─function error, retries left──> schedule a retry after
//	  │                  │                                  RetryDelays[n] (a JetStream
//	  │                  │                                  message schedule), ack
//	  ├───NakWithDelay───┼─throttled / platform error────> back off 1 s, 2 s, ... BackoffMax
//	  │                  │
//	  │                  ├─retries exhausted / too old / ─> DLQ + on-failure destination, ack
//	  │                  │  accepted and attempted while
//	  │                  │  reserved concurrency is 0
//	  │                  └─function deleted──────────────> dropped (metric, log), ack
//	  └──(server died before the ack: redelivered after AckWait)
//
// A retry of a function error is a new message carrying the attempt count
// in its headers, published as a message schedule, so a retry waiting for
// its delay survives a crash exactly like a new event. Throttles and
// platform errors are negatively acknowledged with a delay (the consumer
// state records it); every check of the event's age happens when the
// event is fetched, so the delay is capped at the event's expiry.
//
// Reserved concurrency 0 disables a function: events accepted while it is
// disabled go to the dead-letter queue and the on-failure destination,
// without retries, if it is still disabled when they are first attempted.
// Events accepted before it was disabled are throttled like any others:
// they back off until the function is enabled again or they expire.
//
// Delivery is at least once: an event whose worker died before the ack is
// run again after AckWait (Lambda's async invocation is at-least-once too).
package async

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stratus-dev/stratus"
)

// Config configures a Service. Use DefaultConfig and override fields.
type Config struct {
	Region    string
	AccountID string

	// Stream is the JetStream stream of queued events; Subjects is the
	// prefix of its subjects (<prefix>.ev.<function> for events,
	// <prefix>.sched.<function>.<request id> for scheduled retries).
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
	// it sees concurrent ones, before it writes them as one group.
	CommitWindow time.Duration
	// MinAtomicBatch is the smallest group written as an atomic batch;
	// smaller groups are pipelined publishes. An atomic batch costs ~3 ms
	// (JetStream stages it in a store of its own) plus ~12 µs a message;
	// pipelined publishes cost one fsync each, and measured slower than an
	// atomic batch from about 8 messages on.
	MinAtomicBatch int
	// MaxBatch and MaxBatchBytes bound one group (JetStream: at most 1,000
	// messages in an atomic batch).
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
		RetryDelays:      []time.Duration{time.Minute, 2 * time.Minute},
		BackoffMin:       time.Second,
		BackoffMax:       5 * time.Minute,
		AckWait:          30 * time.Second,
		CommitWindow:     200 * time.Microsecond,
		MinAtomicBatch:   8,
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
	if c.MaxBatch < 1 || c.MaxBatch > 1000 {
		add("MaxBatch must be 1–1000 (JetStream's atomic batch limit), got %d", c.MaxBatch)
	}
	if c.MinAtomicBatch < 2 {
		add("MinAtomicBatch must be at least 2, got %d", c.MinAtomicBatch)
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
