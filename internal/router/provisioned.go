package router

import (
	"context"
	"errors"
	"time"

	"github.com/stratus-dev/stratus"
)

// provKey names a provisioned concurrency configuration: a function and
// the qualifier (version number or alias name) it was put on.
type provKey struct{ function, qualifier string }

// Provisioned concurrency statuses (the API's ProvisionedConcurrencyStatusEnum).
const (
	ProvisionedInProgress = "IN_PROGRESS"
	ProvisionedReady      = "READY"
	ProvisionedFailed     = "FAILED"
)

// provInitAttempts is how many initialisations in a row may fail before a
// configuration is FAILED (it is retried when its version changes or the
// configuration is put again).
const provInitAttempts = 3

// provRetryDelay is how long a pool waits before trying again to start
// environments that did not fit the memory budget or failed to start.
const provRetryDelay = time.Second

// provPool keeps the provisioned environments of one configuration: it
// starts Requested environments of the version its qualifier resolves to
// in the background, serves invocations through that qualifier from them
// first, replaces those that die and never reclaims them when idle.
type provPool struct {
	r      *Router
	key    provKey
	wakeCh chan struct{}

	// Router.mu guards the fields below.
	requested    int
	lastModified time.Time
	removed      bool
	envs         map[*env]struct{} // initialised environments, idle or busy
	idle         []*env            // idle ones, MRU last
	starting     int               // environments being initialised
	version      string            // versionKey of the version being provisioned
	revision     string            // its RevisionID
	failures     int               // initialisations failed in a row
	failedAt     string            // version+revision that failed provInitAttempts times
	status       string
	reason       string
}

func newProvPool(r *Router, key provKey) *provPool {
	return &provPool{r: r, key: key, wakeCh: make(chan struct{}, 1), envs: map[*env]struct{}{},
		status: ProvisionedInProgress}
}

// wake asks the pool's loop to reconcile soon; it never blocks.
func (p *provPool) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// keepLocked reports whether e, a released environment of the pool, goes
// back to its idle list; r.mu must be held. An environment of a version
// the pool no longer provisions, or beyond what is requested, is dropped.
func (p *provPool) keepLocked(e *env) bool {
	if _, ok := p.envs[e]; !ok {
		return false
	}
	if p.removed || e.key != p.version || e.revision != p.revision || len(p.envs) > p.requested {
		p.forgetLocked(e)
		return false
	}
	return true
}

// forgetLocked removes e from the pool; r.mu must be held.
func (p *provPool) forgetLocked(e *env) {
	if _, ok := p.envs[e]; !ok {
		return
	}
	delete(p.envs, e)
	p.idle = removeEnv(p.idle, e)
	p.wake()
}

// syncProvisioned creates, updates and removes pools to match cfg.
func (r *Router) syncProvisioned(cfg *stratus.ConcurrencyConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	want := map[provKey]stratus.ProvisionedConfig{}
	if cfg != nil {
		for fn, qs := range cfg.Provisioned {
			for q, pc := range qs {
				want[provKey{fn, q}] = pc
			}
		}
	}
	for k, p := range r.prov {
		if _, ok := want[k]; !ok {
			p.removed, p.requested = true, 0
			delete(r.prov, k)
			p.wake()
		}
	}
	for k, pc := range want {
		p := r.prov[k]
		if p == nil {
			p = newProvPool(r, k)
			r.prov[k] = p
			r.wg.Add(1)
			go p.loop()
		}
		if p.requested != pc.Requested || !p.lastModified.Equal(pc.LastModified) {
			p.requested, p.lastModified = pc.Requested, pc.LastModified
			p.failures, p.failedAt = 0, ""
		}
		p.wake()
	}
}

// loop reconciles the pool whenever something changed, and retries while
// it lacks environments, until the pool is removed and empty or the
// router closes.
func (p *provPool) loop() {
	defer p.r.wg.Done()
	var retry <-chan time.Time
	for {
		select {
		case <-p.wakeCh:
		case <-retry:
		case <-p.r.stop:
			return
		}
		retry = nil
		done, again := p.reconcile()
		if done {
			return
		}
		if again {
			retry = time.After(provRetryDelay)
		}
	}
}

