package router_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/router"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// TestMain doubles as a real aws-lambda-go function when the router starts
// the test binary through the bootstrap script below.
func TestMain(m *testing.M) {
	sandbox.Init() // the linux driver re-executes the test binary as its init shim (bench_test.go)
	if os.Getenv("STRATUS_TEST_FUNCTION") == "1" {
		runFunction()
		return
	}
	os.Exit(m.Run())
}

func runFunction() {
	if os.Getenv("INIT_FAIL") == "exit" {
		fmt.Println("init output before dying")
		os.Exit(7)
	}
	lambda.Start(func(ctx context.Context, ev map[string]any) (any, error) {
		switch ev["action"] {
		case "error":
			return nil, errors.New("boom")
		case "sleep":
			time.Sleep(time.Duration(ev["ms"].(float64)) * time.Millisecond)
		case "exit":
			os.Exit(3)
		case "panic":
			panic("kaboom")
		case "log":
			fmt.Println("hello from the function")
		}
		return map[string]any{"ok": true, "pid": os.Getpid(), "start": time.Now().UnixNano(),
			"initType": os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE")}, nil
	})
}

// fakeFunctions is an in-memory stratus.FunctionService.
type fakeFunctions struct {
	mu   sync.Mutex
	fns  map[string]*stratus.Function
	code map[string][]byte
}

func (f *fakeFunctions) PutCode(_ context.Context, z []byte) (stratus.Code, error) {
	sum := sha256.Sum256(z)
	key := hex.EncodeToString(sum[:])
	f.mu.Lock()
	f.code[key] = z
	f.mu.Unlock()
	return stratus.Code{Key: key, Sha256: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(z))}, nil
}
func (f *fakeFunctions) GetCode(_ context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.code[key], nil
}
func (f *fakeFunctions) CreateFunction(_ context.Context, fn *stratus.Function) error {
	f.mu.Lock()
	f.fns[fn.Name] = fn.Clone()
	f.mu.Unlock()
	return nil
}
func (f *fakeFunctions) Function(_ context.Context, name string) (*stratus.Function, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, ok := f.fns[name]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "no %s", name)
	}
	return fn.Clone(), nil
}
func (f *fakeFunctions) Functions(context.Context) ([]*stratus.Function, error) { return nil, nil }
func (f *fakeFunctions) UpdateFunction(_ context.Context, name string, update func(*stratus.Function) error) (*stratus.Function, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.fns[name].Clone()
	if err := update(fn); err != nil {
		return nil, err
	}
	f.fns[name] = fn
	return fn.Clone(), nil
}
func (f *fakeFunctions) DeleteFunction(context.Context, string) error { return nil }

// fixture deploys the test binary as a function run by the none driver.
func fixture(t *testing.T, env map[string]string) (*router.Router, *fakeFunctions, *logSink) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	fmt.Fprintf(w, "#!/bin/sh\nexec %s\n", exe)
	_ = zw.Close()

	fns := &fakeFunctions{fns: map[string]*stratus.Function{}, code: map[string][]byte{}}
	code, _ := fns.PutCode(context.Background(), buf.Bytes())
	vars := map[string]string{"STRATUS_TEST_FUNCTION": "1"}
	for k, v := range env {
		vars[k] = v
	}
	_ = fns.CreateFunction(context.Background(), &stratus.Function{
		Name: "f", Version: stratus.LatestVersion, Runtime: "provided.al2023", MemorySize: 128, Timeout: 2,
		EphemeralStorage: 512, Environment: vars, Code: code, RevisionID: "r1",
	})
	cfg := router.DefaultConfig()
	cfg.CodeDir = t.TempDir()
	sink := &logSink{}
	r, err := router.New(cfg, fns, sandbox.NewNone(sandbox.NoneConfig{}), sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, fns, sink
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) PutLogEvents(group, stream string, events ...stratus.LogEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		s.lines = append(s.lines, group+" "+e.Message)
	}
}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func invoke(t *testing.T, r *router.Router, payload string, tail bool) *stratus.InvokeResponse {
	t.Helper()
	resp, err := r.Invoke(context.Background(), &stratus.InvokeRequest{FunctionName: "f", Payload: []byte(payload), TailLog: tail})
	if err != nil {
		t.Fatalf("invoke %s: %v", payload, err)
	}
	return resp
}

