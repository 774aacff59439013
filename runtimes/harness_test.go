package runtimes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratus-dev/stratus/internal/runtimeapi"
	"github.com/stratus-dev/stratus/runtimes"
)

// The interpreters the router runs (router.DefaultConfig).
const (
	pythonPath = "/usr/bin/python3"
	nodePath   = "/usr/bin/node"
)

// mustInstall writes runtimes.FS() to a temporary directory, as the router
// does, and returns it.
func mustInstall(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	err := fs.WalkDir(runtimes.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(runtimes.FS(), p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one runtime process served by a runtimeapi.Server: an execution
// environment without a sandbox.
type env struct {
	api     *runtimeapi.Server
	cmd     *exec.Cmd
	out     *syncBuffer // stdout and stderr
	done    chan struct{}
	initErr *runtimeapi.Result // set when init failed
	seq     int
}

// options of startEnv.
type envOptions struct {
	lang    string            // "python" or "node"
	runtime string            // e.g. "python3.12", "nodejs20.x"
	files   map[string]string // the function's code, by path
	handler string
	env     []string
}

// startEnv runs the runtime of o.lang on o.files, waits until it asks for
// its first invocation (or fails its init) and stops it when the test ends.
func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	interp := map[string]string{"python": pythonPath, "node": nodePath}[o.lang]
	if _, err := os.Stat(interp); err != nil {
		t.Fatalf("%s not installed (.ci/run installs it): %v", interp, err)
	}
	rt := mustInstall(t)
	task := t.TempDir()
	for name, data := range o.files {
		p := filepath.Join(task, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{api: runtimeapi.New(), out: &syncBuffer{}, done: make(chan struct{})}
	go func() { _ = e.api.Serve(ln) }()
	var args []string
	if o.lang == "python" {
		args = []string{pythonPath, "-S", "-B", "-u", filepath.Join(rt, runtimes.PythonBootstrap)}
		if o.runtime == "" {
			o.runtime = "python3.12"
		}
	} else {
		args = []string{nodePath, filepath.Join(rt, runtimes.NodeBootstrap)}
		if o.runtime == "" {
			o.runtime = "nodejs20.x"
		}
	}
	e.cmd = exec.Command(args[0], args[1:]...)
	e.cmd.Dir = task
	e.cmd.Env = append([]string{
		"PATH=/usr/bin:/bin",
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"_HANDLER=" + o.handler,
		"LAMBDA_TASK_ROOT=" + task,
		"LAMBDA_RUNTIME_DIR=" + rt,
		"AWS_EXECUTION_ENV=AWS_Lambda_" + o.runtime,
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_REGION=us-east-1",
		"PYTHONPATH=" + rt,
		"TZ=:UTC",
	}, o.env...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("runtime output:\n%s", e.out)
		}
	})
	select {
	case <-e.api.Ready():
	case r := <-e.api.InitError():
		e.initErr = &r
	case <-e.done:
		t.Fatalf("runtime exited during init: %v\n%s", e.cmd.ProcessState, e.out)
	case <-time.After(20 * time.Second):
		t.Fatalf("runtime did not become ready\n%s", e.out)
	}
	return e
}

// stop kills the runtime and closes its Runtime API; it is idempotent.
func (e *env) stop() {
	_ = e.cmd.Process.Kill()
	<-e.done
	_ = e.api.Close()
}

// invoke hands payload to the runtime and returns what it posted.
func (e *env) invoke(t testing.TB, payload string, edit ...func(*runtimeapi.Invocation)) (runtimeapi.Result, string) {
	t.Helper()
	e.seq++
	inv := &runtimeapi.Invocation{
		RequestID:  "00000000-0000-4000-8000-00000000000" + string(rune('0'+e.seq%10)),
		Payload:    []byte(payload),
		Deadline:   time.Now().Add(30 * time.Second),
		InvokedARN: "arn:aws:lambda:us-east-1:000000000000:function:fn",
		TraceID:    "Root=1-5e1b4151-5ac6c58f3c8e4b1d2a6b7c8d;Parent=1234567890abcdef;Sampled=0",
	}
	for _, f := range edit {
		f(inv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.api.Invoke(ctx, inv, e.done)
	if err != nil {
		t.Fatalf("Invoke(%s): %v\noutput:\n%s", payload, err, e.out)
	}
	return res, inv.RequestID
}

// errorDoc is an error document as the runtimes post it.
type errorDoc struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    *string  `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
	Trace        []string `json:"trace"`
}

func mustErrorDoc(t *testing.T, res runtimeapi.Result) (errorDoc, []string) {
	t.Helper()
	if !res.Failed {
		t.Fatalf("result %s is not an error", res.Payload)
	}
	var d errorDoc
	if err := json.Unmarshal(res.Payload, &d); err != nil {
		t.Fatalf("error document %s: %v", res.Payload, err)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(res.Payload, &keys)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	return d, names
}

// waitOutput waits until the runtime's output contains s.
func (e *env) waitOutput(t *testing.T, s string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := e.out.String()
		if strings.Contains(out, s) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("output does not contain %q:\n%s", s, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func timeAfter(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

// lineOf returns the number of the first line of src containing s.
func lineOf(src, s string) string {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, s) {
			return strconv.Itoa(i + 1)
		}
	}
	return "?"
}
