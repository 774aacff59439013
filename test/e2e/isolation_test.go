package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestIsolation checks the sandbox from inside a function: it cannot see
// another function's code, the host's files or processes, cannot write
// outside /tmp, cannot fill /tmp past EphemeralStorage, cannot fork-bomb,
// cannot mount or leave its namespaces, and has no network but its own.
// (Exceeding memory is TestFailureOutOfMemory.)
func TestIsolation(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)

	const a, b = "iso-a", "iso-b"
	const secretName = "b-secret-3f9c.txt"
	mustCreateFunction(t, c, a, func(in *lambda.CreateFunctionInput) {
		// /tmp (512 MB by default) is charged to the memory limit.
		in.MemorySize, in.Timeout = aws.Int32(1024), aws.Int32(60)
	})
	mustCreateFunction(t, c, b, func(in *lambda.CreateFunctionInput) {
		in.Code.ZipFile = mustFixtureZipWith(t, zipEntry{Name: secretName, Data: []byte("only for b")})
	})

	// A host file the function must not find, outside any path the
	// sandbox needs.
	hostDir := t.TempDir()
	hostSecret := "host-secret-" + filepath.Base(hostDir)
	if err := os.WriteFile(filepath.Join(hostDir, hostSecret), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}

	op := func(t *testing.T, fn string, ev Event) opResult {
		t.Helper()
		var r opResult
		invoke(t, c, fn, ev).mustSucceed(t, &r)
		return r
	}
	mustFail := func(t *testing.T, what string, r opResult) {
		t.Helper()
		if r.OK {
			t.Errorf("%s succeeded inside the sandbox; want it refused (content %.80q, names %v)", what, r.Content, r.Names)
		}
	}

	t.Run("another function's code", func(t *testing.T) {
		if r := op(t, b, Event{Action: "read", Path: "/var/task/" + secretName}); !r.OK || r.Content != "only for b" {
			t.Fatalf("b cannot read its own /var/task/%s: %+v", secretName, r)
		}
		mustFail(t, "a reading b's file in /var/task", op(t, a, Event{Action: "read", Path: "/var/task/" + secretName}))
		if r := op(t, a, Event{Action: "ls", Path: "/var/task"}); !slices.Equal(r.Names, []string{"bootstrap"}) {
			t.Errorf("a's /var/task holds %v (%s), want only bootstrap", r.Names, r.Error)
		}
		var found struct {
			Matches   []string
			Visited   int
			Truncated bool
		}
		invoke(t, c, a, Event{Action: "find", Path: "/", Name: secretName}).mustSucceed(t, &found)
		if len(found.Matches) != 0 {
			t.Errorf("a can see b's code at %v", found.Matches)
		}
		t.Logf("a's file system: %d entries visible (walk truncated: %v)", found.Visited, found.Truncated)
	})

	t.Run("host files", func(t *testing.T) {
		mustFail(t, "reading /etc/shadow", op(t, a, Event{Action: "read", Path: "/etc/shadow"}))
		if r := op(t, a, Event{Action: "ls", Path: "/root"}); r.OK && len(r.Names) > 0 {
			t.Errorf("a can list the host's /root: %v", r.Names)
		}
		mustFail(t, "listing the server's data dir", op(t, a, Event{Action: "ls", Path: srv.DataDir}))
		mustFail(t, "reading a host file by path", op(t, a, Event{Action: "read", Path: filepath.Join(hostDir, hostSecret)}))
		mustFail(t, "reading the stratus binary", op(t, a, Event{Action: "read", Path: stratusBin}))
		var found struct{ Matches []string }
		invoke(t, c, a, Event{Action: "find", Path: "/", Name: hostSecret}).mustSucceed(t, &found)
		if len(found.Matches) != 0 {
			t.Errorf("a can see a host file at %v", found.Matches)
		}
	})

	t.Run("processes", func(t *testing.T) {
		var ps struct {
			Self  int
			Procs []struct {
				Pid           int
				Comm, Cmdline string
			}
		}
		invoke(t, c, a, Event{Action: "procs"}).mustSucceed(t, &ps)
		if ps.Self != 1 {
			t.Errorf("the function's runtime is pid %d in its pid namespace, want 1", ps.Self)
		}
		if len(ps.Procs) > 3 {
			t.Errorf("a sees %d processes, want only its own: %+v", len(ps.Procs), ps.Procs)
		}
		for _, p := range ps.Procs {
			if p.Comm != "bootstrap" && p.Pid != ps.Self {
				t.Errorf("a sees a process that is not its own: %+v", p)
			}
		}
	})

	t.Run("read-only outside /tmp", func(t *testing.T) {
		for _, p := range []string{"/var/task/bootstrap", "/var/task/new.txt", "/new.txt", "/etc/new.txt", "/opt/new.txt", "/var/new.txt"} {
			mustFail(t, "writing "+p, op(t, a, Event{Action: "write", Path: p, Content: "x"}))
		}
		if r := op(t, a, Event{Action: "write", Path: "/tmp/ok.txt", Content: "written"}); !r.OK {
			t.Fatalf("writing /tmp/ok.txt: %s", r.Error)
		}
		if r := op(t, a, Event{Action: "read", Path: "/tmp/ok.txt"}); r.Content != "written" {
			t.Errorf("reading /tmp/ok.txt back: %+v", r)
		}
		// /tmp is the function's own: b does not see a's file.
		mustFail(t, "b reading a's /tmp file", op(t, b, Event{Action: "read", Path: "/tmp/ok.txt"}))
	})

	t.Run("system calls", func(t *testing.T) {
		if r := op(t, a, Event{Action: "mount"}); r.OK || r.Errno != "EPERM" {
			t.Errorf("mount: %+v, want EPERM", r)
		}
		if r := op(t, a, Event{Action: "unshare"}); r.OK || r.Errno != "EPERM" {
			t.Errorf("unshare(CLONE_NEWNS): %+v, want EPERM", r)
		}
		if r := op(t, a, Event{Action: "userns"}); r.OK {
			t.Errorf("starting a process in a new user namespace succeeded; want it refused")
		} else {
			t.Logf("new user namespace: %s", r.Error)
		}
	})

	t.Run("network", func(t *testing.T) {
		// The server listens on the host's loopback; the function has its
		// own network namespace, where nothing listens on that port.
		if r := op(t, a, Event{Action: "dial", Addr: srv.Addr()}); r.OK {
			t.Errorf("a reached the server's edge port %s from inside the sandbox", srv.Addr())
		}
	})

	t.Run("tmp size", func(t *testing.T) {
		var r struct {
			Bytes        int64
			Error, Errno string
		}
		invoke(t, c, a, Event{Action: "fill", Path: "/tmp/fill"}).mustSucceed(t, &r)
		t.Logf("filled /tmp with %d MiB: %s", r.Bytes>>20, r.Error)
		if r.Error == "" || r.Bytes > 520<<20 || r.Bytes < 400<<20 {
			t.Errorf("filling /tmp stopped after %d MiB (%q), want an error near EphemeralStorage 512 MB", r.Bytes>>20, r.Error)
		}
		if r.Errno != "ENOSPC" {
			t.Errorf("filling /tmp failed with %q, want ENOSPC", r.Error)
		}
	})

	t.Run("fork bomb", func(t *testing.T) {
		inv := invoke(t, c, a, Event{Action: "forkbomb", Max: 1200})
		if inv.FunctionError != "" {
			// The Go runtime dies when it cannot create a thread under
			// the pid limit; that also stops the bomb.
			fe := inv.mustFunctionError(t)
			if fe.ErrorType != "Runtime.ExitError" {
				t.Errorf("fork bomb ended the invoke with %s, want the bomb stopped by the pid limit", inv.Payload)
			}
			t.Logf("fork bomb killed the runtime: %s", inv.Payload)
		} else {
			var r struct {
				Started      int
				Error, Errno string
			}
			inv.mustSucceed(t, &r)
			t.Logf("fork bomb started %d processes, then: %s", r.Started, r.Error)
			if r.Error == "" || r.Started >= 1000 {
				t.Errorf("fork bomb started %d processes (stopped by %q), want it stopped by the pid limit well below 1000", r.Started, r.Error)
			}
			if r.Started < 5 {
				t.Errorf("only %d child processes could start (%s); functions may run a few processes", r.Started, r.Error)
			}
		}
		// The platform and the function survive it.
		invoke(t, c, a, Event{Action: "echo"}).mustSucceed(t, nil)
		invoke(t, c, b, Event{Action: "echo"}).mustSucceed(t, nil)
	})

	if strings.Contains(srv.Output(), "panic:") {
		t.Errorf("the server logged a panic")
	}
}
