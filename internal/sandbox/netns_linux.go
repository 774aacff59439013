package sandbox

import (
	"fmt"
	"net"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// runtimeAPIAddr is where a linux sandbox reaches its Runtime API, inside
// its own network namespace.
var runtimeAPIAddr = net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9001}

// listenInNetns brings up the loopback interface of pid's network
// namespace and opens a TCP listener on runtimeAPIAddr there. The listener
// is served from the host like any other.
func listenInNetns(pid int) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	// A dedicated goroutine: if the thread cannot return to the host's
	// namespace, the goroutine exits still locked and the runtime discards
	// the thread instead of reusing it.
	go func() {
		runtime.LockOSThread()
		ln, restored, err := listenInNetnsLocked(pid)
		ch <- result{ln, err}
		if restored {
			runtime.UnlockOSThread()
		}
	}()
	r := <-ch
	return r.ln, r.err
}

// listenInNetnsLocked does the work of listenInNetns on a locked OS
// thread; restored reports whether the thread is back in its own network
// namespace.
func listenInNetnsLocked(pid int) (ln net.Listener, restored bool, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("opening own network namespace: %w", err)
	}
	defer unix.Close(orig)
	path := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("opening %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("entering network namespace of %d: %w", pid, err)
	}
	ln, err = loopbackListen()
	if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, false, fmt.Errorf("returning to own network namespace: %w", rerr)
	}
	return ln, true, err
}

// loopbackListen sets lo up in the current thread's network namespace and
// listens on runtimeAPIAddr.
func loopbackListen() (net.Listener, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening control socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return nil, fmt.Errorf("reading flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return nil, fmt.Errorf("bringing lo up: %w", err)
	}
	ln, err := net.ListenTCP("tcp4", &runtimeAPIAddr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", &runtimeAPIAddr, err)
	}
	return ln, nil
}
