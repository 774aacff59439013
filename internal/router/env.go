package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/runtimeapi"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// env is one execution environment: a sandbox running a runtime, the
// Runtime API server it talks to and the pump that collects its output.
type env struct {
	id       string
	key      string // versionKey of the function
	revision string // RevisionID of the configuration it was built from
	memoryMB int
	h        sandbox.Handle
	api      *runtimeapi.Server
	out      *logPump
	stream   string    // log stream name
	prov     *provPool // the provisioned pool it belongs to; nil for on-demand
	state    atomic.Int32

	// Router.mu guards lastUsed and idle.
	lastUsed time.Time
	idle     bool // in an idle stack

	fmu         sync.Mutex  // held while freezing or thawing
	frozen      bool        // fmu guards frozen
	frozenAt    time.Time   // fmu guards frozenAt: when it was last frozen
	dead        bool        // fmu guards dead: destroy has begun
	freezeTimer *time.Timer // set at creation, armed by scheduleFreeze
	// freezeDelay is how long it stays idle before it is frozen (a
	// time.Duration; see nextFreezeDelay). Changed only under fmu.
	freezeDelay atomic.Int64
}

func (e *env) exited() bool {
	select {
	case <-e.h.Done():
		return true
	default:
		return false
	}
}

func (e *env) close() {
	_ = e.api.Close()
	_ = e.h.Destroy()
	e.out.close()
}

// logStreamName follows Lambda: YYYY/MM/DD/[version]<32 hex>.
func logStreamName(t time.Time, version, id string) string {
	return t.UTC().Format("2006/01/02") + "/[" + version + "]" + id
}

// cpuMillis gives CPU in proportion to memory as Lambda does (1,769 MB is
// one vCPU).
func cpuMillis(memoryMB int) int {
	return int(math.Ceil(float64(memoryMB) * 1000 / 1769))
}

