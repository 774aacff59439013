package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus"
)

var _ stratus.EventInvokeConfigService = (*Service)(nil)

// configStore keeps event invoke configurations in a KV bucket (key
// <function>.<qualifier>, "$LATEST" written "=LATEST" since KV keys cannot
// hold '$'; value JSON of stratus.EventInvokeConfig) with a watch-driven
// node-local cache. Local writes update the cache at once; watch entries
// older than the cache are skipped.
type configStore struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	watcher jetstream.KeyWatcher
	cancel  context.CancelFunc
	done    chan struct{}

	mu    sync.RWMutex
	cache map[string]configEntry // mu guards cache
}

type configEntry struct {
	c       *stratus.EventInvokeConfig // nil for a tombstone
	rev     uint64
	deleted bool
}

func configKey(function, qualifier string) string {
	if qualifier == "" || qualifier == stratus.LatestVersion {
		qualifier = "=LATEST"
	}
	return function + "." + qualifier
}

func openConfigStore(ctx context.Context, js jetstream.JetStream, cfg Config, lg *slog.Logger) (*configStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.ConfigBucket,
		Description: "Stratus event invoke configurations, JSON by <function>.<qualifier>",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", cfg.ConfigBucket, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching bucket %s: %w", cfg.ConfigBucket, err)
	}
	s := &configStore{kv: kv, log: lg, watcher: w, cancel: cancel, done: make(chan struct{}), cache: map[string]configEntry{}}
	ready := make(chan struct{})
	go s.watch(ready)
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		cancel()
		return nil, fmt.Errorf("loading bucket %s: watch stopped", cfg.ConfigBucket)
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	}
}

func (s *configStore) close() {
	s.cancel()
	_ = s.watcher.Stop()
	<-s.done
}

func (s *configStore) watch(ready chan struct{}) {
	defer close(s.done)
	for e := range s.watcher.Updates() {
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		var c *stratus.EventInvokeConfig
		if e.Operation() == jetstream.KeyValuePut {
			c = new(stratus.EventInvokeConfig)
			if err := json.Unmarshal(e.Value(), c); err != nil {
				s.log.Error("skipping undecodable event invoke config", "key", e.Key(), "err", err)
				continue
			}
		}
		s.apply(e.Key(), c, e.Revision())
	}
}

// apply records c (nil: deleted) at rev unless the cache holds something
// newer.
func (s *configStore) apply(key string, c *stratus.EventInvokeConfig, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.cache[key]; ok && cur.rev >= rev {
		return
	}
	if c == nil {
		s.cache[key] = configEntry{rev: rev, deleted: true}
		return
	}
	s.cache[key] = configEntry{c: c, rev: rev}
}

func (s *configStore) get(function, qualifier string) *stratus.EventInvokeConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.cache[configKey(function, qualifier)]; ok && !e.deleted {
		return e.c
	}
	return nil
}

func notConfigured(region, account, function, qualifier string) error {
	if qualifier == "" {
		qualifier = stratus.LatestVersion
	}
	return stratus.Errorf(stratus.ENOTFOUND, "The function %s doesn't have an EventInvokeConfig",
		functionARN(region, account, function, qualifier))
}

// EventInvokeConfig returns a copy of one configuration.
func (s *Service) EventInvokeConfig(_ context.Context, function, qualifier string) (*stratus.EventInvokeConfig, error) {
	if c := s.configs.get(function, qualifier); c != nil {
		return c.Clone(), nil
	}
	return nil, notConfigured(s.cfg.Region, s.cfg.AccountID, function, qualifier)
}

// EventInvokeConfigs returns copies of the function's configurations,
// sorted by qualifier.
func (s *Service) EventInvokeConfigs(_ context.Context, function string) ([]*stratus.EventInvokeConfig, error) {
	prefix := function + "."
	var out []*stratus.EventInvokeConfig
	s.configs.mu.RLock()
	for k, e := range s.configs.cache {
		if !e.deleted && strings.HasPrefix(k, prefix) {
			out = append(out, e.c.Clone())
		}
	}
	s.configs.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Qualifier < out[j].Qualifier })
	return out, nil
}

// PutEventInvokeConfig creates or replaces a configuration.
func (s *Service) PutEventInvokeConfig(ctx context.Context, c *stratus.EventInvokeConfig) error {
	c = c.Clone()
	if c.Qualifier == "" {
		c.Qualifier = stratus.LatestVersion
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := configKey(c.FunctionName, c.Qualifier)
	rev, err := s.configs.kv.Put(ctx, key, data)
	if err != nil {
		return fmt.Errorf("storing event invoke config %s: %w", key, err)
	}
	s.configs.apply(key, c, rev)
	return nil
}

// UpdateEventInvokeConfig applies update to an existing configuration.
func (s *Service) UpdateEventInvokeConfig(ctx context.Context, function, qualifier string, update func(*stratus.EventInvokeConfig) error) (*stratus.EventInvokeConfig, error) {
	key := configKey(function, qualifier)
	for attempt := 0; ; attempt++ {
		e, err := s.configs.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notConfigured(s.cfg.Region, s.cfg.AccountID, function, qualifier)
		} else if err != nil {
			return nil, fmt.Errorf("reading event invoke config %s: %w", key, err)
		}
		c := new(stratus.EventInvokeConfig)
		if err := json.Unmarshal(e.Value(), c); err != nil {
			return nil, fmt.Errorf("decoding event invoke config %s: %w", key, err)
		}
		if err := update(c); err != nil {
			return nil, err
		}
		c.FunctionName, c.Qualifier = function, e.Key()[len(function)+1:]
		if c.Qualifier == "=LATEST" {
			c.Qualifier = stratus.LatestVersion
		}
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		rev, err := s.configs.kv.Update(ctx, key, data, e.Revision())
		if err == nil {
			s.configs.apply(key, c, rev)
			return c.Clone(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt >= 50 {
			return nil, fmt.Errorf("updating event invoke config %s: %w", key, err)
		}
	}
}

// DeleteEventInvokeConfig removes a configuration.
func (s *Service) DeleteEventInvokeConfig(ctx context.Context, function, qualifier string) error {
	key := configKey(function, qualifier)
	e, err := s.configs.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return notConfigured(s.cfg.Region, s.cfg.AccountID, function, qualifier)
	} else if err != nil {
		return fmt.Errorf("reading event invoke config %s: %w", key, err)
	}
	if err := s.configs.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting event invoke config %s: %w", key, err)
	}
	// The delete marker's revision is above e's: a tombstone at e's
	// revision hides the value until the watch brings the marker.
	s.configs.mu.Lock()
	if cur, ok := s.configs.cache[key]; !ok || cur.rev <= e.Revision() {
		s.configs.cache[key] = configEntry{rev: e.Revision(), deleted: true}
	}
	s.configs.mu.Unlock()
	return nil
}

// DeleteFunctionConfigs removes every configuration of a function (when
// the function is deleted, as Lambda does).
func (s *Service) DeleteFunctionConfigs(ctx context.Context, function string) error {
	cs, _ := s.EventInvokeConfigs(ctx, function)
	var errs []error
	for _, c := range cs {
		if err := s.DeleteEventInvokeConfig(ctx, function, c.Qualifier); err != nil && stratus.ErrorCode(err) != stratus.ENOTFOUND {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// functionARN renders a function ARN, qualified when qualifier is set.
func functionARN(region, account, name, qualifier string) string {
	arn := "arn:aws:lambda:" + region + ":" + account + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}
