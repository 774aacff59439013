package router

import (
	"errors"
	"time"
)

// FreezeThaw freezes and thaws an idle on-demand environment of r, as the
// freeze timer and the next invocation do, and says how long each took.
// For benchmarks; r's FreezeDelay must be long enough that the timer does
// not interfere.
func FreezeThaw(r *Router) (freeze, thaw time.Duration, err error) {
	r.mu.Lock()
	var e *env
	for _, stack := range r.idle {
		if len(stack) > 0 {
			e = stack[len(stack)-1]
			break
		}
	}
	r.mu.Unlock()
	if e == nil {
		return 0, 0, errors.New("no idle environment")
	}
	e.fmu.Lock()
	defer e.fmu.Unlock()
	t0 := time.Now()
	if err := e.h.Freeze(); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	if err := e.h.Thaw(); err != nil {
		return 0, 0, err
	}
	return t1.Sub(t0), time.Since(t1), nil
}
