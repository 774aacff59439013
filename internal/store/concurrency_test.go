package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
	"github.com/stratus-dev/stratus/internal/store"
)

func mustOpenConcurrency(t *testing.T, js jetstream.JetStream) *store.Concurrency {
	t.Helper()
	c, err := store.OpenConcurrency(context.Background(), js, store.DefaultConcurrencyConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestConcurrencySettings: updates are compare-and-swap (concurrent
// updates all land), survive reopening, and reach another instance's
// cache and watchers.
func TestConcurrencySettings(t *testing.T) {
	js := natsdtest.Run(t).JetStream()
	a := mustOpenConcurrency(t, js)
	b := mustOpenConcurrency(t, js) // another node
	ctx := context.Background()
	if cfg, err := a.Concurrency(ctx); err != nil || cfg == nil || len(cfg.Reserved) != 0 {
		t.Fatalf("empty settings: %+v %v", cfg, err)
	}
	var mu sync.Mutex
	var seen *stratus.ConcurrencyConfig
	stop := b.WatchConcurrency(func(c *stratus.ConcurrencyConfig) { mu.Lock(); seen = c; mu.Unlock() })
	defer stop()

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("f%d", i%4)
			if _, err := a.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
				if c.Reserved == nil {
					c.Reserved = map[string]int{}
				}
				c.Reserved[name]++
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cfg, _ := a.Concurrency(ctx)
	if cfg.TotalReserved() != 20 || cfg.Reserved["f0"] != 5 {
		t.Fatalf("after 20 concurrent increments: %+v", cfg.Reserved)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		c, _ := b.Concurrency(ctx)
		mu.Lock()
		defer mu.Unlock()
		if c.TotalReserved() != 20 || seen == nil || seen.TotalReserved() != 20 {
			return fmt.Errorf("other node: cache %v, watcher %v", c.Reserved, seen)
		}
		return nil
	})
	// An error from update stores nothing.
	_, err := a.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
		c.Reserved["f0"] = 1000
		return stratus.Errorf(stratus.EINVALID, "no")
	})
	requireCode(t, err, stratus.EINVALID)
	if c, _ := a.Concurrency(ctx); c.Reserved["f0"] != 5 {
		t.Fatalf("a failed update was stored: %v", c.Reserved)
	}
	// Reopening reads the stored settings.
	_ = a.Close()
	c := mustOpenConcurrency(t, js)
	if got, _ := c.Concurrency(ctx); got.TotalReserved() != 20 {
		t.Fatalf("after reopening: %v", got.Reserved)
	}
}

func TestConcurrencyConfigSums(t *testing.T) {
	c := &stratus.ConcurrencyConfig{
		Reserved: map[string]int{"a": 10, "b": 0},
		Provisioned: map[string]map[string]stratus.ProvisionedConfig{
			"a": {"1": {Requested: 5}},                         // within a's reservation
			"c": {"live": {Requested: 3}, "2": {Requested: 4}}, // from the unreserved pool
		},
	}
	if got := c.Committed(); got != 17 {
		t.Errorf("Committed = %d, want 10 + 0 + 7", got)
	}
	if got := c.TotalReserved(); got != 10 {
		t.Errorf("TotalReserved = %d, want 10", got)
	}
	if got := c.ProvisionedFor("c"); got != 7 {
		t.Errorf("ProvisionedFor(c) = %d, want 7", got)
	}
	if n, ok := c.ReservedFor("b"); !ok || n != 0 {
		t.Errorf("ReservedFor(b) = %d, %v; want 0, true", n, ok)
	}
	if _, ok := (*stratus.ConcurrencyConfig)(nil).ReservedFor("a"); ok {
		t.Error("nil config has a reservation")
	}
	if stratus.UnreservedMinimum(1000) != 100 || stratus.UnreservedMinimum(10) != 10 {
		t.Error("UnreservedMinimum")
	}
}
