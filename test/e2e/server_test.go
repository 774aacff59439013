package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	serverReadyTimeout = 60 * time.Second
	serverStopTimeout  = 30 * time.Second
)

var readyRE = regexp.MustCompile(`^Stratus ready at (http://127\.0\.0\.1:\d+)/?\s*$`)

// ServerOptions configures MustRunServer.
type ServerOptions struct {
	// DataDir is the server's --data-dir; "" means a new t.TempDir().
	DataDir string
	// Args are extra flags for `stratus server`.
	Args []string
}

// Server is a running `stratus server` process.
type Server struct {
	// URL is the edge endpoint, e.g. http://127.0.0.1:41234 (it changes on
	// Restart, which listens on a new random port).
	URL     string
	DataDir string

	t    testing.TB
	args []string
	out  *syncBuffer // stdout and stderr of every run of the process
	proc *serverProc // nil once stopped
}

type serverProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
	err  error         // Wait's result; read after done is closed
}

// MustRunServer starts `stratus server --listen 127.0.0.1:0` on a temporary
// data dir and waits until it says it is ready. The server is stopped with
// SIGTERM when the test ends (and must exit 0); its output is shown if the
// test failed.
func MustRunServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	if stratusBuildErr != nil {
		t.Fatalf("building stratus: %v", stratusBuildErr)
	}
	s := &Server{DataDir: opts.DataDir, t: t, args: opts.Args, out: &syncBuffer{}}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("stratus server output (last 64 KiB):\n%s", s.out.Tail(64<<10))
		}
	})
	s.start()
	return s
}

// Restart stops the server with SIGTERM and starts it again on the same
// data dir; URL is updated to the new endpoint.
func (s *Server) Restart() {
	s.t.Helper()
	s.stop()
	fmt.Fprintf(s.out, "----- restart -----\n")
	s.start()
}

// Output returns what the server printed so far.
func (s *Server) Output() string { return s.out.String() }

// Addr is the host:port of URL.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", s.DataDir}, s.args...)
	cmd := exec.Command(stratusBin, args...)
	cmd.Env = serverEnv()
	cmd.Stderr = s.out
	cmd.WaitDelay = 5 * time.Second // stderr held open by a stray child must not hang Wait
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		s.t.Fatalf("starting stratus server: %v", err)
	}
	pw.Close()

	ready := make(chan string, 1)
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(s.out, "[stdout] %s\n", line)
			if m := readyRE.FindStringSubmatch(line); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
	}()
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	select {
	case u := <-ready:
		s.URL = u
	case <-p.done:
		s.proc = nil
		s.t.Fatalf("stratus server exited before it was ready (%v); output:\n%s", p.err, s.out.Tail(16<<10))
	case <-time.After(serverReadyTimeout):
		_ = cmd.Process.Kill()
		<-p.done
		s.proc = nil
		s.t.Fatalf("stratus server printed no ready line (%q) within %v; output:\n%s",
			"Stratus ready at http://127.0.0.1:<port>", serverReadyTimeout, s.out.Tail(16<<10))
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *Server) stop() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(serverStopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		s.t.Errorf("stratus server did not exit within %v of SIGTERM; killed it", serverStopTimeout)
		return
	}
	if p.err != nil {
		s.t.Errorf("stratus server after SIGTERM: %v (want exit status 0)", p.err)
	}
}

// serverEnv is the test's environment without STRATUS_* settings, so that
// a developer's shell cannot change what the tests run against.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATUS_") {
			env = append(env, kv)
		}
	}
	return env
}

// runStratus runs the stratus binary (a client subcommand such as `logs`)
// and returns its stdout, stderr and error.
func runStratus(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, stratusBin, args...)
	cmd.Env = clientProcessEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// clientProcessEnv is the environment of client processes (AWS CLI,
// stratus CLI): the test's own without AWS_* and STRATUS_* settings, plus
// clientEnv.
func clientProcessEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "STRATUS_") {
			env = append(env, kv)
		}
	}
	env = append(env, clientEnv...)
	return append(env, extra...)
}

// clientEnv are the credentials and region every client gets.
var clientEnv = []string{
	"AWS_ACCESS_KEY_ID=test",
	"AWS_SECRET_ACCESS_KEY=test",
	"AWS_DEFAULT_REGION=" + region,
	"AWS_REGION=" + region,
	"AWS_EC2_METADATA_DISABLED=true",
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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

// Tail returns the last n bytes written.
func (b *syncBuffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
