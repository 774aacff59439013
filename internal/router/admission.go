package router

import (
	"time"

	"github.com/stratus-dev/stratus"
)

// Throttling reasons: the TooManyRequestsException Reason values of the
// Lambda API model (reference §1.4) that the router uses.
const (
	// ReasonReserved: the function's reserved concurrency is in use.
	ReasonReserved = "ReservedFunctionConcurrentInvocationLimitExceeded"
	// ReasonAccount: the account's unreserved concurrency is in use. Also
	// used when the memory budget has no room for a new environment and
	// no idle one can be evicted: like the account limit, it is a limit
	// on how many environments run at once, shared by every function
	// without a reservation, and retrying later succeeds once one frees.
	ReasonAccount = "ConcurrentInvocationLimitExceeded"
	// ReasonScaling: the function started its ScaleRate environments per
	// ScalePeriod. The model has no reason for the scaling rate; this is
	// the closest one (a per-function rate limit).
	ReasonScaling = "FunctionInvocationRateLimitExceeded"
)

// limits is the router's digest of the concurrency settings in force.
type limits struct {
	account     int            // the account's concurrency
	reserved    map[string]int // function → reserved concurrency
	provisioned map[string]int // function → provisioned concurrency, summed over qualifiers
	// pool is what functions without a reservation share beyond their
	// provisioned concurrency: the account's concurrency minus every
	// reservation and every unreserved function's provisioned
	// concurrency.
	pool int
	cfg  *stratus.ConcurrencyConfig
}

func newLimits(account int, cfg *stratus.ConcurrencyConfig) limits {
	cfg = cfg.Clone()
	l := limits{account: account, reserved: cfg.Reserved, provisioned: map[string]int{}, cfg: cfg}
	if l.reserved == nil {
		l.reserved = map[string]int{}
	}
	for name := range cfg.Provisioned {
		l.provisioned[name] = cfg.ProvisionedFor(name)
	}
	l.pool = account - cfg.Committed()
	return l
}

// fnState is the admission state of one function.
type fnState struct {
	name     string
	inFlight int // Router.mu guards inFlight, tokens and refilled
	tokens   float64
	refilled time.Time
	m        fnMetrics
}

// ticket is an admitted invocation; finish returns it.
type ticket struct {
	fs     *fnState
	pooled bool // it draws from the unreserved pool
}

// fnStateLocked returns the admission state of function name, creating it
// with a full scaling bucket; r.mu must be held.
func (r *Router) fnStateLocked(name string) *fnState {
	fs := r.fnStates[name]
	if fs == nil {
		fs = &fnState{name: name, tokens: float64(r.cfg.ScaleRate), refilled: r.now(), m: r.metrics.forFunction(name)}
		r.fnStates[name] = fs
	}
	return fs
}

// admit admits an invocation of fn (invoked through qualifier) within the
// concurrency limits and takes an idle environment for it if there is
// one. A throttled invocation gets an ETHROTTLED error with its reason.
func (r *Router) admit(fn *stratus.Function, qualifier string) (ticket, *env, error) {
	r.mu.Lock()
	if r.draining {
		r.mu.Unlock()
		return ticket{}, nil, errShuttingDown()
	}
	fs := r.fnStateLocked(fn.Name)
	t := ticket{fs: fs}
	if n, ok := r.limits.reserved[fn.Name]; ok {
		if fs.inFlight >= n {
			r.mu.Unlock()
			return ticket{}, nil, r.throttle(fs, ReasonReserved)
		}
	} else if fs.inFlight >= r.limits.provisioned[fn.Name] {
		if r.pooled >= r.limits.pool {
			r.mu.Unlock()
			return ticket{}, nil, r.throttle(fs, ReasonAccount)
		}
		t.pooled = true
		r.pooled++
	}
	fs.inFlight++
	r.inFlight++
	e, stale := r.popIdleLocked(fn, qualifier)
	r.mu.Unlock()
	fs.m.concurrent.Inc()
	return t, r.readyTaken(e, stale), nil
}

