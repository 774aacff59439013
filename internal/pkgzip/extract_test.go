package pkgzip_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

func TestExtract(t *testing.T) {
	old := syscall.Umask(0o077) // modes must not depend on the umask
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "code", "fn")
	data := mustZip(t,
		zent{name: "bootstrap", mode: 0o700, body: "#!/bin/sh\n"},
		zent{name: "private", mode: 0o600, body: "p"},
		zent{name: "shared", mode: 0o666, body: "s"},
		zent{name: "none", mode: fs.ModeSetuid, body: "n"}, // perm 0
		zent{name: "suid", mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o4755, body: "x"},
		zent{name: "ro/", mode: fs.ModeDir | 0o500},
		zent{name: "ro/f", mode: 0o644, body: "f"},
		zent{name: "implied/deep/f", body: "d"},
		zent{name: "win.txt", body: "w", creator: 0, fatAttrs: 0x20},
		zent{name: "link", mode: fs.ModeSymlink | 0o777, body: "implied/deep/f"},
	)
	if err := pkgzip.Extract(data, dir, pkgzip.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode fs.FileMode
	}{
		{".", fs.ModeDir | 0o755},
		{"bootstrap", 0o744},
		{"private", 0o644},
		{"shared", 0o644},
		{"none", 0o444},
		{"suid", 0o755},
		{"ro", fs.ModeDir | 0o755},
		{"ro/f", 0o644},
		{"implied", fs.ModeDir | 0o755},
		{"implied/deep", fs.ModeDir | 0o755},
		{"implied/deep/f", 0o644},
		{"win.txt", 0o644},
		{"link", fs.ModeSymlink | 0o777},
	} {
		fi, err := os.Lstat(filepath.Join(dir, tc.name))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode(); got != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.name, got, tc.mode)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "link")); err != nil || string(b) != "d" {
		t.Errorf("reading through link: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil || !fi.ModTime().Equal(testTime) {
		t.Errorf("bootstrap mtime = %v, %v; want %v", fi.ModTime(), err, testTime)
	}
	assertOnly(t, filepath.Dir(dir), "fn")
}

func TestExtractIntoEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := pkgzip.Extract(validPackage(t), dir, pkgzip.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
		t.Fatal(err)
	}
}

func TestExtractNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := pkgzip.Extract(validPackage(t), dir, pkgzip.Limits{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want not empty", err)
	}
	if stratus.ErrorCode(err) != stratus.EINTERNAL {
		t.Errorf("code = %s, want internal (not the user's fault)", stratus.ErrorCode(err))
	}
	assertOnly(t, filepath.Dir(dir), filepath.Base(dir))
}

func TestExtractTargetIsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pkgzip.Extract(validPackage(t), f, pkgzip.Limits{}); err == nil {
		t.Fatal("extracted over a file")
	}
}

// TestExtractFailureLeavesNothing checks that a package failing late (a
// bad checksum in its last file) leaves no partial directory behind.
func TestExtractFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	data := mustZip(t,
		zent{name: "a", body: "aaaa"},
		zent{name: "b", body: strings.Repeat("b", 200)},
	)
	err := pkgzip.Extract(data, filepath.Join(parent, "out"), pkgzip.Limits{MaxUnzippedBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	// The same package over a smaller actual budget fails at the last file.
	lying := mustZip(t,
		zent{name: "a", body: "aaaa"},
		zent{name: "b", body: strings.Repeat("b", 200), raw: true, method: 0, uncompressed: 20},
	)
	err = pkgzip.Extract(lying, filepath.Join(parent, "out2"), pkgzip.Limits{MaxUnzippedBytes: 100})
	checkErr(t, err, stratus.EINVALID, pkgzip.UnzipMessage)
	assertOnly(t, parent, "out")
}

// assertOnly fails unless dir holds exactly the named entries (no
// temporary directories left over).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
