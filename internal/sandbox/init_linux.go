package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The init shim is this executable re-executed by the linux driver with
// argv[0] == shimArg0, in fresh mount, pid, uts, ipc and net namespaces.
// It talks to the driver over two pipes:
//
//	fd 3 (ctl, read):  a 4-byte big-endian length and the JSON shimConfig,
//	                   later one gate byte once the driver has placed the
//	                   shim in its cgroups and opened the Runtime API
//	                   listener; EOF before the gate means "give up".
//	fd 4 (err, write): close-on-exec; EOF without data tells the driver
//	                   that execve succeeded, a JSON shimError that setup
//	                   or execve failed.
//
// The shim builds the sandbox's root while the driver sets up cgroups, so
// the two overlap.
const (
	shimArg0  = "stratus-sandbox-init"
	shimCtlFD = 3
	shimErrFD = 4
)

// maxShimConfig bounds the config the shim accepts.
const maxShimConfig = 1 << 20

// shimConfig is what the driver tells the shim.
type shimConfig struct {
	Root       string   // host staging directory that becomes /
	CodeDir    string   // shown at /var/task
	OptDir     string   // shown at /opt ("" = empty)
	RuntimeDir string   // shown at /var/runtime ("" = empty)
	HostBinds  []string // shown read-only at the same path, sorted
	TmpMB      int      // size of /tmp
	UID        int      // uid and gid to run as
	Hostname   string
	Args       []string
	Env        []string
	Dir        string
}

// shimError is a failure inside the shim, as reported to the driver.
type shimError struct {
	Op    string        // what failed, e.g. "exec /var/task/bootstrap"
	Errno syscall.Errno // the system error, 0 if none
	Msg   string        // the error text
}

func (e *shimError) Error() string { return e.Op + ": " + e.Msg }

// Unwrap returns the system error, so errors.Is(err, fs.ErrNotExist) works
// for a missing executable.
func (e *shimError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// newShimError describes err, which happened while doing op.
func newShimError(op string, err error) *shimError {
	se := &shimError{Op: op, Msg: err.Error()}
	errors.As(err, &se.Errno)
	return se
}

// Init runs the sandbox init shim and never returns when this process was
// started as one by the linux driver; otherwise it returns at once. The
// server's main and every TestMain that starts linux sandboxes call it
// before doing anything else.
func Init() {
	if len(os.Args) == 0 || os.Args[0] != shimArg0 {
		return
	}
	// prctl(PR_SET_PDEATHSIG) and execve must happen on one thread.
	runtime.LockOSThread()
	err := runShim()
	var se *shimError
	if !errors.As(err, &se) {
		se = newShimError("sandbox init", err)
	}
	if data, jerr := json.Marshal(se); jerr == nil {
		unix.Write(shimErrFD, data)
	}
	os.Exit(127)
}

// runShim sets the sandbox up and execs the workload; it returns only on
// failure.
func runShim() error {
	unix.CloseOnExec(shimCtlFD)
	unix.CloseOnExec(shimErrFD)
	cfg, err := readShimConfig()
	if err != nil {
		return err
	}
	if err := setupRoot(cfg); err != nil {
		return err
	}
	var gate [1]byte
	if n, _ := readFull(shimCtlFD, gate[:]); n != 1 {
		os.Exit(1) // the driver gave up on this sandbox
	}
	if err := installSeccomp(); err != nil {
		return newShimError("seccomp", err)
	}
	if err := dropPrivileges(cfg.UID); err != nil {
		return err
	}
	// Changing uid cleared the parent-death signal of this thread, the one
	// that will exec: set it again, then make sure the driver did not die
	// in between (it holds the ctl pipe open until execve has happened).
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return newShimError("setting parent-death signal", err)
	}
	fds := []unix.PollFd{{Fd: shimCtlFD, Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 0); n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
		os.Exit(1)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "/var/task"
	}
	if err := unix.Chdir(dir); err != nil {
		return newShimError("changing directory to "+dir, err)
	}
	resetIgnoredSignals()
	err = unix.Exec(cfg.Args[0], cfg.Args, cfg.Env)
	return newShimError("exec "+cfg.Args[0], err)
}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on Linux.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// resetIgnoredSignals gives the runtime the default disposition of every
// signal the server inherited as ignored (execve keeps SIG_IGN, and a
// shell or make may have ignored some): a function starts as on Lambda,
// with no signal ignored.
func resetIgnoredSignals() {
	const sigIgn, sigDfl = 1, 0
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler == sigIgn {
			act := kernelSigaction{handler: sigDfl}
			_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		}
	}
}

// readShimConfig reads the length-prefixed config from the ctl pipe.
func readShimConfig() (*shimConfig, error) {
	var hdr [4]byte
	if _, err := readFull(shimCtlFD, hdr[:]); err != nil {
		return nil, newShimError("reading config", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxShimConfig {
		return nil, newShimError("reading config", fmt.Errorf("config of %d bytes is too large", n))
	}
	data := make([]byte, n)
	if _, err := readFull(shimCtlFD, data); err != nil {
		return nil, newShimError("reading config", err)
	}
	cfg := &shimConfig{}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, newShimError("decoding config", err)
	}
	if len(cfg.Args) == 0 {
		return nil, newShimError("decoding config", errors.New("no command"))
	}
	return cfg, nil
}

// encodeShimConfig frames cfg for the ctl pipe.
func encodeShimConfig(cfg *shimConfig) ([]byte, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding sandbox config: %w", err)
	}
	if len(data) > maxShimConfig {
		return nil, fmt.Errorf("encoding sandbox config: %d bytes is more than %d", len(data), maxShimConfig)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(data)), uint32(len(data)))
	return append(out, data...), nil
}

// readFull reads len(p) bytes from fd.
func readFull(fd int, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Read(fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrUnexpectedEOF
		}
		n += m
	}
	return n, nil
}

// dropPrivileges switches the calling thread to uid:uid with no
// supplementary groups, which also empties its capability sets. Only this
// thread changes (a raw syscall, not the all-threads Go wrappers, which
// cost half a millisecond): it is the one that calls execve, which ends
// the others.
func dropPrivileges(uid int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return newShimError("dropping supplementary groups", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return newShimError("setting gid", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return newShimError("setting uid", e)
	}
	return nil
}
