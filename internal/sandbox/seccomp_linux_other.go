//go:build linux && !amd64

package sandbox

import (
	"fmt"
	"runtime"
)

// seccompAuditArch is unknown on this architecture: seccompSupported
// fails and the linux driver refuses to start.
const seccompAuditArch = 0

const seccompForeignABIBit = 0

var seccompDenied []int

// seccompSupported reports whether the filter is defined for this
// architecture.
func seccompSupported() error {
	return fmt.Errorf("the seccomp filter is only defined for amd64, not %s", runtime.GOARCH)
}
