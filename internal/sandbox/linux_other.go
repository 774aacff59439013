//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"runtime"
)

var errNotLinux = errors.New("this host cannot run linux sandboxes: the operating system is " + runtime.GOOS)

// Linux is the "linux" driver; on this operating system it cannot be
// created.
type Linux struct{}

var _ Driver = (*Linux)(nil)

// NewLinux fails: linux sandboxes need Linux.
func NewLinux(cfg LinuxConfig) (*Linux, error) { return nil, errNotLinux }

// CheckLinux fails: linux sandboxes need Linux.
func CheckLinux() error { return errNotLinux }

// PinningError fails: linux sandboxes need Linux.
func (d *Linux) PinningError() error { return errNotLinux }

// Init does nothing: there is no init shim on this operating system.
func Init() {}

// Name returns "linux".
func (d *Linux) Name() string { return "linux" }

// Start fails: linux sandboxes need Linux.
func (d *Linux) Start(ctx context.Context, spec Spec) (Handle, error) { return nil, errNotLinux }
