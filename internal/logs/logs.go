// Package logs stores function logs durably in JetStream and serves them
// through a subset of the CloudWatch Logs API.
//
// Writing: PutLogEvents (stratus.LogSink) only appends to a bounded
// in-memory queue and never waits for disk or JetStream. One background
// goroutine drains the queue, packs the events of each log stream into
// one JetStream message per drain (up to MaxBatchBytes), publishes them
// asynchronously and waits for their acknowledgements before draining
// again. Under load the batches grow by themselves, so one fsync (the
// server runs with SyncAlways) covers many events: per-event messages
// would be capped at a few thousand events per second. Drains are at least
// PublishLinger (default 50 ms) apart, so that an invocation's START,
// output, END and REPORT lines and those of its neighbours share one
// message and one fsync; Flush and Close do not wait for it. Every log
// stream with events in a drain is its own message (one fsync each), so
// the linger bounds the fsyncs per second to streams × 20: with 5 ms, 16
// busy environments cost ~3,200 fsyncs/s and ~30 % of the server's CPU per
// warm invocation (see BENCHMARKS.md). CloudWatch itself shows events
// seconds after they are written; 50 ms is not noticeable.
// When the queue is full, events are dropped and counted (Stats).
//
// Storage: one stream (Config.Stream, default STRATUS_LOGS) with subjects
// logs.<token(group)>.<token(stream)>, file storage, MaxAge retention; see
// codec.go for the message format. Log groups and streams exist as long as
// they hold events.
//
// Reading: Handler serves DescribeLogGroups, DescribeLogStreams,
// GetLogEvents and FilterLogEvents (JSON 1.1 protocol) by scanning the
// stream with batched direct gets; there is no index beyond JetStream's
// per-subject state, which is fine for thousands of events per request.
package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

var _ stratus.LogSink = (*Logs)(nil)

// Config configures Logs. Use DefaultConfig and override fields.
type Config struct {
	Stream        string        // JetStream stream name
	SubjectPrefix string        // first subject token of every log stream
	Replicas      int           // stream replicas: 1, or 3 in a cluster
	MaxAge        time.Duration // retention of events
	MaxBytes      int64         // stream size limit; 0 = no limit (oldest dropped first)

	QueueEvents    int           // events queued before PutLogEvents drops
	QueueBytes     int           // message bytes queued before PutLogEvents drops
	MaxEventSize   int           // longer messages are truncated (AWS: 256 KiB)
	MaxBatchBytes  int           // payload of one stored message (≤ server max payload)
	PublishTimeout time.Duration // wait for one batch's acks before retrying
	PublishRetries int           // attempts per batch before its events are counted failed
	// PublishLinger is the least time between two batches of the
	// publisher (an event reaching an idle queue waits that long for
	// company): fewer, fuller stored messages and so fewer fsyncs. Flush
	// and Close cut it short. 0: no wait.
	PublishLinger time.Duration

	Region    string // for ARNs
	AccountID string // for ARNs
	// MaxClockSkew is how far an event's timestamp may lie after its
	// ingestion time (clock skew between nodes); reads with a startTime
	// begin that much earlier.
	MaxClockSkew time.Duration
	// ScanMessages bounds the stored messages one FilterLogEvents call
	// reads; past it the call returns a nextToken, as AWS does.
	ScanMessages int
	Logger       *slog.Logger // nil means slog.Default()
}

