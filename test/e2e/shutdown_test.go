package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// terminate sends SIGTERM to the server and returns its process without
// waiting; the test then owns waiting for it.
func (s *Server) terminate(t *testing.T) *serverProc {
	t.Helper()
	p := s.proc
	if p == nil {
		t.Fatal("server is not running")
	}
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitExit waits up to d for p to exit and returns how long that took.
func (p *serverProc) waitExit(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("server did not exit within %v of SIGTERM", d)
	}
	if p.err != nil {
		t.Errorf("server exit after SIGTERM: %v, want status 0", p.err)
	}
	return time.Since(start)
}

// inFlight waits until the server runs n invocations.
func inFlight(t *testing.T, srv *Server, n int) {
	t.Helper()
	checkFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if got := serverStatus(t, srv).Account.InUse; got != n {
			return fmt.Errorf("%d invocations in flight, want %d", got, n)
		}
		return nil
	})
}

// TestShutdownDrains: on SIGTERM the server stops accepting invocations,
// lets the one in flight finish, stops the environments and exits 0.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--shutdown-timeout", "20s"}})
	c := NewLambdaClient(srv.URL)
	const name = "shutdown-fn"
	mustCreateFunction(t, c, name, nil)
	invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil) // warm

	type outcome struct {
		inv Invocation
		err error
	}
	slow := make(chan outcome, 1)
	go func() {
		inv, err := tryInvoke(t, c, name, Event{Action: "sleep", MS: 2500})
		slow <- outcome{inv, err}
	}()
	inFlight(t, srv, 1)
	p := srv.terminate(t)

	// New invokes are refused: the listener is closed (or, for a request
	// that slipped in, 503 ServiceException).
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		_, err := tryInvoke(t, NewLambdaClient(srv.URL), name, Event{Action: "echo"})
		switch {
		case err == nil:
			return fmt.Errorf("an invoke after SIGTERM succeeded")
		case apiErrorCode(err) == "ServiceException" || strings.Contains(err.Error(), "connection refused"):
			return nil
		}
		return fmt.Errorf("invoke after SIGTERM: %v, want connection refused or ServiceException", err)
	})

	o := <-slow
	if o.err != nil {
		t.Fatalf("the invocation in flight at SIGTERM failed: %v", o.err)
	}
	var res sleepResult
	o.inv.mustSucceed(t, &res)
	if d := time.Duration(res.EndNano - res.StartNano); d < 2500*time.Millisecond {
		t.Errorf("the invocation in flight slept %v, want 2.5s", d)
	}
	took := p.waitExit(t, 15*time.Second)
	t.Logf("server exited %v after the in-flight invocation returned", took)
	if out := srv.Output(); !strings.Contains(out, "stopped") {
		t.Errorf("server output lacks its stop message:\n%s", out)
	}
}

// TestShutdownBound: an invocation still running when --shutdown-timeout
// ends is cut short: its environment gets SIGTERM, SIGKILL 2 s later, and
// the server exits 0.
func TestShutdownBound(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--shutdown-timeout", "500ms"}})
	c := NewLambdaClient(srv.URL)
	const name = "shutdown-bound-fn"
	mustCreateFunction(t, c, name, nil)
	done := make(chan error, 1)
	go func() {
		inv, err := tryInvoke(t, c, name, Event{Action: "sleep", MS: 8000})
		if err == nil && inv.FunctionError == "" {
			err = fmt.Errorf("the invocation outlived the shutdown bound and completed normally")
		} else {
			err = nil // cut: a function error, or the connection closed
		}
		done <- err
	}()
	inFlight(t, srv, 1)
	start := time.Now()
	p := srv.terminate(t)
	p.waitExit(t, 10*time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("server took %v to exit with --shutdown-timeout 500ms (+2 s stop grace)", took)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cut invocation never returned")
	}
}
