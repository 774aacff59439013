package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// linuxHandle is one sandbox of the linux driver.
type linuxHandle struct {
	d       *Linux
	id      string
	slot    int
	staging string
	done    chan struct{} // closed once the shim/workload is reaped

	// Set by start before it returns, read-only afterwards.
	cmd *exec.Cmd
	pid int
	ln  net.Listener

	// mu guards the fields below. Lock order: mu, then d.placer's.
	mu      sync.Mutex
	cg      *cgroup // nil once removed
	frozen  bool
	exit    Exit
	maxMem  int64        // peak memory, cached when the cgroup goes away
	started bool         // cmd was started (so done will close)
	placed  cpuPlacement // accounted in d.placer; zero: all CPUs
	cpus    string       // cpuset.cpus as last written; "" if unknown

	destroyOnce sync.Once
	destroyErr  error
}

var _ Handle = (*linuxHandle)(nil)

func newLinuxHandle(d *Linux, id string, slot int) *linuxHandle {
	return &linuxHandle{
		d:       d,
		id:      id,
		slot:    slot,
		staging: d.stagingDir(id),
		done:    make(chan struct{}),
	}
}

// start creates the cgroups, spawns the shim inside them, opens the
// listener while the shim builds the root, opens the gate and waits for
// execve.
func (h *linuxHandle) start(ctx context.Context, spec Spec) error {
	if err := unix.Mkdir(h.staging, 0o700); err == unix.EEXIST {
		// A leftover from a crashed server: its mounts died with it.
		if err = unix.Rmdir(h.staging); err == nil {
			err = unix.Mkdir(h.staging, 0o700)
		}
		if err != nil {
			return fmt.Errorf("creating staging directory %s: %w", h.staging, err)
		}
	} else if err != nil {
		return fmt.Errorf("creating staging directory %s: %w", h.staging, err)
	}
	cfg, err := encodeShimConfig(&shimConfig{
		Root:       h.staging,
		CodeDir:    spec.CodeDir,
		OptDir:     spec.OptDir,
		RuntimeDir: spec.RuntimeDir,
		HostBinds:  h.d.binds,
		TmpMB:      spec.TmpMB,
		UID:        h.d.cfg.UIDBase + h.slot,
		Hostname:   "localhost",
		Args:       spec.Args,
		Env:        runtimeAPIEnv(spec.Env, runtimeAPIAddr.String()),
		Dir:        spec.Dir,
	})
	if err != nil {
		return err
	}
	pidsMax := spec.PidsMax
	if pidsMax == 0 {
		pidsMax = h.d.cfg.DefaultPidsMax
	}
	cg, err := newCgroup(h.d.parents, h.id, cgroupLimits{
		memoryBytes: int64(spec.MemoryMB) << 20,
		cpuMillis:   spec.CPUMillis,
		pidsMax:     pidsMax,
		cpusetCPUs:  h.d.allCPUs, // init runs on every CPU
		cpusetMems:  h.d.mems,
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cg = cg
	h.cpus = h.d.allCPUs
	h.mu.Unlock()

	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating pipe: %w", err)
	}
	defer ctlW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		return fmt.Errorf("creating pipe: %w", err)
	}
	defer errR.Close()

	h.cmd = &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{shimArg0},
		Env:        []string{},
		Stdout:     spec.Stdout,
		Stderr:     spec.Stderr,
		ExtraFiles: []*os.File{ctlR, errW}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS |
				unix.CLONE_NEWIPC | unix.CLONE_NEWNET,
			Pdeathsig: syscall.SIGKILL,
		},
		// Everything holding the output pipes dies with the namespace's
		// init; this only bounds a slow Stdout/Stderr writer.
		WaitDelay: time.Second,
	}
	err = startInCgroup(h.cmd, cg.dirs, h.d.own)
	ctlR.Close()
	errW.Close()
	if err != nil {
		return err
	}
	h.pid = h.cmd.Process.Pid
	h.mu.Lock()
	h.started = true
	h.mu.Unlock()
	go h.wait()
	stop := context.AfterFunc(ctx, func() { h.cmd.Process.Kill() })
	defer stop()

	if err := h.setup(ctlW, cfg); err != nil {
		// Prefer the shim's own account of what went wrong.
		h.cmd.Process.Kill()
		if serr := readShimError(errR); serr != nil {
			return serr
		}
		return err
	}
	if err := readShimError(errR); err != nil {
		return err
	}
	if !stop() {
		// Canceled: the kill may have come before or after execve.
		return ctx.Err()
	}
	return nil
}

// setup runs while the shim starts: it sends the config, opens the
// listener in the shim's network namespace and opens the gate.
func (h *linuxHandle) setup(ctl *os.File, cfg []byte) error {
	if _, err := ctl.Write(cfg); err != nil {
		return fmt.Errorf("sending config to init shim: %w", err)
	}
	ln, err := listenInNetns(h.pid)
	if err != nil {
		return err
	}
	h.ln = ln
	if _, err := ctl.Write([]byte{'g'}); err != nil {
		return fmt.Errorf("opening the gate of init shim: %w", err)
	}
	return nil
}

