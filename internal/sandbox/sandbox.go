// Package sandbox runs execution environments: one process tree per
// environment, started from a Spec by a Driver and controlled through a
// Handle.
//
// Drivers:
//   - "linux": Linux namespaces (mount, pid, ipc, uts, net), cgroup v1
//     limits (memory, cpu, pids, freezer, and cpuset where it is usable)
//     at <server's own cgroup>/<CgroupName>/<server pid>/<ID> in each
//     hierarchy, a minimal read-only root, a size-limited /tmp, an
//     unprivileged uid and a seccomp filter. Needs root.
//   - "none": a plain child process, for hosts that cannot isolate and only
//     when the operator asks for it.
//
// Lifecycle of a Handle:
//
//	Start ──> running ──(Freeze)──> frozen ──(Thaw)──> running
//	             │                                       │
//	   exit / Kill / Stop / OOM                 exit / Kill / Stop
//	             v                                       v
//	          exited ──(Destroy)──> destroyed (cgroups and dirs removed)
//
// CPU placement (linux driver). SetCPU sets the CFS quota and also pins
// the sandbox, through its cpuset, to k = ceil(millis/1000) of the
// server's CPUs (the parent cpuset's cpuset.cpus): the k with the least
// millis placed on them by the driver's live sandboxes, ties to the
// lowest CPU. A sandbox with up to one vCPU of share thus sees one CPU
// (nproc = 1), a larger one ceil(share) CPUs, as container platforms with
// a static CPU policy do; k >= the server's CPUs, millis 0 (unlimited) and
// the init phase (until the first SetCPU) mean every CPU. Why: a Go
// runtime sizes GOMAXPROCS by its affinity mask, and with two CPUs a
// function under a one-CPU quota bounces its HTTP client's work between
// threads on both. Pinning aws-lambda-go functions to one CPU each
// raised warm throughput at concurrency 16 on a 2-CPU host from
// 4.9-5.5k to 7.2-8.1k invokes/s and cut the functions' CPU per
// invocation by about a third (BENCHMARKS.md, history). The cpuset
// controller is optional: without it sandboxes are not pinned
// (Linux.PinningError says why).
//
// The Runtime API of an environment is served by the platform on a
// listener the driver opens so that the sandboxed process reaches it at
// AWS_LAMBDA_RUNTIME_API (127.0.0.1:9001 inside the linux driver's network
// namespace; a random loopback port with the none driver).
package sandbox

import (
	"context"
	"io"
	"net"
	"strconv"
	"time"
)

// Spec says what to run in a sandbox and with which limits.
type Spec struct {
	// ID names the sandbox; unique among live sandboxes, [a-z0-9-]+.
	ID string
	// CodeDir is a host directory shown read-only at /var/task.
	CodeDir string
	// OptDir is a host directory shown read-only at /opt ("" for empty).
	OptDir string
	// RuntimeDir is a host directory shown read-only at /var/runtime, where
	// managed runtimes keep their Runtime API clients ("" for empty).
	RuntimeDir string
	// Args is the command line; Args[0] is an absolute path as seen inside
	// the sandbox (e.g. /var/task/bootstrap, /usr/bin/python3).
	Args []string
	// Env is the process environment ("K=V"). The driver appends
	// AWS_LAMBDA_RUNTIME_API.
	Env []string
	// Dir is the working directory inside the sandbox ("" = /var/task).
	Dir string
	// MemoryMB is the memory limit (memory + swap), including /tmp pages.
	MemoryMB int
	// TmpMB is the size of the private /tmp.
	TmpMB int
	// CPUMillis is the CPU quota in thousandths of a CPU (1000 = one full
	// CPU); 0 means unlimited. It does not place the sandbox on CPUs: only
	// SetCPU does (see CPU placement).
	CPUMillis int
	// PidsMax limits processes plus threads; 0 means the driver default.
	PidsMax int
	// Stdout and Stderr receive the process's output; nil discards it. An
	// *os.File (e.g. the write end of a pipe) is handed to the process as
	// is, without a copying goroutine, so the caller can tell from the read
	// end how much output is still pending.
	Stdout, Stderr io.Writer
}

// Driver creates sandboxes.
type Driver interface {
	// Name is "linux" or "none".
	Name() string
	// Start creates a sandbox and starts Spec.Args in it. It returns once
	// the process has been exec'd (an exec failure is returned as an error)
	// and the Runtime API listener is open.
	Start(ctx context.Context, spec Spec) (Handle, error)
}

// Handle controls one running sandbox. Its methods are safe for concurrent
// use.
type Handle interface {
	// Listener is where the sandboxed process's Runtime API requests
	// arrive. The caller serves it and must not close it before Destroy.
	Listener() net.Listener
	// Pid is the host pid of the sandbox's main process.
	Pid() int
	// Done is closed when the main process has exited.
	Done() <-chan struct{}
	// Exit describes how the main process ended; valid after Done.
	Exit() Exit
	// Freeze suspends every process of the sandbox; Thaw resumes them.
	// No-ops for drivers without a freezer.
	Freeze() error
	Thaw() error
	// SetCPU changes the CPU quota (see Spec.CPUMillis); the linux
	// driver also places the sandbox on CPUs (see CPU placement above).
	SetCPU(millis int) error
	// MaxMemoryBytes is the peak memory use of the sandbox so far (0 if the
	// driver cannot tell).
	MaxMemoryBytes() int64
	// Kill sends SIGKILL to every process of the sandbox; it returns at
	// once, Done closes when the process is gone.
	Kill() error
	// Stop sends SIGTERM, waits up to grace for the exit, then kills.
	Stop(grace time.Duration) error
	// Destroy kills what is left, waits for it and frees every resource
	// (cgroups, directories, listener). It is idempotent.
	Destroy() error
}

// Exit is how a sandbox's main process ended.
type Exit struct {
	Code      int    // exit status, -1 when killed by a signal
	Signal    string // e.g. "killed", "" when it exited normally
	OOMKilled bool   // the memory limit was hit and the kernel killed it
}

// String renders e as Go's os.ProcessState does, which is also the text
// Lambda puts in Runtime.ExitError messages: "exit status 1",
// "signal: killed".
func (e Exit) String() string {
	if e.Signal != "" {
		return "signal: " + e.Signal
	}
	return "exit status " + strconv.Itoa(e.Code)
}
