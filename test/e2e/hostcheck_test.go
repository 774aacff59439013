package e2e

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUnsandboxableHost runs the server as an unprivileged user, who cannot
// create namespaces and cgroups: it must refuse to start and say why,
// unless --sandbox=none is given, in which case it warns and runs.
func TestUnsandboxableHost(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	if stratusBuildErr != nil {
		t.Fatalf("building stratus: %v", stratusBuildErr)
	}
	// A copy of the binary and a data dir that user nobody can use.
	dir, err := os.MkdirTemp("", "stratus-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stratus")
	data, err := os.ReadFile(stratusBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd
	}

	t.Run("refuses without isolation", func(t *testing.T) {
		cmd := asNobody()
		timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
		defer timer.Stop()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("server started as nobody without a sandbox (err %v):\n%s", err, out)
		}
		text := string(out)
		if !strings.Contains(text, "cannot sandbox") || !strings.Contains(text, "--sandbox=none") || !strings.Contains(text, "root") {
			t.Fatalf("refusal does not say why and what to do:\n%s", text)
		}
	})

	t.Run("runs unisolated with --sandbox=none", func(t *testing.T) {
		cmd := asNobody("--sandbox=none")
		stdout, _ := cmd.StdoutPipe()
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if readyRE.MatchString(sc.Text()) {
					done <- nil
					for sc.Scan() {
					}
					return
				}
			}
			done <- sc.Err()
		}()
		select {
		case <-done:
		case <-time.After(serverReadyTimeout):
			_ = cmd.Process.Kill()
			t.Fatalf("server with --sandbox=none never got ready:\n%s", stderr.Tail(8<<10))
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("server exit: %v\n%s", err, stderr.Tail(8<<10))
		}
		if !strings.Contains(stderr.Tail(64<<10), "UNSAFE") {
			t.Errorf("no loud warning about running unisolated:\n%s", stderr.Tail(8<<10))
		}
	})
}