// coldStart creates an environment for fn and waits until its runtime asks
// for the first invocation. The caller has reserved fn.MemorySize in the
// memory budget (allowColdStart); the environment takes it over, and it is
// released on every failure. An init failure is returned as an outcome
// for the waiting invocation; err is for platform failures.
//
// With prov set the environment is provisioned: it is initialised ahead of
// any invocation (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency),
// its init output is not part of its first invocation's log, and an init
// failure is returned as err.
func (r *Router) coldStart(ctx context.Context, fn *stratus.Function, requestID string, tail bool, prov *provPool) (*env, *invokeOutcome, error) {
	t0 := time.Now()
	r.mu.Lock()
	r.starting++
	r.mu.Unlock()
	started := false
	defer func() {
		r.mu.Lock()
		r.starting--
		if !started {
			r.memUsed -= fn.MemorySize // no environment took the reservation
		}
		r.mu.Unlock()
	}()
	dir, err := r.code.dir(ctx, fn.Code.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing code of %s: %w", fn.Name, err)
	}
	id := randomHex(16)
	e := &env{
		id:       id,
		key:      versionKey(fn),
		revision: fn.RevisionID,
		memoryMB: fn.MemorySize,
		api:      runtimeapi.New(),
		stream:   logStreamName(t0, fn.Version, id),
		prov:     prov,
	}
	e.freezeTimer = r.newFreezeTimer(e)
	e.freezeDelay.Store(int64(r.cfg.FreezeDelay))
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("creating output pipe: %w", err)
	}
	e.out = newLogPump(pr, r.sink, "/aws/lambda/"+fn.Name, e.stream)
	e.out.begin(tail)
	spec := r.sandboxSpec(fn, dir, id, e.stream)
	if prov != nil {
		spec.Env = setEnv(spec.Env, "AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
	}
	spec.Stdout, spec.Stderr = pw, pw
	h, err := r.driver.Start(ctx, spec)
	_ = pw.Close() // the sandbox holds its own copy
	if err != nil {
		if isEntrypointError(err) && prov == nil {
			o := &invokeOutcome{
				errorType: "Runtime.InvalidEntrypoint",
				payload:   errorPayload("Runtime.InvalidEntrypoint", fmt.Sprintf("RequestId: %s Error: %v", requestID, err)),
				log:       e.out,
				initDur:   time.Since(t0),
				memoryMB:  fn.MemorySize,
				initOnly:  true,
				start:     startCold,
			}
			o.finishInit(requestID, fn.Version)
			e.out.close()
			return nil, o, nil
		}
		e.out.close()
		return nil, nil, fmt.Errorf("starting sandbox for %s: %w", fn.Name, err)
	}
	tSandbox := time.Now()
	e.h = h
	e.state.Store(int32(stateInit))
	ln := &firstAccept{Listener: h.Listener()}
	go func() { _ = e.api.Serve(ln) }()
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.live[e] = struct{}{}
		started = true
	}
	r.mu.Unlock()
	if closed {
		e.close()
		return nil, nil, errShuttingDown()
	}

	timer := time.NewTimer(r.cfg.InitTimeout)
	defer timer.Stop()
	fail := func(typ string, payload []byte) (*env, *invokeOutcome, error) {
		_ = h.Kill()
		<-h.Done()
		e.out.waitEOF(100 * time.Millisecond)
		o := &invokeOutcome{errorType: typ, payload: payload, log: e.out, initDur: time.Since(t0),
			memoryMB: fn.MemorySize, maxMemBytes: h.MaxMemoryBytes(), initOnly: true, start: startCold}
		if prov != nil {
			o.logInitFailure()
			e.out.end()
			r.destroy(e)
			return nil, nil, &initError{errorType: typ, payload: payload}
		}
		o.finishInit(requestID, fn.Version)
		r.destroy(e)
		return nil, o, nil
	}
	select {
	case <-e.api.Ready():
	case res := <-e.api.InitError():
		typ := res.ErrorType
		if typ == "" {
			typ = "Runtime.Unknown"
		}
		return fail(typ, res.Payload)
	case <-h.Done():
		typ, msg := exitError(h.Exit())
		return fail(typ, errorPayload(typ, fmt.Sprintf("RequestId: %s Error: %s", requestID, msg)))
	case <-timer.C:
		return fail("Sandbox.Timedout", errorPayload("Sandbox.Timedout",
			fmt.Sprintf("RequestId: %s Error: Init phase timed out after %.2f seconds", requestID, r.cfg.InitTimeout.Seconds())))
	}
	tReady := time.Now()
	if err := h.SetCPU(cpuMillis(fn.MemorySize)); err != nil {
		r.destroy(e)
		return nil, nil, fmt.Errorf("limiting CPU of %s: %w", fn.Name, err)
	}
	ph := coldPhases{sandbox: tSandbox.Sub(t0), total: tReady.Sub(t0)}
	if at := ln.at(); !at.IsZero() && at.Before(tReady) {
		ph.runtime, ph.init = at.Sub(tSandbox), tReady.Sub(at)
	} else {
		ph.runtime = tReady.Sub(tSandbox)
	}
	r.fnMetrics(fn.Name).observeColdStart(ph)
	r.log.Debug("cold start", "function", fn.Name, "version", fn.Version, "env", id,
		"provisioned", prov != nil, "total_ms", ms(ph.total), "sandbox_ms", ms(ph.sandbox),
		"runtime_ms", ms(ph.runtime), "init_ms", ms(ph.init))
	if prov != nil {
		e.out.end() // the init output belongs to no invocation
	} else {
		e.out.initDur = ph.total
	}
	return e, nil, nil
}

// coldPhases breaks a cold start down: creating the sandbox (unpacking the
// code, namespaces, cgroups, exec), starting the runtime (until its first
// Runtime API connection) and initialising the function (until the first
// invocation/next). For a runtime that connects only to ask for its first
// event (aws-lambda-go does), runtime start covers the function's init and
// init is ~0.
type coldPhases struct {
	total, sandbox, runtime, init time.Duration
}

// firstAccept is a listener that remembers when it first accepted a
// connection.
type firstAccept struct {
	net.Listener
	first atomic.Int64 // unix nanoseconds of the first Accept
}

