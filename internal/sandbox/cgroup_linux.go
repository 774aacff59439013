package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The cgroup v1 hierarchies a sandbox joins, in cgroup.dirs order. The
// first four are required; cpuset is optional: where it is not usable,
// its entry in every array of paths is "" and sandboxes are not pinned.
const (
	cgMemory = iota
	cgCPU
	cgPids
	cgFreezer
	cgCPUSet
	cgCount
)

var cgroupControllers = [cgCount]string{"memory", "cpu", "pids", "freezer", "cpuset"}

// cfsPeriodUS is the CFS period; a quota of millis*100 µs per period is
// millis thousandths of a CPU.
const cfsPeriodUS = 100000

// findCgroupParents returns, for each controller of cgroupControllers, the
// directory <mount point>/<this process's cgroup>/<name>. It fails when a
// required controller is not mounted as a cgroup v1 hierarchy; when
// cpuset is not, parents[cgCPUSet] is "" and noCPUSet says why.
func findCgroupParents(name string) (parents [cgCount]string, noCPUSet, err error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return parents, nil, err
	}
	own, err := ownCgroups()
	if err != nil {
		return parents, nil, err
	}
	var missing []string
	for i, ctrl := range cgroupControllers {
		m, ok := mounts[ctrl]
		path, ok2 := own[ctrl]
		if !ok || !ok2 {
			if i == cgCPUSet {
				noCPUSet = errors.New("the cgroup v1 cpuset controller is not mounted")
				continue
			}
			missing = append(missing, ctrl)
			continue
		}
		rel, err := filepath.Rel(m.root, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			err := fmt.Errorf("cgroup %s of this process (%s) is outside the mounted hierarchy (%s)", ctrl, path, m.root)
			if i == cgCPUSet {
				noCPUSet = err
				continue
			}
			return parents, noCPUSet, err
		}
		parents[i] = filepath.Join(m.dir, rel, name)
	}
	if len(missing) > 0 {
		return parents, noCPUSet, fmt.Errorf("cgroup v1 controllers %s are not mounted (expected at /sys/fs/cgroup/<controller>; cgroup v2 is not supported)", strings.Join(missing, ", "))
	}
	return parents, noCPUSet, nil
}

type cgroupMount struct{ dir, root string }

// cgroupMounts maps each v1 controller to where its hierarchy is mounted.
func cgroupMounts() (map[string]cgroupMount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	mounts := map[string]cgroupMount{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 || fields[sep+1] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(fields[sep+3], ",") {
			if _, ok := mounts[opt]; !ok {
				mounts[opt] = cgroupMount{dir: fields[4], root: fields[3]}
			}
		}
	}
	return mounts, nil
}

// ownCgroups maps each v1 controller to this process's cgroup path in it.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading own cgroups: %w", err)
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			own[ctrl] = parts[2]
		}
	}
	return own, nil
}

// cgroup is one sandbox's set of cgroup directories.
type cgroup struct {
	dirs [cgCount]string

	// usageFD is memory.max_usage_in_bytes kept open, so that reading the
	// peak after every invocation is one pread instead of open, read and
	// close. usageMu guards it; -1 until first use and after remove.
	usageMu sync.Mutex
	usageFD int
}

// cgroupLimits are the values written when a cgroup is created.
type cgroupLimits struct {
	memoryBytes int64 // 0 = unlimited
	cpuMillis   int   // 0 = unlimited
	pidsMax     int
	cpusetCPUs  string // cpuset.cpus and cpuset.mems, if cpuset is used
	cpusetMems  string
}

