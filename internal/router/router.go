// Package router implements stratus.Invoker: it resolves the function an
// invocation names, admits it within the account's and the function's
// concurrency limits, picks an idle warm execution environment or starts a
// new one (cold start, within the scaling rate and the memory budget),
// hands the event to the runtime over the Runtime API and turns what
// happens (response, error, timeout, crash, OOM) into Lambda's responses,
// log lines and metrics.
//
// Environments of one function version live in a per-version stack of idle
// environments (most recently used first); provisioned environments live
// in their own pool per function version or alias and serve first. An
// environment serves one invocation at a time, and is frozen (cgroup
// freezer) once it has been idle for Config.FreezeDelay (longer while it
// is in steady use):
//
//	cold start ──> INIT ──(first next)──> IDLE <──> BUSY
//	                 │                    │  ^        │
//	           init failure       FreezeDelay  thaw   timeout / exit / OOM
//	                 │                    v  │        │
//	                 │                   FROZEN       │
//	                 │                      │         │
//	                 │      keep-alive / memory-budget eviction / Close
//	                 v                      v         v
//	              destroyed <───────────────┴─────────┘
//
// Admission (admission.go) happens before an environment is chosen: a
// function with reserved concurrency runs at most that many invocations
// at once; the others share what is left of the account's concurrency.
// A cold start also needs a token of the function's scaling-rate bucket
// and room in the memory budget, evicting idle environments least recently
// used first. Whatever does not fit is throttled at once (429), never
// queued.
//
// The limits are per server: in a cluster each node admits against its own
// counters (the settings themselves are shared through JetStream).
//
// Lock order: env.fmu, then Router.mu. Neither is held while a sandbox is
// started, frozen, thawed or destroyed, except env.fmu around freezing and
// thawing its own environment.
package router

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/runtimeapi"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// Config configures a Router.
type Config struct {
	Region    string
	AccountID string
	// CodeDir caches unpacked deployment packages, one directory per code
	// key. It is a cache of the code store and may be deleted.
	CodeDir string
	// InitTimeout bounds a runtime's initialisation (Lambda: 10 s).
	InitTimeout time.Duration
	// KeepAlive is how long an idle environment is kept warm.
	KeepAlive time.Duration
	// PidsMax limits processes plus threads per environment.
	PidsMax int

	// Runtimes holds the Runtime API clients of the managed runtimes
	// (package runtimes); New writes them to RuntimeDir, which managed
	// environments show read-only at /var/runtime. With nil Runtimes,
	// python3.x and nodejs*.x functions fail their init.
	Runtimes   fs.FS
	RuntimeDir string
	// PythonPath and NodePath are the host interpreters of the managed
	// runtimes, as absolute paths visible inside the sandbox ("" when
	// there is none: those functions then fail their init).
	PythonPath string
	NodePath   string

	// AccountConcurrency is the most invocations the account runs at once
	// (Lambda's default quota: 1,000).
	AccountConcurrency int
	// ScaleRate new environments per ScalePeriod may be started for one
	// function: a token bucket of ScaleRate tokens, refilled continuously
	// (Lambda: 1,000 per 10 s).
	ScaleRate   int
	ScalePeriod time.Duration
	// MemoryBudgetMB bounds the sum of the MemorySize of live
	// environments.
	MemoryBudgetMB int
	// FreezeDelay is how long an environment stays idle before it is
	// frozen. Back-to-back invocations then skip the freeze and thaw; 0
	// freezes as soon as the runtime waits for the next event. An
	// environment thawed within a second of being frozen waits twice as
	// long before its next freeze, up to a second; one that stayed frozen
	// longer is back to FreezeDelay.
	FreezeDelay time.Duration
	// StopGrace is how long a runtime has between SIGTERM and SIGKILL when
	// the router closes (Lambda: 2 s).
	StopGrace time.Duration

	// Rand returns uniform numbers in [0,1) for weighted alias routing;
	// nil means math/rand/v2.Float64.
	Rand func() float64

	// Registerer receives the router's Prometheus metrics; nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
	// Logger receives platform diagnostics; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Used for the
	// scaling-rate buckets.
	Now func() time.Time
}

