package pkgzip

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

type kind uint8

const (
	kindFile kind = iota + 1
	kindDir
	kindSymlink
)

func (k kind) String() string {
	switch k {
	case kindFile:
		return "file"
	case kindDir:
		return "directory"
	case kindSymlink:
		return "symlink"
	}
	return "unknown"
}

// maxLinkTarget bounds the size of a symlink entry's content.
const maxLinkTarget = 4096

// maxLinkHops bounds symlink resolution, as Linux's MAXSYMLINKS does.
const maxLinkHops = 40

// entry is one validated archive entry.
type entry struct {
	f      *zip.File
	name   string // cleaned; never "" (the root itself is skipped)
	kind   kind
	mode   fs.FileMode
	target string // symlink target
}

// archive is a structurally validated zip: names, types, parents, links
// and declared sizes have been checked; contents have not been read.
type archive struct {
	entries []*entry
	byName  map[string]*entry
}

func (a *archive) lookup(name string) *entry { return a.byName[name] }

// open parses and structurally validates zip data.
func open(data []byte, lim Limits) (*archive, error) {
	if int64(len(data)) > lim.MaxZipBytes {
		return nil, tooBigZipped(lim)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, invalid("%v", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, invalid("%d entries, more than the limit of %d", len(zr.File), lim.MaxFiles)
	}
	a := &archive{
		entries: make([]*entry, 0, len(zr.File)),
		byName:  make(map[string]*entry, len(zr.File)),
	}
	var declared uint64
	max := uint64(lim.MaxUnzippedBytes)
	for _, f := range zr.File {
		e, err := newEntry(f)
		if err != nil {
			return nil, invalid("%v", err)
		}
		if e == nil {
			continue // the root directory itself, e.g. "./"
		}
		if f.UncompressedSize64 > max || declared+f.UncompressedSize64 > max {
			return nil, tooBigUnzipped(lim)
		}
		declared += f.UncompressedSize64
		if _, dup := a.byName[e.name]; dup {
			return nil, invalid("duplicate entry %q", e.name)
		}
		a.byName[e.name] = e
		a.entries = append(a.entries, e)
	}
	for _, e := range a.entries {
		if err := a.checkParents(e); err != nil {
			return nil, invalid("%v", err)
		}
	}
	for _, e := range a.entries {
		if e.kind != kindSymlink {
			continue
		}
		if e.target, err = readLink(e.f); err != nil {
			return nil, invalid("symlink %q: %v", e.name, err)
		}
	}
	for _, e := range a.entries {
		if e.kind != kindSymlink {
			continue
		}
		if _, err := a.resolve(e); err != nil {
			return nil, invalid("symlink %q -> %q: %v", e.name, e.target, err)
		}
	}
	return a, nil
}

// newEntry validates one header; it returns nil for an entry naming the
// root directory.
func newEntry(f *zip.File) (*entry, error) {
	if f.Flags&0x1 != 0 {
		return nil, fmt.Errorf("entry %q is encrypted", f.Name)
	}
	name, err := cleanName(f.Name)
	if err != nil {
		return nil, err
	}
	m := f.Mode()
	e := &entry{f: f, name: name, mode: m}
	switch {
	case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
		return nil, fmt.Errorf("entry %q is a special file (%v)", f.Name, m.Type())
	case m&fs.ModeSymlink != 0:
		if m&fs.ModeDir != 0 {
			return nil, fmt.Errorf("entry %q is both a directory and a symlink", f.Name)
		}
		e.kind = kindSymlink
	case m&fs.ModeDir != 0:
		e.kind = kindDir
	default:
		e.kind = kindFile
	}
	if name == "" {
		if e.kind != kindDir {
			return nil, fmt.Errorf("entry %q names the package root", f.Name)
		}
		return nil, nil
	}
	return e, nil
}

// checkParents rejects an entry below a file or a symlink: unpacking it
// would fail, or write through the link.
func (a *archive) checkParents(e *entry) error {
	for i := strings.LastIndexByte(e.name, '/'); i > 0; i = strings.LastIndexByte(e.name[:i], '/') {
		if p := a.byName[e.name[:i]]; p != nil && p.kind != kindDir {
			return fmt.Errorf("entry %q is below %s %q", e.name, p.kind, p.name)
		}
	}
	return nil
}

// readLink reads a symlink entry's target and checks it on its own.
func readLink(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return "", err
	}
	t := string(b)
	switch {
	case len(b) > maxLinkTarget:
		return "", fmt.Errorf("target longer than %d bytes", maxLinkTarget)
	case t == "":
		return "", fmt.Errorf("empty target")
	case strings.IndexByte(t, 0) >= 0:
		return "", fmt.Errorf("target contains a NUL byte")
	case path.IsAbs(t) || strings.HasPrefix(t, `\`):
		return "", fmt.Errorf("target is absolute")
	}
	return t, nil
}

// resolve follows the symlink e, and every archive symlink met on the
// way, and returns the cleaned path it ends at. It fails when the path
// leaves the package root at any step or when links loop.
func (a *archive) resolve(e *entry) (string, error) {
	hops := 0
	dir := path.Dir(e.name)
	if dir == "." {
		dir = ""
	}
	comps, err := a.walk(splitPath(dir), e.target, &hops)
	if err != nil {
		return "", err
	}
	return strings.Join(comps, "/"), nil
}

// walk applies target to the directory comps, replacing each archive
// symlink it reaches by its own target.
func (a *archive) walk(comps []string, target string, hops *int) ([]string, error) {
	if path.IsAbs(target) {
		return nil, fmt.Errorf("target is absolute")
	}
	// Backslashes are ordinary characters on Linux, but a target that
	// would escape with them as separators is refused all the same.
	if strings.Contains(target, `\`) {
		if err := checkBackslashTarget(len(comps), target); err != nil {
			return nil, err
		}
	}
	for part := range strings.SplitSeq(target, "/") {
		switch part {
		case "", ".":
			continue
		case "..":
			if len(comps) == 0 {
				return nil, fmt.Errorf("escapes the package root")
			}
			comps = comps[:len(comps)-1]
			continue
		}
		comps = append(comps, part)
		link := a.byName[strings.Join(comps, "/")]
		if link == nil || link.kind != kindSymlink {
			continue
		}
		if *hops++; *hops > maxLinkHops {
			return nil, fmt.Errorf("too many levels of symbolic links")
		}
		var err error
		if comps, err = a.walk(comps[:len(comps)-1], link.target, hops); err != nil {
			return nil, err
		}
	}
	return comps, nil
}

// checkBackslashTarget refuses a target that escapes the root when its
// backslashes are read as separators.
func checkBackslashTarget(depth int, target string) error {
	for part := range strings.SplitSeq(strings.ReplaceAll(target, `\`, "/"), "/") {
		switch part {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return fmt.Errorf("escapes the package root")
			}
		default:
			depth++
		}
	}
	return nil
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