// newCgroup creates <parent>/<id> in every hierarchy in use (parent not
// "") and applies limits. On error nothing is left behind.
func newCgroup(parents [cgCount]string, id string, lim cgroupLimits) (*cgroup, error) {
	cg := &cgroup{}
	for i, p := range parents {
		if p == "" {
			continue
		}
		dir := filepath.Join(p, id)
		if err := mkdirCgroup(dir); err != nil {
			cg.remove()
			return nil, err
		}
		cg.dirs[i] = dir
	}
	if err := cg.apply(lim); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// mkdirCgroup creates dir, replacing an empty leftover of the same name.
func mkdirCgroup(dir string) error {
	err := unix.Mkdir(dir, 0o755)
	if err == unix.EEXIST {
		// A leftover from a crashed server; it can go if it is empty.
		if err = unix.Rmdir(dir); err == nil {
			err = unix.Mkdir(dir, 0o755)
		}
	}
	if err != nil {
		return fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	return nil
}

func (cg *cgroup) apply(lim cgroupLimits) error {
	if lim.memoryBytes > 0 {
		v := strconv.FormatInt(lim.memoryBytes, 10)
		if err := writeCgroupFile(cg.dirs[cgMemory], "memory.limit_in_bytes", v); err != nil {
			return err
		}
		// memsw exists only when swap accounting is on; it caps memory+swap.
		if err := writeCgroupFile(cg.dirs[cgMemory], "memory.memsw.limit_in_bytes", v); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := cg.setCPU(lim.cpuMillis); err != nil {
		return err
	}
	if dir := cg.dirs[cgCPUSet]; dir != "" {
		// Without both, the cpuset refuses tasks.
		if err := cg.setCPUs(lim.cpusetCPUs); err != nil {
			return err
		}
		if err := writeCgroupFile(dir, "cpuset.mems", lim.cpusetMems); err != nil {
			return err
		}
	}
	return writeCgroupFile(cg.dirs[cgPids], "pids.max", strconv.Itoa(lim.pidsMax))
}

// setCPUs writes the cpuset's CPU list ("0-1", "3"); a no-op without a
// cpuset.
func (cg *cgroup) setCPUs(list string) error {
	if cg.dirs[cgCPUSet] == "" {
		return nil
	}
	return writeCgroupFile(cg.dirs[cgCPUSet], "cpuset.cpus", list)
}

// setCPU sets the CFS quota: millis thousandths of a CPU, 0 = unlimited.
func (cg *cgroup) setCPU(millis int) error {
	if millis < 0 {
		return fmt.Errorf("setting cpu quota: %d millis is negative", millis)
	}
	quota := "-1"
	if millis > 0 {
		// The kernel refuses quotas below 1 ms.
		quota = strconv.Itoa(max(millis*cfsPeriodUS/1000, 1000))
	}
	if err := writeCgroupFile(cg.dirs[cgCPU], "cpu.cfs_period_us", strconv.Itoa(cfsPeriodUS)); err != nil {
		return err
	}
	return writeCgroupFile(cg.dirs[cgCPU], "cpu.cfs_quota_us", quota)
}

// startInCgroup starts cmd so that the child begins life in dirs: it
// forks from an OS thread moved into dirs for the fork, which returns to
// home afterwards (off the caller's critical path). Moving a thread by
// writing "0" to a tasks file skips the kernel's global threadgroup lock,
// whose RCU grace period made writing a pid to cgroup.procs take up to
// 15 ms here. A thread that cannot return is discarded, which kills the
// child (its parent-death signal fires) and leaks nothing else.
//
// Joining a cpuset sets the thread's CPU affinity to the cpuset's CPUs
// (the child inherits them); the thread gets its own affinity back once
// home.
func startInCgroup(cmd *exec.Cmd, dirs, home [cgCount]string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var affinity unix.CPUSet
		keep := dirs[cgCPUSet] != "" && unix.SchedGetaffinity(0, &affinity) == nil
		err := moveThread(dirs)
		if err == nil {
			if err = cmd.Start(); err != nil {
				err = fmt.Errorf("spawning init shim: %w", err)
			}
		}
		errc <- err
		if moveThread(home) == nil {
			if keep {
				_ = unix.SchedSetaffinity(0, &affinity)
			}
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine ends locked and the runtime ends the
		// thread.
	}()
	return <-errc
}

// moveThread moves the calling OS thread into every directory of dirs
// ("" entries are hierarchies not in use).
func moveThread(dirs [cgCount]string) error {
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if err := writeCgroupFile(dir, "tasks", "0"); err != nil {
			return fmt.Errorf("moving thread: %w", err)
		}
	}
	return nil
}

// setFrozen freezes or thaws every task and waits until the freezer
// reports the new state.
func (cg *cgroup) setFrozen(frozen bool) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	dir := cg.dirs[cgFreezer]
	if err := writeCgroupFile(dir, "freezer.state", want); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		state, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		if err != nil {
			return fmt.Errorf("reading freezer state: %w", err)
		}
		if strings.TrimSpace(string(state)) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("setting %s to %s: still %s after 5s", dir, want, bytes.TrimSpace(state))
		}
		if frozen {
			// A task that is busy in the kernel may miss the first
			// attempt; writing again retries it.
			_ = writeCgroupFile(dir, "freezer.state", want)
		}
		time.Sleep(delay)
	}
}

// oomKilled reports whether the kernel's OOM killer acted in the cgroup or
// the cgroup is currently out of memory.
func (cg *cgroup) oomKilled() bool {
	data, err := os.ReadFile(filepath.Join(cg.dirs[cgMemory], "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if (k == "oom_kill" || k == "under_oom") && v != "0" && v != "" {
			return true
		}
	}
	return false
}

// maxUsage is memory.max_usage_in_bytes, or -1 when unreadable.
func (cg *cgroup) maxUsage() int64 {
	cg.usageMu.Lock()
	defer cg.usageMu.Unlock()
	if cg.usageFD <= 0 {
		fd, err := unix.Open(filepath.Join(cg.dirs[cgMemory], "memory.max_usage_in_bytes"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1
		}
		cg.usageFD = fd
	}
	var buf [32]byte
	n, err := unix.Pread(cg.usageFD, buf[:], 0)
	if err != nil || n == 0 {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// closeUsage closes the kept-open peak-usage file.
func (cg *cgroup) closeUsage() {
	cg.usageMu.Lock()
	if cg.usageFD > 0 {
		_ = unix.Close(cg.usageFD)
	}
	cg.usageFD = -1
	cg.usageMu.Unlock()
}

// remove deletes every directory, retrying briefly while exiting tasks
// drain. Missing directories are not an error.
func (cg *cgroup) remove() error {
	cg.closeUsage()
	var errs []error
	for i, dir := range cg.dirs {
		if dir == "" {
			continue
		}
		if i == cgFreezer {
			// A frozen cgroup would keep its killed tasks forever.
			_ = writeCgroupFile(dir, "freezer.state", "THAWED")
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			err := unix.Rmdir(dir)
			if err == nil || err == unix.ENOENT {
				break
			}
			if err != unix.EBUSY || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// writeCgroupFile writes v to dir/name with a single write, as cgroup
// files require.
func writeCgroupFile(dir, name, v string) error {
	path := dir + "/" + name
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	_, err = unix.Write(fd, []byte(v))
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", v, path, err)
	}
	return nil
}