// DefaultConfig returns the defaults: Lambda's 10 s init limit, 5 minutes
// keep-alive, Lambda's 1,024 processes/threads per environment, 1,000
// concurrent invocations, 1,000 new environments per 10 s per function, a
// memory budget of half the host's memory, freezing after 10 ms idle and
// Lambda's 2 s shutdown grace.
func DefaultConfig() Config {
	return Config{
		Region:             "us-east-1",
		AccountID:          "000000000000",
		InitTimeout:        10 * time.Second,
		KeepAlive:          5 * time.Minute,
		PidsMax:            1024,
		PythonPath:         "/usr/bin/python3",
		NodePath:           "/usr/bin/node",
		AccountConcurrency: 1000,
		ScaleRate:          1000,
		ScalePeriod:        10 * time.Second,
		MemoryBudgetMB:     DefaultMemoryBudgetMB(),
		FreezeDelay:        10 * time.Millisecond,
		StopGrace:          2 * time.Second,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("router: Region is empty"))
	}
	if len(c.AccountID) != 12 {
		errs = append(errs, fmt.Errorf("router: AccountID %q is not 12 digits", c.AccountID))
	}
	if c.CodeDir == "" {
		errs = append(errs, errors.New("router: CodeDir is empty"))
	}
	if c.InitTimeout <= 0 {
		errs = append(errs, errors.New("router: InitTimeout must be positive"))
	}
	if c.KeepAlive <= 0 {
		errs = append(errs, errors.New("router: KeepAlive must be positive"))
	}
	if c.PidsMax < 16 {
		errs = append(errs, fmt.Errorf("router: PidsMax %d is below 16", c.PidsMax))
	}
	if c.Runtimes != nil && !filepath.IsAbs(c.RuntimeDir) {
		errs = append(errs, fmt.Errorf("router: RuntimeDir %q is not an absolute path", c.RuntimeDir))
	}
	for _, p := range []string{c.PythonPath, c.NodePath} {
		if p != "" && !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("router: interpreter %q is not an absolute path", p))
		}
	}
	if c.AccountConcurrency < 1 {
		errs = append(errs, fmt.Errorf("router: AccountConcurrency %d must be at least 1", c.AccountConcurrency))
	}
	if c.ScaleRate < 1 {
		errs = append(errs, fmt.Errorf("router: ScaleRate %d must be at least 1", c.ScaleRate))
	}
	if c.ScalePeriod <= 0 {
		errs = append(errs, errors.New("router: ScalePeriod must be positive"))
	}
	if c.MemoryBudgetMB < 128 {
		errs = append(errs, fmt.Errorf("router: MemoryBudgetMB %d is below 128 (the smallest function)", c.MemoryBudgetMB))
	}
	if c.FreezeDelay < 0 {
		errs = append(errs, errors.New("router: FreezeDelay is negative"))
	}
	if c.StopGrace < 0 {
		errs = append(errs, errors.New("router: StopGrace is negative"))
	}
	return errors.Join(errs...)
}