// readShimError waits for the shim's error pipe to close and returns the
// error it reported, or nil if it reported none (execve succeeded).
func readShimError(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return fmt.Errorf("reading init shim status: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	se := &shimError{}
	if err := json.Unmarshal(data, se); err != nil {
		return fmt.Errorf("init shim: %s", data)
	}
	return se
}

// wait reaps the process, then records how it ended: the OOM state and
// peak memory are read before anyone can remove the cgroup.
func (h *linuxHandle) wait() {
	h.cmd.Wait()
	exit := exitOf(h.cmd.ProcessState)
	h.mu.Lock()
	if h.cg != nil {
		exit.OOMKilled = h.cg.oomKilled()
		h.maxMem = max(h.maxMem, h.cg.maxUsage())
	}
	h.exit = exit
	h.mu.Unlock()
	close(h.done)
}

func (h *linuxHandle) Listener() net.Listener { return h.ln }
func (h *linuxHandle) Pid() int               { return h.pid }
func (h *linuxHandle) Done() <-chan struct{}  { return h.done }

func (h *linuxHandle) Exit() Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}

// Freeze stops every process of the sandbox (cgroup freezer) and returns
// once they are all frozen.
func (h *linuxHandle) Freeze() error { return h.setFrozen(true) }

// Thaw resumes the processes stopped by Freeze.
func (h *linuxHandle) Thaw() error { return h.setFrozen(false) }

func (h *linuxHandle) setFrozen(frozen bool) error {
	op := "thawing"
	if frozen {
		op = "freezing"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cg == nil {
		return fmt.Errorf("%s sandbox %s: it is destroyed", op, h.id)
	}
	if err := h.cg.setFrozen(frozen); err != nil {
		return fmt.Errorf("%s sandbox %s: %w", op, h.id, err)
	}
	h.frozen = frozen
	return nil
}

// SetCPU sets the CFS quota to millis and, if the driver pins, places
// the sandbox on ceil(millis/1000) CPUs (all of them for 0), moving it
// from where an earlier SetCPU put it.
func (h *linuxHandle) SetCPU(millis int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cg == nil {
		return fmt.Errorf("setting cpu of sandbox %s: it is destroyed", h.id)
	}
	if err := h.cg.setCPU(millis); err != nil {
		return fmt.Errorf("setting cpu of sandbox %s: %w", h.id, err)
	}
	if err := h.placeLocked(millis); err != nil {
		return fmt.Errorf("setting cpu of sandbox %s: %w", h.id, err)
	}
	return nil
}

// placeLocked moves the sandbox to the CPUs the driver's placer picks for
// millis. h.mu must be held.
func (h *linuxHandle) placeLocked(millis int) error {
	p := h.d.placer
	if p == nil {
		return nil
	}
	p.release(h.placed)
	h.placed = p.place(millis)
	v := h.placed.cpusValue(h.d.allCPUs)
	if v == h.cpus {
		return nil
	}
	if err := h.cg.setCPUs(v); err != nil {
		p.release(h.placed)
		h.placed, h.cpus = cpuPlacement{}, ""
		return err
	}
	h.cpus = v
	return nil
}

// MaxMemoryBytes is memory.max_usage_in_bytes of the sandbox's cgroup.
func (h *linuxHandle) MaxMemoryBytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cg != nil {
		h.maxMem = max(h.maxMem, h.cg.maxUsage())
	}
	return max(h.maxMem, 0)
}

// Kill sends SIGKILL to the sandbox's init, which makes the kernel kill
// every process of its pid namespace, and thaws the sandbox so that
// frozen processes can die.
func (h *linuxHandle) Kill() error {
	select {
	case <-h.done:
		return nil
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing sandbox %s: %w", h.id, err)
	}
	return h.thawIfFrozen()
}

func (h *linuxHandle) thawIfFrozen() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.frozen || h.cg == nil {
		return nil
	}
	if err := h.cg.setFrozen(false); err != nil {
		return fmt.Errorf("thawing sandbox %s: %w", h.id, err)
	}
	h.frozen = false
	return nil
}

// Stop sends SIGTERM to the sandbox's init, which is pid 1 of its
// namespace and so only sees it if it installed a handler, waits up to
// grace and then kills the sandbox.
func (h *linuxHandle) Stop(grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping sandbox %s: %w", h.id, err)
	}
	if err := h.thawIfFrozen(); err != nil {
		return err
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
	return h.waitDone()
}

func (h *linuxHandle) waitDone() error {
	t := time.NewTimer(exitTimeout)
	defer t.Stop()
	select {
	case <-h.done:
		return nil
	case <-t.C:
		return fmt.Errorf("sandbox %s (pid %d) did not exit %v after SIGKILL", h.id, h.pid, exitTimeout)
	}
}

// Destroy kills the sandbox, waits for it, closes the listener and
// removes its cgroups and staging directory. The uid slot is freed only
// when everything is gone.
func (h *linuxHandle) Destroy() error {
	h.destroyOnce.Do(func() { h.destroyErr = h.destroy() })
	return h.destroyErr
}

func (h *linuxHandle) destroy() error {
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	if started {
		if err := h.Kill(); err != nil {
			return err
		}
		if err := h.waitDone(); err != nil {
			return err
		}
	}
	var errs []error
	if h.ln != nil {
		h.ln.Close()
	}
	h.mu.Lock()
	if h.cg != nil {
		h.maxMem = max(h.maxMem, h.cg.maxUsage())
		if err := h.cg.remove(); err != nil {
			errs = append(errs, err)
		}
		h.cg = nil
	}
	if h.d.placer != nil {
		h.d.placer.release(h.placed)
		h.placed = cpuPlacement{}
	}
	h.mu.Unlock()
	if err := unix.Rmdir(h.staging); err != nil && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("removing staging directory %s: %w", h.staging, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("destroying sandbox %s: %w", h.id, errors.Join(errs...))
	}
	h.d.release(h.id, h.slot)
	return nil
}

// String identifies the sandbox in logs.
func (h *linuxHandle) String() string { return "linux sandbox " + h.id + " pid " + strconv.Itoa(h.pid) }
