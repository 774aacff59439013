// Package esm runs SQS event source mappings: it stores them in a
// JetStream KV bucket (watch-fed cache, like internal/store) and, for
// every enabled mapping, runs pollers that receive batches from the queue
// (stratus.QueueConsumer), invoke the function synchronously
// (stratus.Invoker) with the SQS event of reference §6.3, delete what
// succeeded and leave the rest to reappear after the visibility timeout.
//
// A mapping's State follows what the user asked for:
//
//	create ──> Creating ──> Enabled <──> Updating
//	              │            │  ^
//	              │       Disabling│Enabling
//	              v            v  │
//	           Disabled <──────┘──┘        delete (any state) ──> Deleting ──> gone
//
// Transitional states are written by the API call and settled by the
// reconciler once the pollers have started or stopped. Mappings survive
// restarts: the reconciler starts every enabled mapping when the service
// opens. In a cluster every node runs the pollers of every mapping (at
// least once delivery holds; MaximumConcurrency then applies per node).
package esm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

var _ stratus.EventSourceMappingService = (*Service)(nil)

// Config configures a Service. Use DefaultConfig and override fields.
type Config struct {
	Region   string // awsRegion of events
	Bucket   string // KV bucket of mappings
	Replicas int
	// InitialPollers is how many batches a mapping processes at once when
	// it starts (Lambda: 5), capped by its MaximumConcurrency.
	InitialPollers int
	// MaxPollers caps mappings without a MaximumConcurrency (Lambda: 1000).
	MaxPollers int
	// ScaleInterval is how often a mapping compares its pollers with the
	// queue's backlog; ScaleStep is how many it adds at most each time
	// (Lambda: up to 300 a minute).
	ScaleInterval time.Duration
	ScaleStep     int
	// PollWait is the long-poll wait of each receive (at most 20 s).
	PollWait time.Duration
	// MaxPayload bounds one invocation's event (Lambda's 6 MB); bigger
	// batches are split.
	MaxPayload int
	// BackoffMin and BackoffMax bound the waits between retries of a
	// throttled invocation and after failed receives.
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
	Now                    func() time.Time
}

// DefaultConfig returns Lambda's numbers.
func DefaultConfig() Config {
	return Config{
		Region:         "us-east-1",
		Bucket:         "stratus_esm",
		Replicas:       1,
		InitialPollers: 5,
		MaxPollers:     1000,
		ScaleInterval:  time.Second,
		ScaleStep:      5,
		PollWait:       20 * time.Second,
		MaxPayload:     6 << 20,
		BackoffMin:     100 * time.Millisecond,
		BackoffMax:     5 * time.Second,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("esm: Region is required"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("esm: Bucket is required"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("esm: Replicas must be 1–5, got %d", c.Replicas))
	}
	if c.InitialPollers < 1 || c.MaxPollers < c.InitialPollers {
		errs = append(errs, fmt.Errorf("esm: need 1 ≤ InitialPollers (%d) ≤ MaxPollers (%d)", c.InitialPollers, c.MaxPollers))
	}
	if c.ScaleInterval <= 0 || c.ScaleStep < 1 {
		errs = append(errs, fmt.Errorf("esm: ScaleInterval (%s) and ScaleStep (%d) must be positive", c.ScaleInterval, c.ScaleStep))
	}
	if c.PollWait < 0 || c.PollWait > 20*time.Second {
		errs = append(errs, fmt.Errorf("esm: PollWait %s must be 0–20s", c.PollWait))
	}
	if c.MaxPayload < 1<<20 {
		errs = append(errs, fmt.Errorf("esm: MaxPayload %d must be at least 1 MiB", c.MaxPayload))
	}
	if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("esm: need 0 < BackoffMin (%s) ≤ BackoffMax (%s)", c.BackoffMin, c.BackoffMax))
	}
	return errors.Join(errs...)
}

// FunctionReader finds functions; store.Store implements it.
type FunctionReader interface {
	Function(ctx context.Context, name string) (*stratus.Function, error)
}

// Deps are the services mappings use.
type Deps struct {
	Queues    stratus.QueueConsumer
	Invoker   stratus.Invoker
	Functions FunctionReader
}

// Service stores and runs event source mappings.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	kv   jetstream.KeyValue

	// hard is cancelled by Close: it bounds invocations and deletes,
	// which outlive a stopped mapping's receives.
	hard       context.Context
	cancelHard context.CancelFunc

	watcher jetstream.KeyWatcher
	done    chan struct{}

	mu      sync.Mutex
	cache   map[string]entry   // mu guards cache, runners and closed
	runners map[string]*runner // by UUID
	closed  bool
}

// entry is a cached mapping at a KV revision.
type entry struct {
	m   *stratus.EventSourceMapping
	rev uint64
}

// Open binds to the bucket, loads every mapping, starts the enabled ones
// and follows changes.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Queues == nil || deps.Invoker == nil || deps.Functions == nil {
		return nil, errors.New("esm: Queues, Invoker and Functions are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, deps: deps, log: cfg.Logger, cache: map[string]entry{}, runners: map[string]*runner{}, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.hard, s.cancelHard = context.WithCancel(context.Background())
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: cfg.Bucket, Description: "Stratus event source mappings by UUID", History: 1,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", cfg.Bucket, err)
	}
	s.kv = kv
	if s.watcher, err = kv.WatchAll(s.hard); err != nil {
		return nil, fmt.Errorf("watching bucket %s: %w", cfg.Bucket, err)
	}
	ready := make(chan struct{})
	go s.watch(ready)
	select {
	case <-ready:
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("loading bucket %s: %w", cfg.Bucket, ctx.Err())
	}
	s.mu.Lock()
	all := make([]entry, 0, len(s.cache))
	for _, e := range s.cache {
		all = append(all, e)
	}
	s.mu.Unlock()
	for _, e := range all {
		s.reconcile(e.m, e.rev)
	}
	return s, nil
}

// Close stops every mapping and waits (a few seconds at most) for
// invocations in flight; their messages reappear after the visibility
// timeout if they did not finish.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	runners := make([]*runner, 0, len(s.runners))
	for _, r := range s.runners {
		runners = append(runners, r)
	}
	s.runners = map[string]*runner{}
	s.mu.Unlock()
	_ = s.watcher.Stop()
	for _, r := range runners {
		r.stop()
	}
	done := make(chan struct{})
	go func() {
		for _, r := range runners {
			r.wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	s.cancelHard()
	<-done
	<-s.done
	return nil
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
