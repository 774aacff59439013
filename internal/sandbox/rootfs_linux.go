package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// defaultTmpMB is the size of /tmp when Spec.TmpMB is 0 (Lambda's
// default ephemeral storage).
const defaultTmpMB = 512

// devNodes are the host device nodes shown in the sandbox's /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom"}

// devLinks are the symbolic links of the sandbox's /dev.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// setupRoot builds the sandbox's file system in the shim's private mount
// namespace and makes it the root:
//
//	/            tmpfs, read-only once built
//	/var/task    cfg.CodeDir, read-only
//	/opt         cfg.OptDir, read-only (empty when none)
//	/var/runtime cfg.RuntimeDir, read-only (empty when none)
//	/tmp         tmpfs of cfg.TmpMB, mode 1777
//	/dev         null zero full random urandom, links fd stdin stdout stderr
//	/proc        a proc of the sandbox's pid namespace
//	host binds   read-only at the same path
func setupRoot(cfg *shimConfig) error {
	// Nothing mounted here may reach the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return newShimError("making / private", err)
	}
	root := cfg.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=4096,mode=755"); err != nil {
		return newShimError("mounting root tmpfs on "+root, err)
	}
	for _, d := range []string{"var/task", "var/runtime", "opt", "tmp", "dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return newShimError("creating /"+d, err)
		}
	}
	if err := bindReadOnly(cfg.CodeDir, root+"/var/task"); err != nil {
		return err
	}
	if cfg.OptDir != "" {
		if err := bindReadOnly(cfg.OptDir, root+"/opt"); err != nil {
			return err
		}
	}
	if cfg.RuntimeDir != "" {
		if err := bindReadOnly(cfg.RuntimeDir, root+"/var/runtime"); err != nil {
			return err
		}
	}
	for _, p := range cfg.HostBinds {
		if err := showHostPath(root, p); err != nil {
			return err
		}
	}
	tmpMB := cfg.TmpMB
	if tmpMB == 0 {
		tmpMB = defaultTmpMB
	}
	if err := unix.Mount("tmpfs", root+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"size="+strconv.Itoa(tmpMB)+"m,mode=1777"); err != nil {
		return newShimError("mounting /tmp", err)
	}
	if err := setupDev(root + "/dev"); err != nil {
		return err
	}
	if err := unix.Mount("proc", root+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return newShimError("mounting /proc", err)
	}
	return pivotRoot(root, cfg.Hostname)
}

// showHostPath shows host path p at the same place under root: a
// directory or file as a read-only bind, a symbolic link as the same link.
// Paths missing on the host are skipped.
func showHostPath(root, p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return newShimError("inspecting "+p, err)
	}
	dst := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return newShimError("creating "+filepath.Dir(p), err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err == nil {
			err = os.Symlink(target, dst)
		}
		if err != nil {
			return newShimError("linking "+p, err)
		}
		return nil
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return newShimError("creating "+p, err)
		}
	default:
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return newShimError("creating "+p, err)
		}
	}
	return bindReadOnly(p, dst)
}

// bindReadOnly binds src (not its submounts) at dst, read-only, nosuid,
// nodev.
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return newShimError("binding "+src, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return newShimError("making "+src+" read-only", err)
	}
	return nil
}

// setupDev mounts a small /dev with the host's harmless device nodes.
func setupDev(dev string) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=755"); err != nil {
		return newShimError("mounting /dev", err)
	}
	for _, n := range devNodes {
		dst := dev + "/" + n
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return newShimError("creating /dev/"+n, err)
		}
		if err := unix.Mount("/dev/"+n, dst, "", unix.MS_BIND, ""); err != nil {
			return newShimError("binding /dev/"+n, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[1], dev+"/"+l[0]); err != nil {
			return newShimError("linking /dev/"+l[0], err)
		}
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC)
	if err := unix.Mount("", dev, "", flags, ""); err != nil {
		return newShimError("making /dev read-only", err)
	}
	return nil
}

// pivotRoot makes root the root directory, detaches the old one, makes
// the new root read-only and sets the hostname.
func pivotRoot(root, hostname string) error {
	if err := unix.Chdir(root); err != nil {
		return newShimError("entering "+root, err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; the
	// detach below then removes it without needing a directory for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return newShimError("pivoting root", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return newShimError("detaching old root", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return newShimError("entering new root", err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return newShimError("making / read-only", err)
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return newShimError("setting hostname", err)
	}
	return nil
}
