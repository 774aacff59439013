package sandbox

import (
	"os"
	"syscall"
	"time"
)

// exitTimeout bounds how long Stop and Destroy wait for a killed sandbox
// to be reaped.
const exitTimeout = 10 * time.Second

// exitOf describes a reaped process.
func exitOf(ps *os.ProcessState) Exit {
	if ps == nil {
		return Exit{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal().String()}
	}
	return Exit{Code: ps.ExitCode()}
}