func TestColdThenWarm(t *testing.T) {
	r, _, sink := fixture(t, nil)
	first := invoke(t, r, `{"action":"log"}`, true)
	if first.FunctionError != "" || first.ExecutedVersion != "$LATEST" {
		t.Fatalf("first: %+v %s", first, first.Payload)
	}
	tail := string(first.LogTail)
	for _, want := range []string{"START RequestId: " + first.RequestID + " Version: $LATEST", "hello from the function",
		"END RequestId: " + first.RequestID, "REPORT RequestId: " + first.RequestID + "\tDuration: ", "\tInit Duration: "} {
		if !strings.Contains(tail, want) {
			t.Errorf("tail lacks %q:\n%s", want, tail)
		}
	}
	second := invoke(t, r, `{}`, true)
	if strings.Contains(string(second.LogTail), "Init Duration") {
		t.Errorf("warm invoke reported Init Duration:\n%s", second.LogTail)
	}
	var p1, p2 struct{ Pid int }
	_ = json.Unmarshal(first.Payload, &p1)
	_ = json.Unmarshal(second.Payload, &p2)
	if p1.Pid == 0 || p1.Pid != p2.Pid {
		t.Errorf("warm invoke ran in another process: %d vs %d", p1.Pid, p2.Pid)
	}
	if !strings.Contains(sink.text(), "/aws/lambda/f REPORT RequestId: "+second.RequestID) {
		t.Errorf("sink lacks the REPORT line:\n%s", sink.text())
	}
}

func TestFailures(t *testing.T) {
	r, fns, _ := fixture(t, nil)
	resp := invoke(t, r, `{"action":"error"}`, false)
	if resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), `"errorMessage":"boom"`) {
		t.Fatalf("error: %+v %s", resp, resp.Payload)
	}
	resp = invoke(t, r, `{"action":"sleep","ms":5000}`, true)
	if resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), "Sandbox.Timedout") ||
		!strings.Contains(string(resp.Payload), "Task timed out after 2.00 seconds") {
		t.Fatalf("timeout: %+v %s", resp, resp.Payload)
	}
	if !strings.Contains(string(resp.LogTail), "Task timed out after 2.00 seconds") {
		t.Errorf("timeout not logged:\n%s", resp.LogTail)
	}
	resp = invoke(t, r, `{"action":"exit"}`, false)
	if !strings.Contains(string(resp.Payload), `"errorType":"Runtime.ExitError"`) ||
		!strings.Contains(string(resp.Payload), "Runtime exited with error: exit status 3") {
		t.Fatalf("exit: %s", resp.Payload)
	}
	// After each failure the next invoke gets a fresh environment.
	resp = invoke(t, r, `{}`, true)
	if resp.FunctionError != "" || !strings.Contains(string(resp.LogTail), "Init Duration") {
		t.Fatalf("after failures: %+v\n%s", resp, resp.LogTail)
	}
	// An init failure is reported to the invoker with the runtime's exit.
	_, _ = fns.UpdateFunction(context.Background(), "f", func(fn *stratus.Function) error {
		fn.Environment["INIT_FAIL"] = "exit"
		fn.RevisionID = "r2"
		return nil
	})
	resp = invoke(t, r, `{}`, true)
	if !strings.Contains(string(resp.Payload), "Runtime exited with error: exit status 7") ||
		!strings.Contains(string(resp.LogTail), "init output before dying") ||
		!strings.Contains(string(resp.LogTail), "INIT_REPORT") {
		t.Fatalf("init failure: %s\n%s", resp.Payload, resp.LogTail)
	}
}

func TestNotFound(t *testing.T) {
	r, _, _ := fixture(t, nil)
	_, err := r.Invoke(context.Background(), &stratus.InvokeRequest{FunctionName: "nope"})
	if stratus.ErrorCode(err) != stratus.ENOTFOUND ||
		stratus.ErrorMessage(err) != "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" {
		t.Fatalf("got %v", err)
	}
	_, err = r.Invoke(context.Background(), &stratus.InvokeRequest{FunctionName: "f", Qualifier: "7"})
	if stratus.ErrorMessage(err) != "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:7" {
		t.Fatalf("got %v", err)
	}
}

func TestParallelEnvironments(t *testing.T) {
	r, _, _ := fixture(t, nil)
	const n = 6
	pids := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := invoke(t, r, `{"action":"sleep","ms":500}`, false)
			var p struct{ Pid int }
			_ = json.Unmarshal(resp.Payload, &p)
			pids <- p.Pid
		}()
	}
	wg.Wait()
	close(pids)
	seen := map[int]bool{}
	for p := range pids {
		seen[p] = true
	}
	if len(seen) != n {
		t.Fatalf("%d overlapping invokes ran in %d environments, want %d", n, len(seen), n)
	}
}

// TestPanicThenInvoke: aws-lambda-go reports a panic, then exits; the next
// invocation must not be lost to the dying environment.
func TestPanicThenInvoke(t *testing.T) {
	r, _, _ := fixture(t, nil)
	for i := 0; i < 5; i++ {
		resp := invoke(t, r, `{"action":"panic"}`, false)
		if resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), "kaboom") {
			t.Fatalf("panic %d: %s", i, resp.Payload)
		}
		resp = invoke(t, r, `{}`, false)
		if resp.FunctionError != "" {
			t.Fatalf("invoke after panic %d: %s", i, resp.Payload)
		}
	}
}
