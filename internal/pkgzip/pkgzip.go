// Package pkgzip validates and unpacks function deployment packages (zip
// files) without trusting anything the archive says about itself.
//
// Inspect checks a package without writing anything; Extract unpacks it.
// Both reject, as a *stratus.Error with code EINVALID (ETOOLARGE for the
// zipped size):
//
//   - data that is not a zip archive, or is corrupt (bad checksum, truncated);
//   - encrypted entries and unknown compression methods;
//   - entry names that are absolute, contain ".." components or NUL bytes,
//     or would escape the root if their backslashes were path separators;
//   - duplicate entries, and entries whose parent is a file or a symlink;
//   - device, fifo and socket entries;
//   - symlinks whose target is absolute, escapes the package root (resolved
//     relative to the link's directory, following other links of the
//     archive), or loops;
//   - more than Limits.MaxFiles entries;
//   - a declared or actual uncompressed size above Limits.MaxUnzippedBytes.
//     Actual bytes are counted while decompressing, so a zip bomb stops at
//     the limit no matter what its headers claim.
//
// Setuid, setgid and sticky bits are dropped, never applied.
package pkgzip

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/stratus-dev/stratus"
)

// Default limits, as AWS Lambda applies them to a direct upload.
const (
	DefaultMaxZipBytes      = 52428800  // 50 MB zipped
	DefaultMaxUnzippedBytes = 262144000 // 250 MB unzipped
	DefaultMaxFiles         = 100000    // entries; AWS documents no limit
)

// Limits bounds what a package may contain. A field that is zero or
// negative takes its DefaultLimits value, so the zero Limits is usable.
type Limits struct {
	MaxZipBytes      int64 // size of the zip file itself
	MaxUnzippedBytes int64 // total size of all entries once unpacked
	MaxFiles         int   // number of entries (files, directories, links)
}

// DefaultLimits returns AWS Lambda's limits for a directly uploaded zip.
func DefaultLimits() Limits {
	return Limits{
		MaxZipBytes:      DefaultMaxZipBytes,
		MaxUnzippedBytes: DefaultMaxUnzippedBytes,
		MaxFiles:         DefaultMaxFiles,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxZipBytes <= 0 {
		l.MaxZipBytes = d.MaxZipBytes
	}
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = d.MaxUnzippedBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	return l
}

// Info describes a valid package.
type Info struct {
	// Files is the number of regular files.
	Files int
	// Entries is the number of entries: files, directories and symlinks.
	Entries int
	// UnzippedBytes is the total size of the regular files, counted while
	// decompressing them.
	UnzippedBytes int64

	a *archive
}

// HasFile reports whether name (slash-separated, relative to the package
// root, e.g. "bootstrap") is a regular file, or a symlink that resolves to
// one inside the package.
func (i Info) HasFile(name string) bool {
	_, ok := i.file(name)
	return ok
}

// IsExecutable reports whether name is a file (see HasFile) with at least
// one execute permission bit set.
func (i Info) IsExecutable(name string) bool {
	e, ok := i.file(name)
	return ok && e.mode&0o111 != 0
}

func (i Info) file(name string) (*entry, bool) {
	if i.a == nil {
		return nil, false
	}
	name, err := cleanName(name)
	if err != nil || name == "" {
		return nil, false
	}
	e := i.a.lookup(name)
	if e == nil {
		return nil, false
	}
	if e.kind == kindSymlink {
		p, err := i.a.resolve(e)
		if err != nil {
			return nil, false
		}
		e = i.a.lookup(p)
	}
	if e == nil || e.kind != kindFile {
		return nil, false
	}
	return e, true
}

// UnzipMessage is AWS's message for a package that cannot be unpacked.
const UnzipMessage = "Could not unzip uploaded file. Please check your file, then try to upload again."

// invalid returns the EINVALID error for a bad package; reason says what
// is wrong with it and is appended to AWS's message.
func invalid(format string, args ...any) error {
	return &stratus.Error{
		Code:    stratus.EINVALID,
		Message: UnzipMessage + " (" + fmt.Sprintf(format, args...) + ")",
	}
}

func tooBigUnzipped(lim Limits) error {
	return stratus.Errorf(stratus.EINVALID, "Unzipped size must be smaller than %d bytes", lim.MaxUnzippedBytes)
}

func tooBigZipped(lim Limits) error {
	return stratus.Errorf(stratus.ETOOLARGE, "Zipped size must be smaller than %d bytes", lim.MaxZipBytes)
}

// maxNameLen and maxComponentLen are Linux's PATH_MAX-1 and NAME_MAX.
const (
	maxNameLen      = 4095
	maxComponentLen = 255
)

// cleanName validates an entry name and returns it without "." or empty
// components and without a trailing slash. The package root is "".
func cleanName(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("empty entry name")
	}
	if strings.IndexByte(raw, 0) >= 0 {
		return "", fmt.Errorf("entry name %q contains a NUL byte", raw)
	}
	if err := checkEscape(raw); err != nil {
		return "", fmt.Errorf("entry name %q %v", raw, err)
	}
	var b strings.Builder
	for part := range strings.SplitSeq(raw, "/") {
		if part == "" || part == "." {
			continue
		}
		if len(part) > maxComponentLen {
			return "", fmt.Errorf("entry name %q has a component longer than %d bytes", raw, maxComponentLen)
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(part)
	}
	if b.Len() > maxNameLen {
		return "", fmt.Errorf("entry name %q is longer than %d bytes", raw, maxNameLen)
	}
	return b.String(), nil
}

// checkEscape rejects absolute paths and ".." components, treating both
// "/" and "\" as separators so that a Windows-style name cannot escape
// either.
func checkEscape(p string) error {
	alt := strings.ReplaceAll(p, `\`, "/")
	if strings.HasPrefix(alt, "/") {
		return fmt.Errorf("is absolute")
	}
	for part := range strings.SplitSeq(alt, "/") {
		if part == ".." {
			return fmt.Errorf("has a .. component")
		}
	}
	return nil
}

// fileMode returns the permissions to give an extracted entry: the
// archive's permission bits without group/other write, readable (and for
// directories searchable) by everyone; special bits are dropped.
func fileMode(k kind, m fs.FileMode) fs.FileMode {
	if k == kindDir {
		return 0o755
	}
	return m.Perm()&^0o022 | 0o444
}