// finish ends an admitted invocation.
func (r *Router) finish(t ticket) {
	t.fs.m.concurrent.Dec()
	r.mu.Lock()
	t.fs.inFlight--
	r.inFlight--
	if t.pooled {
		r.pooled--
	}
	if r.draining && r.inFlight == 0 && r.drained != nil {
		select {
		case <-r.drained:
		default:
			close(r.drained)
		}
	}
	r.mu.Unlock()
}

// throttle counts a throttled invocation and returns its error.
func (r *Router) throttle(fs *fnState, reason string) error {
	fs.m.throttles(reason).Inc()
	return &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: reason}
}

// allowColdStart takes a token of fn's scaling-rate bucket and reserves
// fn's memory in the budget, evicting idle environments if needed. On
// success the memory belongs to the environment coldStart creates.
func (r *Router) allowColdStart(fs *fnState, fn *stratus.Function) error {
	r.mu.Lock()
	ok := r.takeTokenLocked(fs)
	r.mu.Unlock()
	if !ok {
		return r.throttle(fs, ReasonScaling)
	}
	if !r.reserveMemory(fn.MemorySize) {
		r.mu.Lock()
		fs.tokens = min(fs.tokens+1, float64(r.cfg.ScaleRate)) // no environment was started
		r.mu.Unlock()
		return r.throttle(fs, ReasonAccount)
	}
	return nil
}

// takeTokenLocked refills fs's bucket for the time elapsed and takes one
// token if there is one; r.mu must be held. The bucket holds at most
// ScaleRate tokens: unused capacity is not banked beyond one period.
func (r *Router) takeTokenLocked(fs *fnState) bool {
	now := r.now()
	if el := now.Sub(fs.refilled); el > 0 {
		rate := float64(r.cfg.ScaleRate) / float64(r.cfg.ScalePeriod)
		fs.tokens = min(fs.tokens+rate*float64(el), float64(r.cfg.ScaleRate))
		fs.refilled = now
	}
	if fs.tokens < 1 {
		return false
	}
	fs.tokens--
	return true
}

// reserveMemory reserves mb of the memory budget, evicting idle on-demand
// environments least recently used first until it fits. It reports false,
// having reserved nothing, when nothing more can be evicted.
func (r *Router) reserveMemory(mb int) bool {
	for {
		r.mu.Lock()
		if r.memUsed+mb <= r.cfg.MemoryBudgetMB {
			r.memUsed += mb
			r.mu.Unlock()
			return true
		}
		victim := r.lruIdleLocked()
		if victim != nil {
			r.unlinkIdleLocked(victim)
		}
		r.mu.Unlock()
		if victim == nil {
			return false
		}
		r.metrics.reclaimed.WithLabelValues("memory-budget").Inc()
		r.destroy(victim) // synchronously: its memory is free when destroy returns
	}
}

// freeMemory returns memory reserved by reserveMemory that no environment
// took.
func (r *Router) freeMemory(mb int) {
	r.mu.Lock()
	r.memUsed -= mb
	r.mu.Unlock()
}

// lruIdleLocked returns the least recently used idle on-demand
// environment, or nil; r.mu must be held. Each stack is ordered, so only
// its bottom is a candidate.
func (r *Router) lruIdleLocked() *env {
	var lru *env
	for _, stack := range r.idle {
		if len(stack) > 0 && (lru == nil || stack[0].lastUsed.Before(lru.lastUsed)) {
			lru = stack[0]
		}
	}
	return lru
}

// SetConcurrency puts the account's concurrency settings into force: the
// reserved concurrency of functions and the provisioned concurrency of
// versions and aliases. Invocations already admitted are not affected.
func (r *Router) SetConcurrency(cfg *stratus.ConcurrencyConfig) {
	r.mu.Lock()
	r.limits = newLimits(r.cfg.AccountConcurrency, cfg)
	r.mu.Unlock()
	r.syncProvisioned(cfg)
}
