// Command probe is the workload of the sandbox tests. It runs one check,
// named by its first argument, and reports on stdout ("key value" lines)
// and/or by HTTP requests to http://$AWS_LAMBDA_RUNTIME_API.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe command [args]")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "hello":
		hello()
	case "exit":
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	case "sleep":
		get("/ready")
		for {
			time.Sleep(time.Hour)
		}
	case "term":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		get("/ready")
		<-c
		os.Exit(7)
	case "write":
		for _, p := range args {
			report("write "+p, os.WriteFile(filepath.Join(p, "probe-file"), []byte("x"), 0o644))
		}
	case "read":
		for _, p := range args {
			_, err := os.ReadDir(p)
			if err != nil && errors.Is(err, syscall.ENOTDIR) {
				_, err = os.ReadFile(p)
			}
			report("read "+p, err)
		}
	case "tmpfill":
		tmpfill()
	case "ps":
		ps()
	case "seccomp":
		seccomp()
	case "oom":
		mb, _ := strconv.Atoi(args[0])
		oom(mb)
	case "forkbomb":
		forkbomb()
	case "count":
		count()
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println("env", kv)
		}
		wd, _ := os.Getwd()
		fmt.Println("cwd", wd)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func api() string { return "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") }

// get requests path from the Runtime API listener and returns the body.
func get(path string) (string, error) {
	resp, err := http.Get(api() + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// report prints "what: ok" or "what: <error>", the error without the
// operation and path a *PathError adds.
func report(what string, err error) {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
	} else {
		fmt.Printf("%s: ok\n", what)
	}
}

func hello() {
	host, _ := os.Hostname()
	body, err := get(fmt.Sprintf("/hello?pid=%d&uid=%d&host=%s", os.Getpid(), os.Getuid(), host))
	fmt.Println("api", os.Getenv("AWS_LAMBDA_RUNTIME_API"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("body", body)
}

func tmpfill() {
	f, err := os.Create("/tmp/fill")
	if err != nil {
		report("tmpfill", err)
		return
	}
	buf := make([]byte, 1<<20)
	n := 0
	for {
		var m int
		m, err = f.Write(buf)
		n += m
		if err != nil {
			break
		}
	}
	fmt.Printf("tmpfill %d %v\n", n>>20, err)
}

func ps() {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	sort.Ints(pids)
	groups, _ := os.Getgroups()
	fmt.Printf("pid %d\nppid %d\nuid %d\ngid %d\ngroups %v\nprocs %v\n", os.Getpid(), os.Getppid(), os.Getuid(), os.Getgid(), groups, pids)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "CapEff:") || strings.HasPrefix(line, "Seccomp:") || strings.HasPrefix(line, "NoNewPrivs:") ||
			strings.HasPrefix(line, "SigBlk:") || strings.HasPrefix(line, "SigIgn:") {
			fmt.Println(strings.Join(strings.Fields(line), " "))
		}
	}
}

func seccomp() {
	report("mount", syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	report("unshare-user", syscall.Unshare(syscall.CLONE_NEWUSER))
	report("unshare-net", syscall.Unshare(syscall.CLONE_NEWNET))
	_, _, e := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
	report("ptrace", errnoErr(e))
	_, _, e = syscall.RawSyscall(321 /* bpf */, 0, 0, 0)
	report("bpf", errnoErr(e))
	_, _, e = syscall.RawSyscall(syscall.SYS_CLONE, syscall.CLONE_NEWUSER|uintptr(syscall.SIGCHLD), 0, 0)
	report("clone-newuser", errnoErr(e))
	// An ordinary child still works.
	report("exec-child", exec.Command("/var/task/probe", "exit", "0").Run())
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func oom(mb int) {
	var keep [][]byte
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep))
}

func forkbomb() {
	var n int
	var err error
	for n = 0; n < 10000; n++ {
		var p *os.Process
		p, err = os.StartProcess("/usr/bin/sleep", []string{"sleep", "100"}, &os.ProcAttr{})
		if err != nil {
			break
		}
		_ = p
	}
	fmt.Printf("forked %d %v\n", n, err)
}

func count() {
	var c atomic.Int64
	go func() {
		for {
			c.Add(1)
		}
	}()
	for {
		get("/count?n=" + strconv.FormatInt(c.Load(), 10))
		time.Sleep(5 * time.Millisecond)
	}
}
