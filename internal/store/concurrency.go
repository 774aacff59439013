package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

var _ stratus.ConcurrencyService = (*Concurrency)(nil)

// ConcurrencyConfig configures a Concurrency store.
type ConcurrencyConfig struct {
	// Bucket is the KV bucket of concurrency settings.
	Bucket string
	// Key names the account's settings document (the account id).
	Key string
	// Replicas is the JetStream replication factor of the bucket.
	Replicas int
	// MaxUpdateRetries bounds how often UpdateConcurrency retries after
	// losing a compare-and-swap race.
	MaxUpdateRetries int
	// Logger receives problems found by the watcher; nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConcurrencyConfig returns the single-node defaults for account
// 000000000000.
func DefaultConcurrencyConfig() ConcurrencyConfig {
	return ConcurrencyConfig{
		Bucket:           "stratus_concurrency",
		Key:              "000000000000",
		Replicas:         1,
		MaxUpdateRetries: 50,
	}
}

// Validate reports every problem with c.
func (c ConcurrencyConfig) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("store: concurrency Bucket is required"))
	}
	if !validName(c.Key) {
		errs = append(errs, fmt.Errorf("store: concurrency Key %q is not a valid key", c.Key))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("store: concurrency Replicas must be 1–5, got %d", c.Replicas))
	}
	if c.MaxUpdateRetries < 1 {
		errs = append(errs, fmt.Errorf("store: concurrency MaxUpdateRetries must be at least 1, got %d", c.MaxUpdateRetries))
	}
	return errors.Join(errs...)
}

// Concurrency implements stratus.ConcurrencyService: the account's
// reserved and provisioned concurrency settings, one JSON document in a KV
// bucket, cached in memory and kept current by a KV watch.
type Concurrency struct {
	cfg ConcurrencyConfig
	log *slog.Logger
	kv  jetstream.KeyValue

	watcher jetstream.KeyWatcher
	cancel  context.CancelFunc
	done    chan struct{}

	mu  sync.RWMutex
	cur *stratus.ConcurrencyConfig // mu guards cur and rev; cur is never handed out
	rev uint64

	subMu sync.Mutex
	subs  map[int]func(*stratus.ConcurrencyConfig) // subMu guards subs and next
	next  int

	notifyMu sync.Mutex // serialises notify, so that the last call sees the latest settings
}

// OpenConcurrency creates or binds to the bucket, starts the watch and
// returns once the cache holds the stored settings.
func OpenConcurrency(ctx context.Context, js jetstream.JetStream, cfg ConcurrencyConfig) (*Concurrency, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "Stratus reserved and provisioned concurrency, JSON by account",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", cfg.Bucket, err)
	}
	c := &Concurrency{
		cfg:  cfg,
		log:  cfg.Logger,
		kv:   kv,
		done: make(chan struct{}),
		cur:  &stratus.ConcurrencyConfig{},
		subs: make(map[int]func(*stratus.ConcurrencyConfig)),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(wctx, cfg.Key)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching bucket %s: %w", cfg.Bucket, err)
	}
	c.watcher, c.cancel = w, cancel
	ready := make(chan struct{})
	go c.watch(wctx, ready)
	select {
	case <-ready:
		return c, nil
	case <-c.done:
		cancel()
		return nil, fmt.Errorf("loading bucket %s: watch stopped", cfg.Bucket)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("loading bucket %s: %w", cfg.Bucket, ctx.Err())
	}
}

// Close stops the watch. It is safe to call twice.
func (c *Concurrency) Close() error {
	c.cancel()
	_ = c.watcher.Stop()
	<-c.done
	return nil
}

func (c *Concurrency) watch(ctx context.Context, ready chan<- struct{}) {
	defer close(c.done)
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-c.watcher.Updates():
		case <-ctx.Done():
			return
		}
		if !ok {
			if ctx.Err() == nil {
				c.log.Error("concurrency watch stopped; settings no longer follow other nodes", "bucket", c.cfg.Bucket)
			}
			return
		}
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		cfg := &stratus.ConcurrencyConfig{}
		if e.Operation() == jetstream.KeyValuePut {
			if err := json.Unmarshal(e.Value(), cfg); err != nil {
				c.log.Error("skipping undecodable concurrency settings", "bucket", c.cfg.Bucket,
					"revision", e.Revision(), "err", err)
				continue
			}
		}
		if c.set(cfg, e.Revision()) && ready == nil {
			c.notify()
		}
	}
}

// set caches cfg at rev unless something newer is cached; it reports
// whether the cache changed.
func (c *Concurrency) set(cfg *stratus.ConcurrencyConfig, rev uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev <= c.rev {
		return false
	}
	c.cur, c.rev = cfg, rev
	return true
}

// Concurrency returns a copy of the cached settings.
func (c *Concurrency) Concurrency(context.Context) (*stratus.ConcurrencyConfig, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Clone(), nil
}

// UpdateConcurrency reads the settings from KV, applies update to them and
// writes them back if nobody wrote in between, retrying otherwise.
func (c *Concurrency) UpdateConcurrency(ctx context.Context, update func(*stratus.ConcurrencyConfig) error) (*stratus.ConcurrencyConfig, error) {
	for attempt := 0; ; attempt++ {
		cfg := &stratus.ConcurrencyConfig{}
		var last uint64
		e, err := c.kv.Get(ctx, c.cfg.Key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, fmt.Errorf("reading concurrency settings: %w", err)
		default:
			last = e.Revision()
			if err := json.Unmarshal(e.Value(), cfg); err != nil {
				return nil, fmt.Errorf("decoding concurrency settings: %w", err)
			}
		}
		if err := update(cfg); err != nil {
			return nil, err
		}
		data, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("encoding concurrency settings: %w", err)
		}
		var rev uint64
		if last == 0 {
			rev, err = c.kv.Create(ctx, c.cfg.Key, data)
		} else {
			rev, err = c.kv.Update(ctx, c.cfg.Key, data, last)
		}
		if err == nil {
			if c.set(cfg.Clone(), rev) {
				c.notify()
			}
			return cfg, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("storing concurrency settings: %w", err)
		}
		if attempt+1 >= c.cfg.MaxUpdateRetries {
			return nil, stratus.Errorf(stratus.ECONFLICT, "Concurrency settings are being updated concurrently, try again.")
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("storing concurrency settings: %w", err)
		}
	}
}

// WatchConcurrency registers fn to be called with a copy of the settings
// after every change the cache sees, local or remote (not for the state at
// the time of the call). fn must return quickly. The returned func
// unsubscribes.
func (c *Concurrency) WatchConcurrency(fn func(*stratus.ConcurrencyConfig)) (cancel func()) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	id := c.next
	c.next++
	c.subs[id] = fn
	return func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		delete(c.subs, id)
	}
}

// notify calls the subscribers with the current settings, not with the
// change that triggered the call: notifications are serialised, so the
// last one a subscriber gets carries the latest settings.
func (c *Concurrency) notify() {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.subMu.Lock()
	subs := make([]func(*stratus.ConcurrencyConfig), 0, len(c.subs))
	for _, f := range c.subs {
		subs = append(subs, f)
	}
	c.subMu.Unlock()
	for _, f := range subs {
		cfg, _ := c.Concurrency(context.Background())
		f(cfg)
	}
}