// DefaultConfig returns single-node defaults with 7 days of retention.
func DefaultConfig() Config {
	return Config{
		Stream:         "STRATUS_LOGS",
		SubjectPrefix:  "logs",
		Replicas:       1,
		MaxAge:         7 * 24 * time.Hour,
		QueueEvents:    200_000,
		QueueBytes:     64 << 20,
		MaxEventSize:   256 << 10,
		MaxBatchBytes:  768 << 10,
		PublishTimeout: 10 * time.Second,
		PublishRetries: 5,
		PublishLinger:  50 * time.Millisecond,
		Region:         "us-east-1",
		AccountID:      "000000000000",
		MaxClockSkew:   2 * time.Second,
		ScanMessages:   10_000,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("logs: "+format, args...)) }
	if c.Stream == "" || strings.ContainsAny(c.Stream, ".*> \t") {
		add("Stream %q must be a non-empty name without '.', '*', '>' or spaces", c.Stream)
	}
	if c.SubjectPrefix == "" || strings.ContainsAny(c.SubjectPrefix, ".*> \t") {
		add("SubjectPrefix %q must be one subject token", c.SubjectPrefix)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		add("Replicas must be 1–5, got %d", c.Replicas)
	}
	if c.MaxAge <= 0 {
		add("MaxAge must be positive, got %s", c.MaxAge)
	}
	if c.MaxBytes < 0 {
		add("MaxBytes must not be negative, got %d", c.MaxBytes)
	}
	if c.QueueEvents < 1 || c.QueueBytes < 1 {
		add("QueueEvents and QueueBytes must be positive, got %d and %d", c.QueueEvents, c.QueueBytes)
	}
	if c.MaxEventSize < 1 {
		add("MaxEventSize must be positive, got %d", c.MaxEventSize)
	}
	if c.MaxBatchBytes < c.MaxEventSize+32 || c.MaxBatchBytes > 1<<20-1024 {
		add("MaxBatchBytes must lie between MaxEventSize+32 and 1 MiB-1 KiB, got %d", c.MaxBatchBytes)
	}
	if c.PublishTimeout <= 0 || c.PublishRetries < 1 {
		add("PublishTimeout and PublishRetries must be positive, got %s and %d", c.PublishTimeout, c.PublishRetries)
	}
	if c.PublishLinger < 0 || c.PublishLinger > time.Second {
		add("PublishLinger must be between 0 and 1s, got %s", c.PublishLinger)
	}
	if c.Region == "" || c.AccountID == "" {
		add("Region and AccountID are required")
	}
	if c.MaxClockSkew < 0 {
		add("MaxClockSkew must not be negative, got %s", c.MaxClockSkew)
	}
	if c.ScanMessages < 1 {
		add("ScanMessages must be positive, got %d", c.ScanMessages)
	}
	return errors.Join(errs...)
}

// Logs is the durable log store: a stratus.LogSink and the CloudWatch Logs
// read API.
type Logs struct {
	cfg    Config
	log    *slog.Logger
	js     jetstream.JetStream
	nc     *nats.Conn
	stream jetstream.Stream
	q      queue

	stop chan struct{} // closed by Close to stop the publisher
	done chan struct{} // closed when the publisher has stopped
	once sync.Once
}

// Open creates or updates the log stream and starts the publisher.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Logs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Stratus function logs",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    maxBytes(cfg.MaxBytes),
		Replicas:    cfg.Replicas,
		AllowDirect: true,
		Duplicates:  time.Minute, // covers publish retries
	})
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", cfg.Stream, err)
	}
	l := &Logs{
		cfg:    cfg,
		log:    cfg.Logger,
		js:     js,
		nc:     js.Conn(),
		stream: st,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.q.init()
	go l.publish()
	return l, nil
}

func maxBytes(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// Close publishes what is queued (each batch bounded by PublishTimeout
// and PublishRetries) and stops the publisher. Events put after Close are
// dropped. It is safe to call more than once.
func (l *Logs) Close() error {
	l.once.Do(func() {
		l.q.close()
		close(l.stop)
	})
	<-l.done
	return nil
}

// Stats counts events since Open.
type Stats struct {
	Queued    uint64 // accepted by PutLogEvents
	Published uint64 // acknowledged by JetStream
	Dropped   uint64 // refused: queue full, closed, or invalid names
	Failed    uint64 // given up after PublishRetries attempts
	Pending   int    // queued or in flight now
}

// Stats returns the current counters.
func (l *Logs) Stats() Stats { return l.q.stats() }
