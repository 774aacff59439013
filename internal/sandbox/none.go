package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NoneConfig configures the none driver. The zero value is ready to use.
type NoneConfig struct{}

// None is the "none" driver: each sandbox is a plain child process in its
// own process group, with no isolation and no limits. It is for hosts
// that cannot isolate, and only when the operator asks for it. Because
// /var/task, /opt and /var/runtime do not exist on the host, paths under
// them in Args, Dir and the environment (including colon-separated lists
// such as PATH) are mapped to CodeDir, OptDir and RuntimeDir, the working
// directory defaults to CodeDir and LAMBDA_TASK_ROOT is set to CodeDir.
// Create it with NewNone.
type None struct {
	cfg NoneConfig
}

var _ Driver = (*None)(nil)

// NewNone returns a none driver.
func NewNone(cfg NoneConfig) *None { return &None{cfg: cfg} }

// Name returns "none".
func (d *None) Name() string { return "none" }

// Start starts spec.Args as a child process with a Runtime API listener on
// a random loopback port. An exec failure is returned as an error.
func (d *None) Start(ctx context.Context, spec Spec) (Handle, error) {
	if err := validateSpec(spec); err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting sandbox %s: listening: %w", spec.ID, err)
	}
	args := make([]string, len(spec.Args))
	for i, a := range spec.Args {
		args[i] = hostPath(spec, a)
	}
	dir := spec.CodeDir
	if spec.Dir != "" {
		dir = hostPath(spec, spec.Dir)
	}
	env := make([]string, 0, len(spec.Env)+2)
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+hostPathList(spec, v))
	}
	env = setEnv(env, "LAMBDA_TASK_ROOT", spec.CodeDir)
	env = runtimeAPIEnv(env, ln.Addr().String())
	h := &noneHandle{
		id:   spec.ID,
		ln:   ln,
		done: make(chan struct{}),
		cmd: &exec.Cmd{
			Path:        args[0],
			Args:        args,
			Env:         env,
			Dir:         dir,
			Stdout:      spec.Stdout,
			Stderr:      spec.Stderr,
			SysProcAttr: noneSysProcAttr(),
			WaitDelay:   time.Second,
		},
	}
	if err := h.cmd.Start(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	go h.wait()
	return h, nil
}

// hostPath maps a path as the sandbox would see it to the host.
func hostPath(spec Spec, p string) string {
	if rest, ok := underDir(p, "/var/task"); ok {
		return filepath.Join(spec.CodeDir, rest)
	}
	if rest, ok := underDir(p, "/opt"); ok && spec.OptDir != "" {
		return filepath.Join(spec.OptDir, rest)
	}
	if rest, ok := underDir(p, "/var/runtime"); ok && spec.RuntimeDir != "" {
		return filepath.Join(spec.RuntimeDir, rest)
	}
	return p
}

// hostPathList maps every element of a colon-separated path list.
func hostPathList(spec Spec, v string) string {
	if !strings.Contains(v, "/var/task") && !strings.Contains(v, "/opt") && !strings.Contains(v, "/var/runtime") {
		return v
	}
	parts := strings.Split(v, ":")
	for i, p := range parts {
		parts[i] = hostPath(spec, p)
	}
	return strings.Join(parts, ":")
}

// underDir returns p relative to dir when p is dir or below it.
func underDir(p, dir string) (string, bool) {
	if p == dir {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return rest, ok
}

// noneHandle is one sandbox of the none driver.
type noneHandle struct {
	id   string
	ln   net.Listener
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped

	mu   sync.Mutex
	exit Exit // mu guards exit

	destroyOnce sync.Once
	destroyErr  error
}

var _ Handle = (*noneHandle)(nil)

func (h *noneHandle) wait() {
	h.cmd.Wait()
	h.mu.Lock()
	h.exit = exitOf(h.cmd.ProcessState)
	h.mu.Unlock()
	close(h.done)
}

func (h *noneHandle) Listener() net.Listener { return h.ln }
func (h *noneHandle) Pid() int               { return h.cmd.Process.Pid }
func (h *noneHandle) Done() <-chan struct{}  { return h.done }

func (h *noneHandle) Exit() Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}

// Freeze does nothing: the none driver has no freezer.
func (h *noneHandle) Freeze() error { return nil }

// Thaw does nothing: the none driver has no freezer.
func (h *noneHandle) Thaw() error { return nil }

// SetCPU does nothing: the none driver has no CPU limits.
func (h *noneHandle) SetCPU(millis int) error { return nil }

// MaxMemoryBytes is the peak resident set of the main process (VmHWM while
// it runs, its rusage once reaped); children are not counted.
func (h *noneHandle) MaxMemoryBytes() int64 {
	select {
	case <-h.done:
		return maxRSS(h.cmd.ProcessState)
	default:
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(h.Pid()) + "/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Kill sends SIGKILL to the process group.
func (h *noneHandle) Kill() error {
	if err := killGroup(h.cmd.Process, true); err != nil {
		return fmt.Errorf("killing sandbox %s: %w", h.id, err)
	}
	return nil
}

// Stop sends SIGTERM to the process group, waits up to grace, then kills.
func (h *noneHandle) Stop(grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	if err := killGroup(h.cmd.Process, false); err != nil {
		return fmt.Errorf("stopping sandbox %s: %w", h.id, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-h.done:
		return nil
	case <-t.C:
	}
	if err := h.Kill(); err != nil {
		return err
	}
	t.Reset(exitTimeout)
	select {
	case <-h.done:
		return nil
	case <-t.C:
		return fmt.Errorf("sandbox %s did not exit %v after SIGKILL", h.id, exitTimeout)
	}
}

// Destroy kills the process group, waits for the process and closes the
// listener.
func (h *noneHandle) Destroy() error {
	h.destroyOnce.Do(func() {
		err := h.Kill()
		t := time.NewTimer(exitTimeout)
		defer t.Stop()
		select {
		case <-h.done:
		case <-t.C:
			err = errors.Join(err, fmt.Errorf("sandbox %s did not exit %v after SIGKILL", h.id, exitTimeout))
		}
		h.ln.Close()
		h.destroyErr = err
	})
	return h.destroyErr
}
