package runtimeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/stratus-dev/stratus/internal/runtimeapi"
)

// TestMain doubles as a real aws-lambda-go runtime when re-executed with
// STRATUS_TEST_RUNTIME=1, so the server is tested against the client that
// unmodified Go functions use.
func TestMain(m *testing.M) {
	switch os.Getenv("STRATUS_TEST_RUNTIME") {
	case "noop": // the benchmark's function: echo the event
		lambda.Start(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
		return
	case "failing-reader": // a response whose reader fails midway
		lambda.Start(func(_ context.Context, _ json.RawMessage) (io.Reader, error) {
			return io.MultiReader(strings.NewReader("partial"), failingReader{}), nil
		})
		return
	case "1":
		lambda.Start(func(ctx context.Context, ev map[string]any) (map[string]any, error) {
			lc, _ := lambdacontext.FromContext(ctx)
			switch ev["action"] {
			case "error":
				return nil, errors.New("boom")
			case "panic":
				panic("kaboom")
			}
			dl, _ := ctx.Deadline()
			return map[string]any{"event": ev, "requestId": lc.AwsRequestID, "arn": lc.InvokedFunctionArn,
				"deadlineMs": dl.UnixMilli(), "client": lc.ClientContext.Custom}, nil
		})
		return
	}
	os.Exit(m.Run())
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("the disk went away") }

type env struct {
	srv  *runtimeapi.Server
	base string
}

func start(t testing.TB) *env {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.New()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return &env{srv: s, base: "http://" + l.Addr().String() + "/2018-06-01/runtime/"}
}

func invocation(id string, payload string) *runtimeapi.Invocation {
	return &runtimeapi.Invocation{
		RequestID: id, Payload: []byte(payload), Deadline: time.Now().Add(time.Minute),
		InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:f", TraceID: "Root=1-abc;Sampled=0",
	}
}

func TestRuntimeLoopOverHTTP(t *testing.T) {
	e := start(t)
	type out struct {
		r   runtimeapi.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := e.srv.Invoke(context.Background(), invocation("req-1", `{"a":1}`), nil)
		done <- out{r, err}
	}()
	select {
	case <-e.srv.Waiting():
		t.Fatal("Waiting closed before the runtime asked for an invocation")
	default:
	}
	resp, err := http.Get(e.base + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	select {
	case <-e.srv.Waiting():
		t.Fatal("Waiting still closed while the runtime is busy")
	default:
	}
	resp.Body.Close()
	select {
	case <-e.srv.Ready():
	default:
		t.Fatal("Ready not closed after the first next")
	}
	if string(body) != `{"a":1}` || resp.Header.Get(runtimeapi.HeaderRequestID) != "req-1" ||
		resp.Header.Get(runtimeapi.HeaderInvokedARN) == "" || resp.Header.Get(runtimeapi.HeaderTraceID) == "" ||
		resp.Header.Get(runtimeapi.HeaderClientContext) != "" {
		t.Fatalf("next: body %q headers %v", body, resp.Header)
	}
	// A wrong id is refused and changes nothing.
	if code := post(t, e.base+"invocation/other/response", "x", nil); code != http.StatusBadRequest {
		t.Fatalf("wrong id: status %d, want 400", code)
	}
	// A second next while busy is a state error.
	if r, err := http.Get(e.base + "invocation/next"); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("next while busy: %v %v", r.StatusCode, err)
	}
	if code := post(t, e.base+"invocation/req-1/response", `"ok"`, nil); code != http.StatusAccepted {
		t.Fatalf("response: status %d", code)
	}
	o := <-done
	if o.err != nil || string(o.r.Payload) != `"ok"` || o.r.Failed {
		t.Fatalf("result %+v %v", o.r, o.err)
	}
	// Answering twice is a state error.
	if code := post(t, e.base+"invocation/req-1/response", `"again"`, nil); code != http.StatusForbidden {
		t.Fatalf("second response: status %d, want 403", code)
	}
}

func post(t testing.TB, url, body string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func nextID(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get(runtimeapi.HeaderRequestID)
}

func TestErrorTooLargeAndDeadline(t *testing.T) {
	e := start(t)
	// Error with a type header passes the body through.
	res := make(chan runtimeapi.Result, 1)
	go func() { r, _ := e.srv.Invoke(context.Background(), invocation("e1", "{}"), nil); res <- r }()
	id := nextID(t, e.base)
	errBody := `{"errorMessage":"bad","errorType":"MyError"}`
	if code := post(t, e.base+"invocation/"+id+"/error", errBody,
		map[string]string{runtimeapi.HeaderErrorType: "Function.MyError"}); code != http.StatusAccepted {
		t.Fatalf("error post: %d", code)
	}
	if r := <-res; !r.Failed || string(r.Payload) != errBody || r.ErrorType != "Function.MyError" {
		t.Fatalf("error result %+v", r)
	}

	// A response over 6 MB gets 413 and the caller Function.ResponseSizeTooLarge.
	go func() { r, _ := e.srv.Invoke(context.Background(), invocation("e2", "{}"), nil); res <- r }()
	id = nextID(t, e.base)
	big := strings.Repeat("x", runtimeapi.MaxResponseBytes+1)
	if code := post(t, e.base+"invocation/"+id+"/response", big, nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big response: %d", code)
	}
	if r := <-res; !r.Failed || r.ErrorType != "Function.ResponseSizeTooLarge" ||
		!bytes.Contains(r.Payload, []byte("Function.ResponseSizeTooLarge")) {
		t.Fatalf("too-large result %+v", r)
	}

	// The deadline passes: Invoke returns ErrDeadline and a late answer is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := e.srv.Invoke(ctx, invocation("e3", "{}"), nil); errc <- err }()
	id = nextID(t, e.base)
	if err := <-errc; !errors.Is(err, runtimeapi.ErrDeadline) {
		t.Fatalf("deadline: %v", err)
	}
	if code := post(t, e.base+"invocation/"+id+"/response", `1`, nil); code != http.StatusForbidden {
		t.Fatalf("late response: %d, want 403", code)
	}

	// The runtime dies while busy.
	died := make(chan struct{})
	go func() { _, err := e.srv.Invoke(context.Background(), invocation("e4", "{}"), died); errc <- err }()
	nextID(t, e.base)
	close(died)
	if err := <-errc; !errors.Is(err, runtimeapi.ErrDied) {
		t.Fatalf("died: %v", err)
	}
}

func TestInitError(t *testing.T) {
	e := start(t)
	body := `{"errorMessage":"no handler","errorType":"Runtime.NoSuchHandler"}`
	if code := post(t, e.base+"init/error", body, map[string]string{runtimeapi.HeaderErrorType: "Runtime.NoSuchHandler"}); code != http.StatusAccepted {
		t.Fatalf("init/error: %d", code)
	}
	select {
	case r := <-e.srv.InitError():
		if string(r.Payload) != body || r.ErrorType != "Runtime.NoSuchHandler" {
			t.Fatalf("init error %+v", r)
		}
	case <-time.After(time.Second):
		t.Fatal("no init error")
	}
	// After next, init/error is a state error.
	e2 := start(t)
	go func() { _, _ = http.Get(e2.base + "invocation/next") }()
	<-e2.srv.Ready()
	if code := post(t, e2.base+"init/error", body, nil); code != http.StatusForbidden {
		t.Fatalf("late init/error: %d", code)
	}
	if code := post(t, e2.base+"nonsense", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
}

// runtimeProcess starts the test binary as a real aws-lambda-go runtime.
func runtimeProcess(t testing.TB, e *env) *exec.Cmd {
	return runtimeProcessOf(t, e, "1")
}

// runtimeProcessOf starts the test binary as an aws-lambda-go runtime of
// e; kind "1" is the test function, "noop" echoes its event.
func runtimeProcessOf(t testing.TB, e *env, kind string) *exec.Cmd {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(e.base, "http://"), "/2018-06-01/runtime/")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "STRATUS_TEST_RUNTIME="+kind, "AWS_LAMBDA_RUNTIME_API="+addr,
		"AWS_LAMBDA_FUNCTION_NAME=f", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return cmd
}

// TestRealGoRuntimeFailingReader: aws-lambda-go reports a response whose
// reader fails midway in chunked trailers; the invocation fails with that
// error instead of returning the partial body.
func TestRealGoRuntimeFailingReader(t *testing.T) {
	e := start(t)
	runtimeProcessOf(t, e, "failing-reader")
	r, err := e.srv.Invoke(context.Background(), invocation("fr-1", `{}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Failed || !strings.Contains(string(r.Payload), "the disk went away") {
		t.Fatalf("result %+v %q", r, r.Payload)
	}
}

func TestRealGoRuntime(t *testing.T) {
	e := start(t)
	runtimeProcess(t, e)
	select {
	case <-e.srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("runtime never called next")
	}
	inv := invocation("11111111-2222-3333-4444-555555555555", `{"action":"echo","n":1}`)
	inv.ClientContext = `{"custom":{"k":"v"}}`
	r, err := e.srv.Invoke(context.Background(), inv, nil)
	if err != nil || r.Failed {
		t.Fatalf("invoke: %+v %v", r, err)
	}
	var got struct {
		Event      map[string]any    `json:"event"`
		RequestID  string            `json:"requestId"`
		ARN        string            `json:"arn"`
		DeadlineMs int64             `json:"deadlineMs"`
		Client     map[string]string `json:"client"`
	}
	if err := json.Unmarshal(r.Payload, &got); err != nil {
		t.Fatalf("%v: %s", err, r.Payload)
	}
	if got.RequestID != inv.RequestID || got.ARN != inv.InvokedARN || got.DeadlineMs != inv.Deadline.UnixMilli() ||
		got.Event["n"] != float64(1) || got.Client["k"] != "v" {
		t.Fatalf("context seen by the function: %+v", got)
	}
	r, err = e.srv.Invoke(context.Background(), invocation("req-err", `{"action":"error"}`), nil)
	if err != nil || !r.Failed || !bytes.Contains(r.Payload, []byte(`"errorMessage":"boom"`)) ||
		!bytes.Contains(r.Payload, []byte(`"errorType":"errorString"`)) {
		t.Fatalf("error invoke: %+v %s %v", r, r.Payload, err)
	}
	for i := 0; i < 20; i++ { // warm reuse
		if r, err := e.srv.Invoke(context.Background(), invocation(fmt.Sprint("w", i), `{}`), nil); err != nil || r.Failed {
			t.Fatalf("warm invoke %d: %v %s", i, err, r.Payload)
		}
	}
}

// BenchmarkHandoff measures one Runtime API round trip (platform hands an
// event to a real aws-lambda-go runtime and gets its answer) over loopback.
// BenchmarkHandoffParallel is the floor of a platform built on the Runtime
// API: 16 real aws-lambda-go processes (no sandbox, no edge, no logs),
// each fed back to back by its own goroutine. It reports invocations/s
// and the CPU per invocation of this process (the Runtime API servers)
// and of the runtime processes.
func BenchmarkHandoffParallel(b *testing.B) {
	const n = 16
	envs := make([]*env, n)
	procs := make([]*exec.Cmd, n)
	for i := range envs {
		envs[i] = start(b)
		procs[i] = runtimeProcessOf(b, envs[i], "noop")
	}
	for _, e := range envs {
		<-e.srv.Ready()
	}
	runtimeCPU := func() (d time.Duration) {
		for _, p := range procs {
			d += procCPU(p.Process.Pid)
		}
		return d
	}
	payload := []byte(`{"a":"0123456789ab"}`)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	self0, rt0, t0 := selfCPU(), runtimeCPU(), time.Now()
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				inv := &runtimeapi.Invocation{RequestID: "bench", Payload: payload, Deadline: time.Now().Add(time.Minute), InvokedARN: "arn"}
				if _, err := e.srv.Invoke(context.Background(), inv, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	el, self, rt := time.Since(t0), selfCPU()-self0, runtimeCPU()-rt0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "invokes/s")
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "server-µs-cpu/op")
	b.ReportMetric(float64(rt.Microseconds())/float64(b.N), "runtime-µs-cpu/op")
}

// procCPU is a process's user+system CPU from /proc (10 ms resolution).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandoff feeds one real aws-lambda-go process (the echo
// function) back to back, at the sizes the benchmarks of issue 7 use: the
// floor of a warm invoke's latency without an edge, a sandbox or logs.
func BenchmarkHandoff(b *testing.B) {
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"20B", []byte(`{"a":"0123456789ab"}`)},
		{"100KB", []byte(`"` + strings.Repeat("x", 100*1024-2) + `"`)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := start(b)
			runtimeProcessOf(b, e, "noop")
			<-e.srv.Ready()
			b.SetBytes(int64(len(tc.payload)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				inv := &runtimeapi.Invocation{RequestID: "bench", Payload: tc.payload, Deadline: time.Now().Add(time.Minute), InvokedARN: "arn"}
				if _, err := e.srv.Invoke(context.Background(), inv, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