// Router runs invocations in sandboxed execution environments.
type Router struct {
	cfg     Config
	fns     stratus.FunctionService
	driver  sandbox.Driver
	sink    stratus.LogSink
	code    *codeCache
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	// versions are the host interpreters' versions (managed.go).
	versions *hostVersions

	mu       sync.Mutex
	idle     map[string][]*env     // mu guards idle: on-demand environments per function version, MRU last
	live     map[*env]struct{}     // mu guards live: every environment not destroyed
	starting int                   // mu guards starting: sandboxes being created
	fnStates map[string]*fnState   // mu guards fnStates: admission state per function
	limits   limits                // mu guards limits: the concurrency settings in force
	pooled   int                   // mu guards pooled: invocations drawing from the unreserved pool
	inFlight int                   // mu guards inFlight: admitted invocations
	memUsed  int                   // mu guards memUsed: MB of live and starting environments
	prov     map[provKey]*provPool // mu guards prov: provisioned concurrency pools
	draining bool                  // mu guards draining: new invocations are refused
	drained  chan struct{}         // mu guards drained: closed once draining and nothing is in flight
	closed   bool                  // mu guards closed

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ stratus.Invoker = (*Router)(nil)

// New returns a Router. Close it to stop every environment.
func New(cfg Config, fns stratus.FunctionService, driver sandbox.Driver, sink stratus.LogSink) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	r := &Router{
		cfg:      cfg,
		fns:      fns,
		driver:   driver,
		sink:     sink,
		code:     newCodeCache(cfg.CodeDir, fns),
		log:      lg,
		now:      cfg.Now,
		idle:     make(map[string][]*env),
		live:     make(map[*env]struct{}),
		fnStates: make(map[string]*fnState),
		prov:     make(map[provKey]*provPool),
		stop:     make(chan struct{}),
	}
	if r.now == nil {
		r.now = time.Now
	}
	runtimeDir := ""
	if cfg.Runtimes != nil {
		if err := installRuntimes(cfg.Runtimes, cfg.RuntimeDir); err != nil {
			return nil, fmt.Errorf("installing the managed runtimes: %w", err)
		}
		runtimeDir = cfg.RuntimeDir
	}
	r.versions = newHostVersions(cfg.PythonPath, cfg.NodePath, runtimeDir)
	r.limits = newLimits(cfg.AccountConcurrency, nil)
	m, err := newMetrics(r, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	lg.Info("execution environment limits", "account_concurrency", cfg.AccountConcurrency,
		"scaling_rate", fmt.Sprintf("%d per %v", cfg.ScaleRate, cfg.ScalePeriod), "memory_budget_mb", cfg.MemoryBudgetMB,
		"keep_alive", cfg.KeepAlive, "freeze_delay", cfg.FreezeDelay)
	r.wg.Add(1)
	go r.reapLoop()
	if cfg.Runtimes != nil {
		r.wg.Go(r.versions.detect) // compiles the Python client, too
	}
	r.startRetiring() // retire.go
	return r, nil
}

// Shutdown stops admitting invocations (they fail with EUNAVAILABLE) and
// waits until those in flight have finished or ctx ends. Environments
// keep running until Close.
func (r *Router) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if !r.draining {
		r.draining = true
		r.drained = make(chan struct{})
		if r.inFlight == 0 {
			close(r.drained)
		}
	}
	drained := r.drained
	r.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops every environment: each runtime gets SIGTERM and, after
// Config.StopGrace, SIGKILL. Invocations still in flight fail.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.draining = true
	envs := make([]*env, 0, len(r.live))
	for e := range r.live {
		envs = append(envs, e)
	}
	r.idle = map[string][]*env{}
	pools := make([]*provPool, 0, len(r.prov))
	for _, p := range r.prov {
		pools = append(pools, p)
	}
	r.mu.Unlock()
	close(r.stop)
	for _, p := range pools {
		p.wake()
	}
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Go(func() {
			if e.h != nil {
				_ = e.h.Stop(r.cfg.StopGrace)
			}
			r.destroy(e)
		})
	}
	wg.Wait()
	r.wg.Wait()
	return nil
}

