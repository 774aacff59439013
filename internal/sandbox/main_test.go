package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// probePath is the probe workload (testdata/probe), built once by
// TestMain.
var probePath string

func TestMain(m *testing.M) {
	Init()
	if helper := os.Getenv(helperEnv); helper != "" {
		os.Exit(runHelper(helper))
	}
	os.Exit(runTests(m))
}

// helperEnv makes the test binary run a helper process instead of the
// tests (see runHelper).
const helperEnv = "STRATUS_SANDBOX_TEST_HELPER"

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sandbox-probe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	probePath = filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", probePath, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building probe: %v\n%s", err, out)
		return 1
	}
	defer removeTestCgroups()
	return m.Run()
}

// checkFor polls f every interval until it returns nil or total has
// passed, then fails with f's last error.
func checkFor(tb testing.TB, total, interval time.Duration, f func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(interval)
	}
}

// MustCodeDir returns a world-readable code directory holding the probe
// as /var/task/probe.
func MustCodeDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(probePath)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), data, 0o755); err != nil {
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

// recorder is the Runtime API stand-in: it answers every request with
// "hi" and remembers the request URIs.
type recorder struct {
	mu   sync.Mutex
	uris []string
	hits chan string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.uris = append(r.uris, req.URL.RequestURI())
	r.mu.Unlock()
	select {
	case r.hits <- req.URL.RequestURI():
	default:
	}
	io.WriteString(w, "hi")
}

func (r *recorder) URIs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.uris...)
}

// waitHit waits for a request whose URI starts with prefix.
func (r *recorder) waitHit(tb testing.TB, prefix string) string {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case uri := <-r.hits:
			if strings.HasPrefix(uri, prefix) {
				return uri
			}
		case <-deadline:
			tb.Fatalf("no request for %s; got %v", prefix, r.URIs())
		}
	}
}

// serveHTTP serves ln with h until ln is closed, then closes the
// connections it accepted and returns.
func serveHTTP(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	srv.Serve(ln)
	srv.Close()
}

// probe is one started probe sandbox.
type probe struct {
	h      Handle
	out    *syncBuffer
	errOut *syncBuffer
	rec    *recorder
}

// MustStartProbe starts the probe with args in a sandbox of d, serves its
// listener with a recorder and destroys it at the end of the test.
func MustStartProbe(tb testing.TB, d Driver, spec Spec, args ...string) *probe {
	tb.Helper()
	if spec.CodeDir == "" {
		spec.CodeDir = MustCodeDir(tb)
	}
	p, err := startProbe(tb, d, spec, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// startProbe is MustStartProbe for other goroutines than the test's:
// spec.CodeDir must be set.
func startProbe(tb testing.TB, d Driver, spec Spec, args ...string) (*probe, error) {
	p := &probe{out: &syncBuffer{}, errOut: &syncBuffer{}, rec: &recorder{hits: make(chan string, 1000)}}
	if spec.ID == "" {
		spec.ID = testID(tb)
	}
	spec.Args = append([]string{"/var/task/probe"}, args...)
	spec.Stdout, spec.Stderr = p.out, p.errOut
	h, err := d.Start(context.Background(), spec)
	if err != nil {
		return nil, fmt.Errorf("starting probe %v: %w", args, err)
	}
	p.h = h
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		serveHTTP(h.Listener(), p.rec)
	}()
	tb.Cleanup(func() {
		if err := h.Destroy(); err != nil {
			tb.Errorf("destroying: %v", err)
		}
		<-srvDone
	})
	return p, nil
}

// waitExit waits for the sandbox's main process to end.
func (p *probe) waitExit(tb testing.TB) Exit {
	tb.Helper()
	select {
	case <-p.h.Done():
		return p.h.Exit()
	case <-time.After(20 * time.Second):
		tb.Fatalf("probe did not exit; stdout %q stderr %q", p.out, p.errOut)
		return Exit{}
	}
}

// value returns the rest of the first stdout line starting with prefix
// and a space or ": ".
func (p *probe) value(prefix string) string {
	for _, line := range strings.Split(p.out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix+" "); ok {
			return v
		}
		if v, ok := strings.CutPrefix(line, prefix+": "); ok {
			return v
		}
	}
	return ""
}

var idSeq struct {
	sync.Mutex
	n int
}

// testID returns a sandbox ID unique in this test binary.
func testID(tb testing.TB) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	name := strings.ToLower(tb.Name())
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("%s-%d-%d", s, os.Getpid(), idSeq.n)
}
