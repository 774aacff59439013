package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runHelper runs the test binary as a helper process: "orphan" starts a
// sandbox from the config in the environment, prints its pid, cgroups and
// staging directory, and waits to be killed.
func runHelper(name string) int {
	if name != "orphan" {
		fmt.Fprintln(os.Stderr, "unknown helper", name)
		return 2
	}
	cfg := DefaultLinuxConfig()
	cfg.RunDir = os.Getenv("HELPER_RUN_DIR")
	cfg.CgroupName = "stratus-test"
	cfg.UIDBase, _ = strconv.Atoi(os.Getenv("HELPER_UID_BASE"))
	d, err := NewLinux(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, err := d.Start(context.Background(), Spec{
		ID:      "orphan-" + strconv.Itoa(os.Getpid()),
		CodeDir: os.Getenv("HELPER_CODE_DIR"),
		Args:    []string{"/usr/bin/sleep", "1000"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lh := h.(*linuxHandle)
	fmt.Printf("%d %s %s\n", h.Pid(), lh.staging, strings.Join(lh.cg.dirs[:], " "))
	// Busy goroutines on several threads, so that the thread that forked
	// the sandbox is not special when the process dies.
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for {
				runtime.Gosched()
			}
		}()
	}
	select {}
}

// removeTestCgroups removes the (empty) parents of the tests' cgroups;
// another test binary may still be using them, so errors are ignored.
func removeTestCgroups() {
	parents, _, err := findCgroupParents("stratus-test")
	if err != nil {
		return
	}
	for _, p := range parents {
		if p == "" {
			continue
		}
		removeCgroupTree(filepath.Join(p, strconv.Itoa(os.Getpid())))
		os.Remove(p)
	}
}

// TestLinuxSweepsDeadServers: cgroups (cpuset included, when mounted) and
// staging directories left by a server that died (kill -9) are removed
// when the next driver starts.
func TestLinuxSweepsDeadServers(t *testing.T) {
	MustLinux(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(dead.Process.Pid)
	parents, _, err := findCgroupParents("stratus-test")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range parents {
		if p == "" {
			continue
		}
		dir := filepath.Join(p, pid, "0123456789abcdef")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		left = append(left, filepath.Join(p, pid))
	}
	runDir := filepath.Join(t.TempDir(), "run")
	stale := filepath.Join(runDir, pid, "0123456789abcdef", "var", "task")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultLinuxConfig()
	cfg.RunDir = runDir
	cfg.CgroupName = "stratus-test"
	d, err := NewLinux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, dir := range append(left, filepath.Join(runDir, pid)) {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s left by a dead server is still there (%v)", dir, err)
		}
	}
}

// TestLinuxServerDeath checks that a sandbox dies with the server that
// started it (parent-death signal, kept across the uid change).
func TestLinuxServerDeath(t *testing.T) {
	MustLinux(t) // for the skip and the host checks
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=orphan",
		"HELPER_RUN_DIR="+filepath.Join(t.TempDir(), "run"),
		"HELPER_UID_BASE="+strconv.Itoa(40000+int(uidBaseSeq.Add(1))*100),
		"HELPER_CODE_DIR="+MustCodeDir(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	fields := strings.Fields(line)
	pid, _ := strconv.Atoi(fields[0])
	dirs := fields[1:]
	t.Cleanup(func() {
		for _, dir := range dirs {
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				return nil
			})
		}
	})
	if !processAlive(pid) {
		t.Fatalf("sandbox %d not running", pid)
	}
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if processAlive(pid) {
			return fmt.Errorf("sandbox %d still running after its server died", pid)
		}
		return nil
	})
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestLinuxNoLeaks checks that start/destroy cycles leave no file
// descriptors, goroutines or processes behind.
func TestLinuxNoLeaks(t *testing.T) {
	d := MustLinux(t)
	code := MustCodeDir(t)
	cycle := func(i int) int {
		rec := &recorder{hits: make(chan string, 10)}
		h, err := d.Start(context.Background(), Spec{ID: fmt.Sprintf("leak-%d", i), CodeDir: code, Args: []string{"/var/task/probe", "hello"}})
		if err != nil {
			t.Fatal(err)
		}
		srvDone := make(chan struct{})
		go func() {
			defer close(srvDone)
			serveHTTP(h.Listener(), rec)
		}()
		rec.waitHit(t, "/hello")
		<-h.Done()
		if err := h.Destroy(); err != nil {
			t.Fatal(err)
		}
		<-srvDone
		return h.Pid()
	}
	cycle(0) // warm up lazily created runtime state
	fds0, g0 := countFDs(t), runtime.NumGoroutine()
	var pids []int
	for i := 1; i <= 5; i++ {
		pids = append(pids, cycle(i))
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("process %d (zombie?) left after Destroy", pid)
		}
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if fds, g := countFDs(t), runtime.NumGoroutine(); fds > fds0 || g > g0 {
			return fmt.Errorf("fds %d -> %d, goroutines %d -> %d", fds0, fds, g0, g)
		}
		return nil
	})
}

func countFDs(tb testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}
