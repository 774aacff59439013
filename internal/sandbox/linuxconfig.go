package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// LinuxConfig configures the linux driver. The zero value is not usable;
// start from DefaultLinuxConfig.
type LinuxConfig struct {
	// RunDir holds one staging directory per live sandbox (the mount point
	// of its private root). It is created with mode 0700 when missing.
	RunDir string
	// CgroupName is the cgroup directory, created under the server's own
	// cgroup in every hierarchy, that holds one cgroup per sandbox.
	CgroupName string
	// UIDBase is the first uid (and gid) handed to sandboxes: each live
	// sandbox runs as its own unprivileged UIDBase+slot. Two drivers in one
	// process must not share a uid range.
	UIDBase int
	// HostBinds are host paths shown read-only at the same path inside
	// every sandbox (for interpreters and their libraries). Paths missing
	// on the host are skipped; symbolic links are recreated as links.
	HostBinds []string
	// DefaultPidsMax is the pid limit (processes plus threads) used when
	// Spec.PidsMax is 0.
	DefaultPidsMax int
}

// DefaultLinuxConfig returns the defaults: RunDir /run/stratus/sandbox,
// CgroupName "stratus", UIDBase 20000, HostBinds /usr /lib /lib64 /bin /etc
// and DefaultPidsMax 256.
func DefaultLinuxConfig() LinuxConfig {
	return LinuxConfig{
		RunDir:         "/run/stratus/sandbox",
		CgroupName:     "stratus",
		UIDBase:        20000,
		HostBinds:      []string{"/usr", "/lib", "/lib64", "/bin", "/etc"},
		DefaultPidsMax: 256,
	}
}

// maxSlots is how many sandboxes one linux driver runs at once; it bounds
// the uid range UIDBase..UIDBase+maxSlots-1.
const maxSlots = 1 << 16

// reservedPaths are mount points the driver owns inside a sandbox.
var reservedPaths = []string{"/var/task", "/var/runtime", "/opt", "/tmp", "/dev", "/proc"}

// Validate reports every problem with c, one per line.
func (c LinuxConfig) Validate() error {
	var errs []error
	if c.RunDir == "" || !filepath.IsAbs(c.RunDir) {
		errs = append(errs, fmt.Errorf("sandbox.linux.run_dir: %q is not an absolute path", c.RunDir))
	}
	if !onlyChars(c.CgroupName, "_.-", true) || c.CgroupName == "." || c.CgroupName == ".." || len(c.CgroupName) > 64 {
		errs = append(errs, fmt.Errorf("sandbox.linux.cgroup_name: %q is not a plain directory name", c.CgroupName))
	}
	if c.UIDBase < 1000 || c.UIDBase+maxSlots > 1<<31 {
		errs = append(errs, fmt.Errorf("sandbox.linux.uid_base: %d is outside 1000..%d", c.UIDBase, 1<<31-maxSlots))
	}
	if c.DefaultPidsMax < 1 {
		errs = append(errs, fmt.Errorf("sandbox.linux.default_pids_max: %d must be at least 1", c.DefaultPidsMax))
	}
	for i, p := range c.HostBinds {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			errs = append(errs, fmt.Errorf("sandbox.linux.host_binds[%d]: %q is not a clean absolute path", i, p))
			continue
		}
		if p == "/" {
			errs = append(errs, fmt.Errorf("sandbox.linux.host_binds[%d]: the host root cannot be shown", i))
			continue
		}
		for _, r := range reservedPaths {
			if p == r || strings.HasPrefix(p, r+"/") || strings.HasPrefix(r, p+"/") {
				errs = append(errs, fmt.Errorf("sandbox.linux.host_binds[%d]: %q overlaps the sandbox's own %s", i, p, r))
			}
		}
	}
	return errors.Join(errs...)
}

// validateSpec checks what every driver needs from a Spec.
func validateSpec(spec Spec) error {
	var errs []error
	if !onlyChars(spec.ID, "-", false) || len(spec.ID) > 128 {
		errs = append(errs, fmt.Errorf("spec.ID %q does not match [a-z0-9-]{1,128}", spec.ID))
	}
	if !filepath.IsAbs(spec.CodeDir) {
		errs = append(errs, fmt.Errorf("spec.CodeDir %q is not an absolute path", spec.CodeDir))
	}
	if spec.OptDir != "" && !filepath.IsAbs(spec.OptDir) {
		errs = append(errs, fmt.Errorf("spec.OptDir %q is not an absolute path", spec.OptDir))
	}
	if spec.RuntimeDir != "" && !filepath.IsAbs(spec.RuntimeDir) {
		errs = append(errs, fmt.Errorf("spec.RuntimeDir %q is not an absolute path", spec.RuntimeDir))
	}
	if len(spec.Args) == 0 || !filepath.IsAbs(spec.Args[0]) {
		errs = append(errs, fmt.Errorf("spec.Args[0] must be an absolute path, got %q", spec.Args))
	}
	if spec.Dir != "" && !filepath.IsAbs(spec.Dir) {
		errs = append(errs, fmt.Errorf("spec.Dir %q is not an absolute path", spec.Dir))
	}
	if spec.MemoryMB < 0 || spec.TmpMB < 0 || spec.CPUMillis < 0 || spec.PidsMax < 0 {
		errs = append(errs, errors.New("spec limits must not be negative"))
	}
	return errors.Join(errs...)
}

// onlyChars reports whether s is non-empty and made of ASCII lowercase
// letters, digits, the bytes in extra and, if upper, uppercase letters.
// (No regexp: package initialisation is on every sandbox's start path.)
func onlyChars(s, extra string, upper bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || upper && 'A' <= c && c <= 'Z' || strings.IndexByte(extra, c) >= 0
		if !ok {
			return false
		}
	}
	return s != ""
}

// runtimeAPIEnv returns env without any AWS_LAMBDA_RUNTIME_API entry, plus
// AWS_LAMBDA_RUNTIME_API=addr.
func runtimeAPIEnv(env []string, addr string) []string {
	return setEnv(env, "AWS_LAMBDA_RUNTIME_API", addr)
}

// setEnv returns a copy of env with key set to value (earlier entries for
// key are dropped).
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}
