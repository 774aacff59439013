//go:build !linux

package sandbox

import (
	"errors"
	"os"
	"syscall"
)

func noneSysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup signals p (process groups are a Linux-only feature here).
func killGroup(p *os.Process, kill bool) error {
	var err error
	if kill {
		err = p.Kill()
	} else {
		err = p.Signal(os.Interrupt)
	}
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

func maxRSS(ps *os.ProcessState) int64 { return 0 }