// reconcile starts or stops environments so that the pool holds what is
// requested of the version its qualifier resolves to. done says the pool
// is removed and empty; again that it should be retried later.
func (p *provPool) reconcile() (done, again bool) {
	r := p.r
	fn, rerr := p.target(context.Background())

	r.mu.Lock()
	var drop []*env
	if rerr == nil && fn.Version == stratus.LatestVersion {
		rerr = stratus.Errorf(stratus.EINVALID, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	if rerr != nil {
		p.version, p.revision = "", "" // busy environments are dropped when released
	} else {
		p.version, p.revision = versionKey(fn), fn.RevisionID
	}
	// Idle environments of another version, or beyond the request, go now;
	// busy ones go when they are released (keepLocked).
	keep := p.idle[:0]
	for _, e := range p.idle {
		if p.removed || rerr != nil || e.key != p.version || e.revision != p.revision || len(p.envs) > p.requested {
			drop = append(drop, e)
			delete(p.envs, e)
			e.idle = false
		} else {
			keep = append(keep, e)
		}
	}
	p.idle = keep
	need := 0
	switch {
	case p.removed:
		done = len(p.envs) == 0 && p.starting == 0
	case rerr != nil:
		p.status, p.reason = ProvisionedFailed, stratus.ErrorMessage(rerr)
	case p.failedAt == p.version+"@"+p.revision:
		p.status = ProvisionedFailed
	default:
		need = p.requested - len(p.envs) - p.starting
		p.starting += max(need, 0)
		p.updateStatusLocked()
	}
	r.mu.Unlock()
	for _, e := range drop {
		r.destroy(e)
	}
	if need <= 0 {
		return done, false
	}
	results := make(chan error, need)
	for range need {
		go func() { results <- p.startOne(fn) }()
	}
	for range need {
		if err := <-results; err != nil {
			again = true
		}
	}
	r.mu.Lock()
	if p.failedAt != "" {
		again = false
	}
	p.updateStatusLocked()
	r.mu.Unlock()
	return false, again
}

// target resolves the version the pool provisions: the version its
// qualifier names, or the primary version of its alias (not a weighted
// choice, so that the pool does not flip between versions).
func (p *provPool) target(ctx context.Context) (*stratus.Function, error) {
	q := p.key.qualifier
	if vs, ok := p.r.fns.(stratus.VersionService); ok && !isVersionNumber(q) && q != stratus.LatestVersion {
		a, err := vs.Alias(ctx, p.key.function, q)
		if err != nil {
			return nil, err
		}
		q = a.FunctionVersion
	}
	return p.r.resolve(ctx, &stratus.InvokeRequest{FunctionName: p.key.function, Qualifier: q})
}

// startOne initialises one environment of fn for the pool.
func (p *provPool) startOne(fn *stratus.Function) error {
	r := p.r
	done := func(e *env, reason string, failed bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		p.starting--
		switch {
		case e == nil:
			p.reason = reason
			if failed {
				p.failures++
				if p.failures >= provInitAttempts {
					p.failedAt = versionKey(fn) + "@" + fn.RevisionID
					p.reason = "FUNCTION_ERROR_INIT_FAILURE"
				}
			}
		case p.removed || r.closed || e.key != p.version || e.revision != p.revision || len(p.envs) >= p.requested:
			go r.destroy(e)
		default:
			p.failures, p.reason = 0, ""
			p.envs[e] = struct{}{}
			p.idle = append(p.idle, e)
			e.idle = true
			e.lastUsed = r.now()
			e.state.Store(int32(stateIdle))
			r.scheduleFreeze(e)
		}
	}
	if !r.reserveMemory(fn.MemorySize) {
		done(nil, "The memory budget of the server has no room for another environment.", false)
		return errors.New("memory budget full")
	}
	e, _, err := r.coldStart(context.Background(), fn, "", false, p)
	if err != nil {
		var ie *initError
		if errors.As(err, &ie) {
			r.log.Warn("provisioned environment failed to initialise", "function", fn.Name,
				"qualifier", p.key.qualifier, "errorType", ie.errorType)
			done(nil, "FUNCTION_ERROR_INIT_FAILURE", true)
		} else {
			r.log.Warn("starting provisioned environment", "function", fn.Name, "qualifier", p.key.qualifier, "err", err)
			done(nil, "Starting an environment failed.", false)
		}
		return err
	}
	done(e, "", false)
	return nil
}

// updateStatusLocked derives the pool's status; r.mu must be held.
func (p *provPool) updateStatusLocked() {
	switch {
	case p.failedAt != "":
		p.status = ProvisionedFailed
	case len(p.envs) >= p.requested && p.requested > 0:
		p.status, p.reason = ProvisionedReady, ""
	default:
		p.status = ProvisionedInProgress
	}
}

// allocatedLocked counts the pool's initialised environments of the
// version it provisions, and the idle ones among them; r.mu must be held.
func (p *provPool) allocatedLocked() (allocated, idle int) {
	for e := range p.envs {
		if e.key == p.version && e.revision == p.revision {
			allocated++
			if e.idle {
				idle++
			}
		}
	}
	return allocated, idle
}

// ProvisionedAllocation reports the allocation of the provisioned
// concurrency configured on function's qualifier; ok is false when the
// router has no such configuration (yet).
func (r *Router) ProvisionedAllocation(function, qualifier string) (a stratus.ProvisionedAllocation, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.prov[provKey{function, qualifier}]
	if p == nil {
		return a, false
	}
	allocated, _ := p.allocatedLocked()
	// Available is the allocation that can serve, as AWS reports it (it
	// differs from Allocated only for weighted aliases); how many are idle
	// right now is in Status.
	return stratus.ProvisionedAllocation{
		Allocated:    allocated,
		Available:    allocated,
		Status:       p.status,
		StatusReason: p.reason,
	}, true
}
