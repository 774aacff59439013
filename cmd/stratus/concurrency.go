package main

import (
	"context"

	"github.com/stratus-dev/stratus"
)

// wireConcurrency puts the stored concurrency settings into force in the
// router and keeps them current (local and remote changes alike), and
// removes a deleted function's settings. It returns a func that stops
// both.
func (m *Main) wireConcurrency(ctx context.Context) (stop func()) {
	stopConc := m.conc.WatchConcurrency(m.router.SetConcurrency)
	if cfg, err := m.conc.Concurrency(ctx); err == nil {
		m.router.SetConcurrency(cfg)
	}
	stopFns := m.store.WatchFunctions(func(f *stratus.Function, deleted bool) {
		if !deleted || f.Version != stratus.LatestVersion && f.Version != "" {
			return
		}
		go m.forgetConcurrency(f.Name)
	})
	return func() { stopFns(); stopConc() }
}

// forgetConcurrency deletes the reserved and provisioned concurrency of a
// deleted function, as deleting a function does on AWS.
func (m *Main) forgetConcurrency(name string) {
	ctx := context.Background()
	cfg, err := m.conc.Concurrency(ctx)
	if err != nil {
		return
	}
	if _, ok := cfg.Reserved[name]; !ok && len(cfg.Provisioned[name]) == 0 {
		return
	}
	if _, err := m.conc.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
		if _, err := m.store.Function(ctx, name); err == nil {
			return errRecreated // created again meanwhile: its settings stay
		}
		delete(c.Reserved, name)
		delete(c.Provisioned, name)
		return nil
	}); err != nil && err != errRecreated {
		m.Logger.Warn("removing the concurrency settings of a deleted function", "function", name, "err", err)
	}
}

var errRecreated = stratus.Errorf(stratus.ECONFLICT, "function exists again")
