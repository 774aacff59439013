package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Linux is the "linux" driver. Create it with NewLinux. Start:
//
//  1. creates <own cgroup>/<CgroupName>/<server pid>/<ID> in the memory,
//     cpu, pids, freezer and (if usable) cpuset hierarchies and writes
//     the limits; the cpuset has all of the server's CPUs;
//  2. re-executes this executable as the init shim (see Init) in new
//     mount, pid, uts, ipc and net namespaces, forking from a thread
//     moved into those cgroups so the shim starts inside them;
//  3. while the shim builds the sandbox's root (rootfs_linux.go), opens
//     the Runtime API listener in the shim's network namespace, then lets
//     the shim go on: seccomp filter, uid UIDBase+slot, execve.
//
// The workload is pid 1 of its namespace: killing it kills the sandbox.
// Its mounts live only in its mount namespace and vanish with it.
//
// SetCPU sets the CFS quota and places the sandbox on CPUs (see the
// package doc, CPU placement).
type Linux struct {
	cfg     LinuxConfig
	runDir  string          // RunDir/<pid>: this process's staging directories
	parents [cgCount]string // per hierarchy: <own cgroup>/<CgroupName>/<pid>
	own     [cgCount]string // per hierarchy: this process's cgroup
	binds   []string        // cfg.HostBinds present on the host, sorted

	// With a usable cpuset hierarchy: placer places sandboxes on the
	// server's CPUs, allCPUs and mems are the cpuset.cpus and cpuset.mems
	// of a sandbox that is not pinned. Otherwise placer is nil and
	// noPinning says why.
	placer    *cpuPlacer
	allCPUs   string
	mems      string
	noPinning error

	mu       sync.Mutex
	live     map[string]int // mu guards live, used, nextSlot; sandbox ID -> uid slot
	used     map[int]bool   // uid slots in use
	nextSlot int
}

var _ Driver = (*Linux)(nil)

// NewLinux checks that the host can sandbox (see CheckLinux), creates the
// driver's cgroup and run directories and returns the driver. Its error
// says why the host cannot sandbox.
func NewLinux(cfg LinuxConfig) (*Linux, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring linux sandbox driver: %w", err)
	}
	parents, noCPUSet, err := checkLinux(cfg.CgroupName)
	if err != nil {
		return nil, err
	}
	// Each server process gets its own level, <CgroupName>/<pid>, in every
	// hierarchy and in RunDir, so that servers sharing a host never touch
	// each other's sandboxes, and what a crashed server left behind can be
	// told apart and removed.
	pid := strconv.Itoa(os.Getpid())
	var own [cgCount]string
	for i, p := range parents {
		if p == "" {
			continue
		}
		own[i] = filepath.Dir(p)
		sweepDead(p, removeCgroupTree)
		parents[i] = filepath.Join(p, pid)
		if i == cgCPUSet {
			continue // below
		}
		if err := os.MkdirAll(parents[i], 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup %s: %w", parents[i], err)
		}
	}
	var cpuset cpusetParent
	if parents[cgCPUSet] != "" {
		cpuset, noCPUSet = setupCPUSet(own[cgCPUSet], parents[cgCPUSet])
		if noCPUSet != nil {
			parents[cgCPUSet], own[cgCPUSet] = "", ""
		}
	}
	sweepDead(cfg.RunDir, func(dir string) { _ = os.RemoveAll(dir) })
	runDir := filepath.Join(cfg.RunDir, pid)
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating sandbox run directory: %w", err)
	}
	var binds []string
	for _, p := range cfg.HostBinds {
		if _, err := os.Lstat(p); err == nil {
			binds = append(binds, p)
		}
	}
	slices.Sort(binds) // parents before children
	d := &Linux{
		cfg:     cfg,
		runDir:  runDir,
		parents: parents,
		own:     own,
		binds:   slices.Compact(binds),
		live:    map[string]int{},
		used:    map[int]bool{},
	}
	if noCPUSet != nil {
		d.noPinning = fmt.Errorf("not pinning sandboxes to CPUs: %w", noCPUSet)
	} else {
		d.placer = newCPUPlacer(cpuset.cpus)
		d.allCPUs, d.mems = formatCPUList(cpuset.cpus), cpuset.mems
	}
	return d, nil
}

// PinningError reports why the driver does not place sandboxes on CPUs
// (the cgroup v1 cpuset controller is not mounted or not usable), or nil
// if it does. Without pinning, SetCPU only sets the CFS quota.
func (d *Linux) PinningError() error { return d.noPinning }

// CheckLinux reports why this host cannot run linux sandboxes, or nil if
// it can: it needs root (with CAP_SYS_ADMIN), the cgroup v1 memory, cpu,
// pids and freezer controllers, mount/pid/uts/ipc/net namespaces and an
// architecture the seccomp filter knows. The cpuset controller is
// optional (see PinningError).
func CheckLinux() error {
	_, _, err := checkLinux(DefaultLinuxConfig().CgroupName)
	return err
}

