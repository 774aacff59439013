// Package router implements stratus.Invoker: it resolves the function an
// invocation names, picks an idle warm execution environment or starts a
// new one (cold start), hands the event to the runtime over the Runtime
// API and turns what happens (response, error, timeout, crash, OOM) into
// Lambda's responses and log lines.
//
// Environments of one function version live in a per-version stack of idle
// environments (most recently used first). An environment serves one
// invocation at a time:
//
//	cold start ──> INIT ──(first next)──> IDLE <──> BUSY
//	                 │                      │         │
//	           init failure           keep-alive   timeout / exit / OOM
//	                 v                      v         v
//	              destroyed <───────────────┴─────────┘
package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Logger receives platform diagnostics; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: Lambda's 10 s init limit, 5 minutes
// keep-alive and Lambda's 1,024 processes/threads per environment.
func DefaultConfig() Config {
	return Config{
		Region:      "us-east-1",
		AccountID:   "000000000000",
		InitTimeout: 10 * time.Second,
		KeepAlive:   5 * time.Minute,
		PidsMax:     1024,
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
	return errors.Join(errs...)
}

// Router runs invocations in sandboxed execution environments.
type Router struct {
	cfg    Config
	fns    stratus.FunctionService
	driver sandbox.Driver
	sink   stratus.LogSink
	code   *codeCache
	log    *slog.Logger

	mu     sync.Mutex
	idle   map[string][]*env // mu guards idle: per function version, MRU last
	live   map[*env]struct{} // mu guards live: every environment not destroyed
	closed bool              // mu guards closed

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
		cfg:    cfg,
		fns:    fns,
		driver: driver,
		sink:   sink,
		code:   newCodeCache(cfg.CodeDir, fns),
		log:    lg,
		idle:   make(map[string][]*env),
		live:   make(map[*env]struct{}),
		stop:   make(chan struct{}),
	}
	r.wg.Add(1)
	go r.reapLoop()
	return r, nil
}

// Close destroys every environment. Invocations in flight fail.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	envs := make([]*env, 0, len(r.live))
	for e := range r.live {
		envs = append(envs, e)
	}
	r.idle = map[string][]*env{}
	r.mu.Unlock()
	close(r.stop)
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Add(1)
		go func() { defer wg.Done(); r.destroy(e) }()
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
	// An idle environment may turn out to be gone (its runtime exited after
	// answering, as aws-lambda-go does after a panic); the invocation then
	// moves to another environment, since it was never delivered.
	for attempt := 0; ; attempt++ {
		e := r.takeIdle(fn)
		if e == nil {
			var failure *invokeOutcome
			e, failure, err = r.coldStart(ctx, fn, inv.RequestID, req.TailLog)
			if err != nil {
				return nil, err
			}
			if failure != nil {
				return failure.response(inv.RequestID, fn.Version, req.TailLog), nil
			}
		}
		if out := r.run(e, fn, inv, req.TailLog); out != nil {
			return out.response(inv.RequestID, fn.Version, req.TailLog), nil
		}
		if attempt == 2 {
			return nil, stratus.Errorf(stratus.EUNAVAILABLE, "No execution environment of %s could take the invocation.", fn.Name)
		}
	}
}

// versionKey names the pool of environments of one function version.
func versionKey(fn *stratus.Function) string { return fn.Name + ":" + fn.Version }

// takeIdle pops the most recently used idle environment of fn's version
// that still matches fn's configuration. Environments of an older
// configuration are retired.
func (r *Router) takeIdle(fn *stratus.Function) *env {
	key := versionKey(fn)
	var stale []*env
	var found *env
	r.mu.Lock()
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
	r.idle[key] = stack
	r.mu.Unlock()
	for _, e := range stale {
		go r.destroy(e)
	}
	return found
}

// release returns e to its idle stack, or destroys it when it cannot serve
// again.
func (r *Router) release(e *env, reusable bool) {
	if reusable && !e.exited() {
		e.lastUsed = time.Now()
		r.mu.Lock()
		if !r.closed {
			r.idle[e.key] = append(r.idle[e.key], e)
			r.mu.Unlock()
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
	r.mu.Unlock()
	if !ok {
		return
	}
	e.close()
}

// reapLoop retires environments idle for longer than the keep-alive.
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
		case now := <-t.C:
			var old []*env
			r.mu.Lock()
			for key, stack := range r.idle {
				keep := stack[:0]
				for _, e := range stack {
					if now.Sub(e.lastUsed) > r.cfg.KeepAlive || e.exited() {
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
			r.mu.Unlock()
			for _, e := range old {
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

// newTraceID returns an X-Ray trace header for an untraced invocation.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}