func (l *firstAccept) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.first.Load() == 0 {
		l.first.CompareAndSwap(0, time.Now().UnixNano())
	}
	return c, err
}

func (l *firstAccept) at() time.Time {
	if n := l.first.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// initError is the failed initialisation of a provisioned environment.
type initError struct {
	errorType string
	payload   []byte
}

func (e *initError) Error() string {
	return "init failed with " + e.errorType + ": " + string(e.payload)
}

// setEnv sets key=value in a "K=V" environment list.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// isEntrypointError tells an exec failure of the function's own entry
// point (missing, not executable, bad format) from a platform failure.
func isEntrypointError(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.EACCES)
}

// exitError classifies how a runtime process ended.
func exitError(x sandbox.Exit) (errorType, message string) {
	if x.OOMKilled {
		return "Runtime.OutOfMemory", "Runtime exited with error: " + x.String() + " (out of memory: the function exceeded its memory limit)"
	}
	if x.Signal == "" && x.Code == 0 {
		return "Runtime.ExitError", "Runtime exited without providing a reason"
	}
	return "Runtime.ExitError", "Runtime exited with error: " + x.String()
}

// run executes inv in e, which the caller holds exclusively, and puts e
// back (or destroys it) afterwards; kind says how e came to serve inv. It
// returns nil, having destroyed e, when the runtime never became ready to
// take the invocation.
func (r *Router) run(e *env, fn *stratus.Function, inv *runtimeapi.Invocation, tail bool, kind startKind) *invokeOutcome {
	e.state.Store(int32(stateBusy))
	timeout := time.Duration(fn.Timeout) * time.Second
	if !r.awaitWaiting(e, timeout) {
		r.destroy(e)
		return nil
	}
	start := time.Now()
	inv.Deadline = start.Add(timeout)
	e.out.begin(tail)
	e.out.platform("START RequestId: " + inv.RequestID + " Version: " + fn.Version)
	ctx, cancel := context.WithDeadline(context.Background(), inv.Deadline)
	res, err := e.api.Invoke(ctx, inv, e.h.Done())
	cancel()
	o := &invokeOutcome{log: e.out, memoryMB: fn.MemorySize, duration: time.Since(start), initDur: e.out.initDur, start: kind}
	e.out.initDur = 0
	reusable := false
	switch {
	case err == nil:
		e.out.drain()
		o.payload = res.Payload
		if res.Failed {
			o.errorType = res.ErrorType
			if o.errorType == "" {
				o.errorType = "Unhandled"
			}
		}
		reusable = true
	case errors.Is(err, runtimeapi.ErrDeadline):
		_ = e.h.Kill()
		<-e.h.Done()
		e.out.waitEOF(100 * time.Millisecond)
		o.errorType = "Sandbox.Timedout"
		o.timedOut = timeout
		o.payload = errorPayload(o.errorType, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.RequestID, timeout.Seconds()))
	case errors.Is(err, runtimeapi.ErrDied):
		e.out.waitEOF(100 * time.Millisecond)
		x := e.h.Exit()
		typ, msg := exitError(x)
		o.errorType = typ
		o.oom = x.OOMKilled
		o.payload = errorPayload(typ, fmt.Sprintf("RequestId: %s Error: %s", inv.RequestID, msg))
	default:
		o.errorType = "Sandbox.Failure"
		o.payload = errorPayload(o.errorType, fmt.Sprintf("RequestId: %s Error: %v", inv.RequestID, err))
	}
	o.maxMemBytes = e.h.MaxMemoryBytes()
	o.finish(inv.RequestID)
	r.release(e, reusable)
	return o
}

// awaitWaiting waits until e's runtime is blocked in invocation/next. It
// is immediate for a healthy warm environment.
func (r *Router) awaitWaiting(e *env, d time.Duration) bool {
	select {
	case <-e.api.Waiting():
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.api.Waiting():
		return true
	case <-e.h.Done():
		return false
	case <-t.C:
		return false
	}
}

// errorPayload renders the error JSON Lambda returns for platform errors.
func errorPayload(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{typ, msg})
	return b
}
