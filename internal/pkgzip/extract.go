package pkgzip

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
)

// Inspect validates a package without writing anything: it checks the
// structure (see the package documentation) and decompresses every file,
// verifying checksums and counting the actual unpacked bytes.
func Inspect(data []byte, lim Limits) (Info, error) {
	lim = lim.withDefaults()
	a, err := open(data, lim)
	if err != nil {
		return Info{}, err
	}
	info := Info{Entries: len(a.entries), a: a}
	budget := lim.MaxUnzippedBytes
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for _, e := range a.entries {
		if e.kind != kindFile {
			continue
		}
		if err := copyEntry(io.Discard, e, &budget, lim, *bp); err != nil {
			return Info{}, err
		}
		info.Files++
	}
	info.UnzippedBytes = lim.MaxUnzippedBytes - budget
	return info, nil
}

// Extract validates a package like Inspect and unpacks it into dir, which
// must not exist or be an empty directory; its parent is created if
// needed. The package is written to a temporary sibling of dir that is
// renamed to dir once complete, so dir never holds a partial package, and
// nothing is left behind on failure.
//
// Files keep their permission bits except group/other write and are
// always readable by everyone; directories are 0755; setuid, setgid and
// sticky bits are dropped. Files keep their modification times. Symlinks
// are created last, so no entry is ever written through one.
func Extract(data []byte, dir string, lim Limits) (err error) {
	lim = lim.withDefaults()
	a, err := open(data, lim)
	if err != nil {
		return err
	}
	if err := checkTarget(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := a.writeTo(tmp, lim); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	// rename(2) atomically replaces an empty directory; os.Rename refuses.
	if err := syscall.Rename(tmp, dir); err != nil {
		return fmt.Errorf("extracting package: %w", &os.LinkError{Op: "rename", Old: tmp, New: dir, Err: err})
	}
	return nil
}

// checkTarget fails unless dir is absent or an empty directory.
func checkTarget(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("extracting package: %s is not empty", dir)
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("extracting package: %s: %w", dir, err)
	}
	return nil
}

// writeTo unpacks a into the empty directory dir through an os.Root, which
// refuses any path that would leave dir even if validation missed one.
func (a *archive) writeTo(dir string, lim Limits) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	defer root.Close()

	// Directories first, parents before children, explicit or implied.
	dirs := make(map[string]bool)
	for _, e := range a.entries {
		if e.kind == kindDir {
			dirs[e.name] = true
		}
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			dirs[p] = true
		}
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	slices.Sort(sorted) // "a" sorts before "a/b"
	for _, d := range sorted {
		if err := root.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("extracting package: %w", err)
		}
		if err := root.Chmod(d, fileMode(kindDir, 0)); err != nil {
			return fmt.Errorf("extracting package: %w", err)
		}
	}

	budget := lim.MaxUnzippedBytes
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for _, e := range a.entries {
		if e.kind == kindFile {
			if err := writeFile(root, e, &budget, lim, *bp); err != nil {
				return err
			}
		}
	}
	for _, e := range a.entries {
		if e.kind == kindSymlink {
			if err := root.Symlink(e.target, e.name); err != nil {
				return fmt.Errorf("extracting package: %w", err)
			}
		}
	}
	return nil
}

func writeFile(root *os.Root, e *entry, budget *int64, lim Limits, buf []byte) error {
	f, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("extracting package: %w", err)
	}
	err = copyEntry(f, e, budget, lim, buf)
	if err == nil {
		err = f.Chmod(fileMode(kindFile, e.mode))
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("extracting package: %w", cerr)
	}
	if err == nil && !e.f.Modified.IsZero() {
		if terr := root.Chtimes(e.name, e.f.Modified, e.f.Modified); terr != nil {
			err = fmt.Errorf("extracting package: %w", terr)
		}
	}
	return err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyEntry decompresses e into w, charging the bytes to budget. Bad data
// (checksum, format, unknown method) is EINVALID; a failing w is not.
func copyEntry(w io.Writer, e *entry, budget *int64, lim Limits, buf []byte) error {
	rc, err := e.f.Open()
	if err != nil {
		return invalid("entry %q: %v", e.name, err)
	}
	defer rc.Close()
	ew := &errWriter{w: w}
	n, err := io.CopyBuffer(ew, io.LimitReader(rc, *budget+1), buf)
	*budget -= n
	switch {
	case ew.err != nil:
		return fmt.Errorf("extracting package: %w", ew.err)
	case *budget < 0:
		return tooBigUnzipped(lim)
	case err != nil:
		return invalid("entry %q: %v", e.name, err)
	}
	return nil
}

// errWriter remembers the error of its writer, telling write failures
// apart from read failures after io.Copy.
type errWriter struct {
	w   io.Writer
	err error
}

func (w *errWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

var _ io.Writer = (*errWriter)(nil)