// FunctionARN renders a function ARN, qualified when qualifier is set.
func (r *Router) FunctionARN(name, qualifier string) string {
	arn := "arn:aws:lambda:" + r.cfg.Region + ":" + r.cfg.AccountID + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// Invoke runs req synchronously. See stratus.Invoker.
func (r *Router) Invoke(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
	fn, err := r.resolve(ctx, req)
	if err != nil {
		return nil, err
	}
	t, e, err := r.admit(fn, req.Qualifier)
	if err != nil {
		return nil, err
	}
	defer r.finish(t)
	inv := &runtimeapi.Invocation{
		RequestID:     awsapi.NewRequestID(),
		Payload:       req.Payload,
		InvokedARN:    r.FunctionARN(req.FunctionName, req.Qualifier),
		TraceID:       req.TraceID,
		ClientContext: req.ClientContext,
	}
	if inv.TraceID == "" {
		inv.TraceID = newTraceID()
	}
	if req.RequestID != "" { // an async event keeps its id across attempts
		inv.RequestID = req.RequestID
	}
	// An idle environment may turn out to be gone (its runtime exited after
	// answering, as aws-lambda-go does after a panic); the invocation then
	// moves to another environment, since it was never delivered.
	for attempt := 0; ; attempt++ {
		if e == nil && attempt > 0 {
			e = r.takeIdle(fn, req.Qualifier)
		}
		kind := startWarm
		switch {
		case e == nil:
			if err := r.allowColdStart(t.fs, fn); err != nil {
				return nil, err
			}
			var failure *invokeOutcome
			e, failure, err = r.coldStart(ctx, fn, inv.RequestID, req.TailLog, nil)
			if err != nil {
				return nil, err
			}
			kind = startCold
			if failure != nil {
				t.fs.m.observe(failure, kind)
				return failure.response(inv.RequestID, fn.Version, req.TailLog), nil
			}
		case e.prov != nil:
			kind = startProvisioned
		}
		if out := r.run(e, fn, inv, req.TailLog, kind); out != nil {
			t.fs.m.observe(out, kind)
			return out.response(inv.RequestID, fn.Version, req.TailLog), nil
		}
		e = nil
		if attempt == 2 {
			return nil, stratus.Errorf(stratus.EUNAVAILABLE, "No execution environment of %s could take the invocation.", fn.Name)
		}
	}
}

func errShuttingDown() error {
	return stratus.Errorf(stratus.EUNAVAILABLE, "The server is shutting down.")
}

// versionKey names the pool of environments of one function version.
func versionKey(fn *stratus.Function) string { return fn.Name + ":" + fn.Version }

// takeIdle returns an idle environment for fn invoked through qualifier,
// thawed and marked busy, or nil: a provisioned one first, else the most
// recently used on-demand one. Environments of an older configuration, and
// ones whose runtime has exited, are retired on the way.
func (r *Router) takeIdle(fn *stratus.Function, qualifier string) *env {
	r.mu.Lock()
	e, stale := r.popIdleLocked(fn, qualifier)
	r.mu.Unlock()
	return r.readyTaken(e, stale)
}

// popIdleLocked pops the environment takeIdle returns, and the stale ones
// it met; r.mu must be held.
func (r *Router) popIdleLocked(fn *stratus.Function, qualifier string) (found *env, stale []*env) {
	// A weighted alias may send the invocation to another version than
	// the one its pool provisions: that version's on-demand environments
	// serve it then.
	if p := r.prov[provKey{fn.Name, qualifier}]; p != nil && len(p.idle) > 0 && p.version == versionKey(fn) {
		for len(p.idle) > 0 && found == nil {
			e := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if e.key != versionKey(fn) || e.revision != fn.RevisionID || e.exited() {
				stale = append(stale, e)
				continue
			}
			found = e
		}
		if len(stale) > 0 {
			p.wake()
		}
	}
	key := versionKey(fn)
	stack := r.idle[key]
	for len(stack) > 0 && found == nil {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e.revision != fn.RevisionID || e.exited() {
			stale = append(stale, e)
			continue
		}
		found = e
	}
	if len(stack) == 0 {
		delete(r.idle, key)
	} else {
		r.idle[key] = stack
	}
	if found != nil {
		found.idle = false
		found.state.Store(int32(stateBusy))
	}
	for _, e := range stale {
		e.idle = false
	}
	return found, stale
}

// readyTaken retires stale and thaws e, which was just taken from an idle
// stack; it returns nil when e cannot be thawed.
func (r *Router) readyTaken(e *env, stale []*env) *env {
	for _, s := range stale {
		go r.destroy(s)
	}
	if e == nil {
		return nil
	}
	if err := r.thaw(e); err != nil {
		r.log.Warn("thawing environment", "env", e.id, "err", err)
		go r.destroy(e)
		return nil
	}
	return e
}

// release returns e to its idle stack (or its provisioned pool), or
// destroys it when it cannot serve again.
func (r *Router) release(e *env, reusable bool) {
	if reusable && !e.exited() {
		r.mu.Lock()
		if !r.closed && (e.prov == nil || e.prov.keepLocked(e)) {
			e.lastUsed = r.now()
			e.idle = true
			e.state.Store(int32(stateIdle))
			if e.prov != nil {
				e.prov.idle = append(e.prov.idle, e)
			} else {
				r.idle[e.key] = append(r.idle[e.key], e)
			}
			r.mu.Unlock()
			r.scheduleFreeze(e)
			return
		}
		r.mu.Unlock()
	}
	go r.destroy(e)
}

// destroy stops e and frees its resources; it is idempotent.
func (r *Router) destroy(e *env) {
	r.mu.Lock()
	_, ok := r.live[e]
	delete(r.live, e)
	if ok {
		r.memUsed -= e.memoryMB
		if e.idle {
			r.unlinkIdleLocked(e)
		}
		if e.prov != nil {
			e.prov.forgetLocked(e)
		}
	}
	r.mu.Unlock()
	if !ok {
		return
	}
	e.freezeTimer.Stop()
	e.fmu.Lock()
	e.dead = true
	e.fmu.Unlock()
	e.close()
}

// unlinkIdleLocked removes e from the idle stack holding it; r.mu must be
// held.
func (r *Router) unlinkIdleLocked(e *env) {
	e.idle = false
	if e.prov != nil {
		e.prov.idle = removeEnv(e.prov.idle, e)
		return
	}
	stack := removeEnv(r.idle[e.key], e)
	if len(stack) == 0 {
		delete(r.idle, e.key)
	} else {
		r.idle[e.key] = stack
	}
}

func removeEnv(s []*env, e *env) []*env {
	for i, x := range s {
		if x == e {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// reapLoop retires on-demand environments idle for longer than the
// keep-alive, and lets provisioned pools check their allocation.
func (r *Router) reapLoop() {
	defer r.wg.Done()
	interval := r.cfg.KeepAlive / 4
	if interval > 10*time.Second {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			now := r.now()
			var old []*env
			r.mu.Lock()
			for key, stack := range r.idle {
				keep := stack[:0]
				for _, e := range stack {
					if now.Sub(e.lastUsed) > r.cfg.KeepAlive || e.exited() {
						e.idle = false
						old = append(old, e)
					} else {
						keep = append(keep, e)
					}
				}
				if len(keep) == 0 {
					delete(r.idle, key)
				} else {
					r.idle[key] = keep
				}
			}
			for _, p := range r.prov {
				p.wake()
			}
			r.mu.Unlock()
			for _, e := range old {
				r.metrics.reclaimed.WithLabelValues("keep-alive").Inc()
				r.destroy(e)
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTraceID returns an X-Ray trace header for an untraced invocation:
// Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0.
func newTraceID() string {
	var r [4 + 12 + 8]byte
	binary.BigEndian.PutUint32(r[:4], uint32(time.Now().Unix()))
	_, _ = rand.Read(r[4:])
	b := make([]byte, 0, 64)
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, r[:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, r[4:16])
	b = append(b, ";Parent="...)
	b = hex.AppendEncode(b, r[16:])
	b = append(b, ";Sampled=0"...)
	return string(b)
}