// checkLinux does CheckLinux and returns the cgroup parents for name,
// and why there is no cpuset parent if there is none.
func checkLinux(name string) (parents [cgCount]string, noCPUSet, err error) {
	var errs []error
	if uid := os.Geteuid(); uid != 0 {
		errs = append(errs, fmt.Errorf("not running as root (uid %d)", uid))
	} else if err := checkCapSysAdmin(); err != nil {
		errs = append(errs, err)
	}
	parents, noCPUSet, err = findCgroupParents(name)
	if err != nil {
		errs = append(errs, err)
	}
	if err := checkNamespaces(); err != nil {
		errs = append(errs, err)
	}
	if err := seccompSupported(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return parents, noCPUSet, fmt.Errorf("this host cannot run linux sandboxes: %w", errors.Join(errs...))
	}
	return parents, noCPUSet, nil
}

// checkCapSysAdmin reports whether this process has CAP_SYS_ADMIN, which
// mounts, namespaces and cgroup moves need.
func checkCapSysAdmin() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				return fmt.Errorf("parsing capabilities %q: %w", v, err)
			}
			if caps&(1<<unix.CAP_SYS_ADMIN) == 0 {
				return errors.New("root lacks CAP_SYS_ADMIN (a restricted container?)")
			}
			return nil
		}
	}
	return errors.New("reading capabilities: no CapEff in /proc/self/status")
}

// checkNamespaces creates throwaway net, uts, ipc and pid namespaces on a
// thread that is then discarded, proving that the kernel (and any seccomp
// profile around this process) allows them. Mount namespaces cannot be
// tried on one thread of a Go program; CAP_SYS_ADMIN covers them.
func checkNamespaces() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Exiting without UnlockOSThread ends the thread, namespaces and
		// all.
		err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID)
		if err != nil {
			err = fmt.Errorf("creating namespaces: %w", err)
		}
		errc <- err
	}()
	return <-errc
}

// Name returns "linux".
func (d *Linux) Name() string { return "linux" }

// Start creates a sandbox for spec and starts spec.Args in it. It returns
// once execve has succeeded; an execve or setup failure is returned as an
// error (errors.Is(err, fs.ErrNotExist) for a missing executable), and
// nothing is left behind. Canceling ctx kills a sandbox that is still
// starting. spec.CodeDir, spec.OptDir and spec.RuntimeDir must be
// readable by others: the workload runs as an unprivileged uid. MemoryMB 0
// means no memory limit, TmpMB 0 a 512 MB /tmp.
func (d *Linux) Start(ctx context.Context, spec Spec) (Handle, error) {
	if err := validateSpec(spec); err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	if err := checkShared(spec.CodeDir); err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	for _, dir := range []string{spec.OptDir, spec.RuntimeDir} {
		if dir == "" {
			continue
		}
		if err := checkShared(dir); err != nil {
			return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	slot, err := d.reserve(spec.ID)
	if err != nil {
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	h := newLinuxHandle(d, spec.ID, slot)
	if err := h.start(ctx, spec); err != nil {
		// Destroy frees whatever start got to create, and the slot.
		h.Destroy()
		return nil, fmt.Errorf("starting sandbox %s: %w", spec.ID, err)
	}
	return h, nil
}

// checkShared reports whether dir is a directory others can enter and
// read.
func checkShared(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o005 != 0o005 {
		return fmt.Errorf("%s has mode %v: the sandbox's unprivileged uid needs o+rx", dir, fi.Mode().Perm())
	}
	return nil
}

// reserve records id as live and hands out a free uid slot.
func (d *Linux) reserve(id string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.live[id]; ok {
		return 0, errors.New("a sandbox with this ID is already running")
	}
	for i := range maxSlots {
		s := (d.nextSlot + i) % maxSlots
		if !d.used[s] {
			d.used[s] = true
			d.live[id] = s
			// Round robin, so that a uid is not reused at once.
			d.nextSlot = s + 1
			return s, nil
		}
	}
	return 0, fmt.Errorf("all %d sandbox uids are in use", maxSlots)
}

// release frees id and its slot.
func (d *Linux) release(id string, slot int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.live, id)
	delete(d.used, slot)
}

// stagingDir is the host directory where id's root is built.
func (d *Linux) stagingDir(id string) string { return filepath.Join(d.runDir, id) }

// sweepDead removes the per-process directories <dir>/<pid> of server
// processes that no longer exist.
func sweepDead(dir string, remove func(string)) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); err == unix.ESRCH {
			remove(filepath.Join(dir, e.Name()))
		}
	}
}

// removeCgroupTree removes a cgroup and its empty children. Cgroups that
// still hold tasks stay (rmdir fails with EBUSY).
func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = unix.Rmdir(dir)
}

// Close removes this process's cgroup and run directories. Call it after
// every sandbox has been destroyed; directories still in use stay.
func (d *Linux) Close() error {
	for _, p := range d.parents {
		if p != "" {
			_ = unix.Rmdir(p)
		}
	}
	return os.Remove(d.runDir)
}
