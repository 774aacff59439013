package router

import "time"

// envState is where an environment is in its lifecycle, for metrics and
// status.
type envState int32

const (
	stateInit envState = iota
	stateIdle
	stateBusy
	stateFrozen
	numStates
)

var stateNames = [numStates]string{"initializing", "idle", "busy", "frozen"}

func (s envState) String() string {
	if s < 0 || s >= numStates {
		return "unknown"
	}
	return stateNames[s]
}

// scheduleFreeze arms e's freeze timer after e became idle.
//
// Freezing costs ~0.16 ms and thawing ~0.13 ms (cgroup v1 freezer), and
// a warm invoke that must thaw takes ~0.25 ms instead of ~0.19 ms
// (BenchmarkWarmInvoke, 2 vCPU). So an environment is frozen only once it
// has been idle for its freeze delay: FreezeDelay, longer for one in
// steady use (see nextFreezeDelay). Invocations that come back to back
// never pay for freezing, and background work of the function runs for at
// most the freeze delay after an invocation.
func (r *Router) scheduleFreeze(e *env) {
	e.freezeTimer.Reset(time.Duration(e.freezeDelay.Load()))
}

// maxFreezeDelay bounds the freeze delay of an environment in steady use.
const maxFreezeDelay = time.Second

// nextFreezeDelay is an environment's freeze delay after a thaw, given
// its delay cur, the configured base (FreezeDelay) and how long it was
// frozen. A freeze undone within maxFreezeDelay was work for nothing: the
// environment is in steady use (under async load on 64 workers, freezing
// and thawing took a tenth of the server's CPU), so the delay doubles, up
// to maxFreezeDelay. One that stayed frozen longer is back to base. A
// base of 0 (freeze at once) stays 0.
func nextFreezeDelay(cur, base, frozenFor time.Duration) time.Duration {
	if frozenFor >= maxFreezeDelay {
		return base
	}
	return max(min(2*cur, maxFreezeDelay), base)
}

// newFreezeTimer returns e's freeze timer, stopped.
func (r *Router) newFreezeTimer(e *env) *time.Timer {
	t := time.AfterFunc(time.Hour, func() { r.freezeIdle(e) })
	t.Stop()
	return t
}

// freezeIdle freezes e if it is still idle, has been for FreezeDelay, and
// its runtime waits in invocation/next (so that no Runtime API request is
// cut in the middle). A runtime that has not asked for the next event yet
// is checked again later.
func (r *Router) freezeIdle(e *env) {
	e.fmu.Lock()
	defer e.fmu.Unlock()
	if e.dead || e.frozen {
		return
	}
	r.mu.Lock()
	idle, since := e.idle, r.now().Sub(e.lastUsed)
	r.mu.Unlock()
	if !idle || since < time.Duration(e.freezeDelay.Load()) {
		return // taken meanwhile; a later release re-arms the timer
	}
	select {
	case <-e.api.Waiting():
	default:
		if !e.exited() {
			e.freezeTimer.Reset(max(r.cfg.FreezeDelay, 5*time.Millisecond))
		}
		return
	}
	if err := e.h.Freeze(); err != nil {
		r.log.Warn("freezing environment", "env", e.id, "err", err)
		return
	}
	e.frozen, e.frozenAt = true, r.now()
	r.mu.Lock()
	if e.idle {
		e.state.Store(int32(stateFrozen))
	}
	r.mu.Unlock()
}

// thaw resumes e if it is frozen; the caller holds e exclusively.
func (r *Router) thaw(e *env) error {
	e.fmu.Lock()
	defer e.fmu.Unlock()
	if !e.frozen {
		return nil
	}
	e.frozen = false
	e.freezeDelay.Store(int64(nextFreezeDelay(time.Duration(e.freezeDelay.Load()), r.cfg.FreezeDelay, r.now().Sub(e.frozenAt))))
	return e.h.Thaw()
}
