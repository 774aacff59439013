package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
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
	lastUsed time.Time // set while not in use, by the goroutine holding it
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
// for the first invocation. An init failure is returned as an outcome for
// the waiting invocation; err is for platform failures.
func (r *Router) coldStart(ctx context.Context, fn *stratus.Function, requestID string, tail bool) (*env, *invokeOutcome, error) {
	t0 := time.Now()
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
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("creating output pipe: %w", err)
	}
	e.out = newLogPump(pr, r.sink, "/aws/lambda/"+fn.Name, e.stream)
	e.out.begin(tail)
	spec := r.sandboxSpec(fn, dir, id, e.stream)
	spec.Stdout, spec.Stderr = pw, pw
	h, err := r.driver.Start(ctx, spec)
	_ = pw.Close() // the sandbox holds its own copy
	if err != nil {
		if isEntrypointError(err) {
			o := &invokeOutcome{
				errorType: "Runtime.InvalidEntrypoint",
				payload:   errorPayload("Runtime.InvalidEntrypoint", fmt.Sprintf("RequestId: %s Error: %v", requestID, err)),
				log:       e.out,
				initDur:   time.Since(t0),
				memoryMB:  fn.MemorySize,
				initOnly:  true,
			}
			o.finishInit(requestID, fn.Version)
			e.out.close()
			return nil, o, nil
		}
		e.out.close()
		return nil, nil, fmt.Errorf("starting sandbox for %s: %w", fn.Name, err)
	}
	e.h = h
	go func() { _ = e.api.Serve(h.Listener()) }()
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.live[e] = struct{}{}
	}
	r.mu.Unlock()
	if closed {
		e.close()
		return nil, nil, stratus.Errorf(stratus.EUNAVAILABLE, "The server is shutting down.")
	}

	timer := time.NewTimer(r.cfg.InitTimeout)
	defer timer.Stop()
	fail := func(typ string, payload []byte) (*env, *invokeOutcome, error) {
		_ = h.Kill()
		<-h.Done()
		e.out.waitEOF(100 * time.Millisecond)
		o := &invokeOutcome{errorType: typ, payload: payload, log: e.out, initDur: time.Since(t0),
			memoryMB: fn.MemorySize, maxMemBytes: h.MaxMemoryBytes(), initOnly: true}
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
	if err := h.SetCPU(cpuMillis(fn.MemorySize)); err != nil {
		r.destroy(e)
		return nil, nil, fmt.Errorf("limiting CPU of %s: %w", fn.Name, err)
	}
	e.out.initDur = time.Since(t0)
	return e, nil, nil
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
// back (or destroys it) afterwards. It returns nil, having destroyed e,
// when the runtime never became ready to take the invocation.
func (r *Router) run(e *env, fn *stratus.Function, inv *runtimeapi.Invocation, tail bool) *invokeOutcome {
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
	o := &invokeOutcome{log: e.out, memoryMB: fn.MemorySize, duration: time.Since(start), initDur: e.out.initDur}
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
