package pkgzip_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

func TestInspectValid(t *testing.T) {
	info, err := pkgzip.Inspect(validPackage(t), pkgzip.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if info.Files != 3 || info.Entries != 6 {
		t.Errorf("Files, Entries = %d, %d; want 3, 6", info.Files, info.Entries)
	}
	if want := int64(len("#!/bin/sh\necho hi\n") + len("data") + len("cli")); info.UnzippedBytes != want {
		t.Errorf("UnzippedBytes = %d, want %d", info.UnzippedBytes, want)
	}
	for _, tc := range []struct {
		name       string
		has, isExe bool
	}{
		{"bootstrap", true, true},
		{"./bootstrap", true, true},
		{"run", true, true}, // symlink to bootstrap
		{"lib/data.txt", true, false},
		{"node_modules/.bin/x", true, false},
		{"lib", false, false},
		{"missing", false, false},
		{"", false, false},
		{"../bootstrap", false, false},
	} {
		if got := info.HasFile(tc.name); got != tc.has {
			t.Errorf("HasFile(%q) = %v, want %v", tc.name, got, tc.has)
		}
		if got := info.IsExecutable(tc.name); got != tc.isExe {
			t.Errorf("IsExecutable(%q) = %v, want %v", tc.name, got, tc.isExe)
		}
	}
	var zero pkgzip.Info
	if zero.HasFile("bootstrap") {
		t.Error("zero Info has a file")
	}
}

func TestInspectAccepts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []zent
	}{
		{"empty archive", nil},
		{"backslash kept literally", []zent{{name: `dir\file`, body: "x"}}},
		{"dot slash prefix", []zent{{name: "./a", body: "x"}, {name: "./"}}},
		{"dangling link inside", []zent{{name: "l", mode: fs.ModeSymlink | 0o777, body: "nowhere/x"}}},
		{"link up and down", []zent{
			{name: "a/b/c/", mode: fs.ModeDir | 0o755},
			{name: "a/b/l", mode: fs.ModeSymlink | 0o777, body: "../../a/b/c/.."},
		}},
		{"link through link inside", []zent{
			{name: "d/e/", mode: fs.ModeDir | 0o755},
			{name: "d/up", mode: fs.ModeSymlink | 0o777, body: ".."},
			{name: "l", mode: fs.ModeSymlink | 0o777, body: "d/up/d/e"},
		}},
		{"windows creator", []zent{{name: "bootstrap", body: "x", creator: 0, fatAttrs: 0x20}}},
		{"setuid file", []zent{{name: "s", mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o755, body: "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pkgzip.Inspect(mustZip(t, tc.entries...), pkgzip.DefaultLimits()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestInspectRejects(t *testing.T) {
	valid := validPackage(t)
	link := func(name, target string) zent { return zent{name: name, mode: fs.ModeSymlink | 0o777, body: target} }
	storeCorrupt := func() []byte {
		b := mustZip(t, zent{name: "f", body: "hello world", raw: true, method: zip.Store, uncompressed: 11})
		i := bytes.Index(b, []byte("hello world"))
		b = bytes.Clone(b)
		b[i] = 'j'
		return b
	}
	big := strings.Repeat("a", 1000)
	small := pkgzip.Limits{MaxZipBytes: 1 << 20, MaxUnzippedBytes: 100, MaxFiles: 2}
	for _, tc := range []struct {
		name string
		data []byte
		lim  pkgzip.Limits
		code string
		msg  string // substring of the message
	}{
		{"not a zip", []byte("hello, this is not a zip"), pkgzip.Limits{}, stratus.EINVALID, pkgzip.UnzipMessage},
		{"empty input", nil, pkgzip.Limits{}, stratus.EINVALID, pkgzip.UnzipMessage},
		{"truncated", valid[:len(valid)-10], pkgzip.Limits{}, stratus.EINVALID, pkgzip.UnzipMessage},
		{"truncated in data", valid[:len(valid)/2], pkgzip.Limits{}, stratus.EINVALID, pkgzip.UnzipMessage},
		{"bad checksum", storeCorrupt(), pkgzip.Limits{}, stratus.EINVALID, "checksum"},
		{"absolute name", mustZip(t, zent{name: "/etc/passwd", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "absolute"},
		{"dotdot", mustZip(t, zent{name: "../x", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, ".."},
		{"inner dotdot", mustZip(t, zent{name: "a/../../x", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, ".."},
		{"trailing dotdot", mustZip(t, zent{name: "a/..", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, ".."},
		{"backslash dotdot", mustZip(t, zent{name: `..\x`, body: "x"}), pkgzip.Limits{}, stratus.EINVALID, ".."},
		{"backslash inner dotdot", mustZip(t, zent{name: `a\..\..\x`, body: "x"}), pkgzip.Limits{}, stratus.EINVALID, ".."},
		{"backslash absolute", mustZip(t, zent{name: `\x`, body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "absolute"},
		{"NUL in name", mustZip(t, zent{name: "a\x00b", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "NUL"},
		{"long component", mustZip(t, zent{name: strings.Repeat("n", 256), body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "longer"},
		{"duplicate", mustZip(t, zent{name: "a", body: "1"}, zent{name: "a", body: "2"}), pkgzip.Limits{}, stratus.EINVALID, "duplicate"},
		{"duplicate after cleaning", mustZip(t, zent{name: "a", body: "1"}, zent{name: "./a", body: "2"}), pkgzip.Limits{}, stratus.EINVALID, "duplicate"},
		{"duplicate dir", mustZip(t, zent{name: "d/"}, zent{name: "d//"}), pkgzip.Limits{}, stratus.EINVALID, "duplicate"},
		{"root as file", mustZip(t, zent{name: ".", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "root"},
		{"char device", mustZip(t, zent{name: "tty", mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}), pkgzip.Limits{}, stratus.EINVALID, "special"},
		{"block device", mustZip(t, zent{name: "sda", mode: fs.ModeDevice | 0o666}), pkgzip.Limits{}, stratus.EINVALID, "special"},
		{"fifo", mustZip(t, zent{name: "p", mode: fs.ModeNamedPipe | 0o666}), pkgzip.Limits{}, stratus.EINVALID, "special"},
		{"socket", mustZip(t, zent{name: "s", mode: fs.ModeSocket | 0o666}), pkgzip.Limits{}, stratus.EINVALID, "special"},
		{"symlink absolute", mustZip(t, link("l", "/etc/passwd")), pkgzip.Limits{}, stratus.EINVALID, "absolute"},
		{"symlink backslash absolute", mustZip(t, link("l", `\etc`)), pkgzip.Limits{}, stratus.EINVALID, "absolute"},
		{"symlink escape", mustZip(t, link("l", "../x")), pkgzip.Limits{}, stratus.EINVALID, "escapes"},
		{"symlink escape from subdir", mustZip(t, link("a/b/l", "../../../x")), pkgzip.Limits{}, stratus.EINVALID, "escapes"},
		{"symlink backslash escape", mustZip(t, link("l", `..\..\x`)), pkgzip.Limits{}, stratus.EINVALID, "escapes"},
		{"symlink escape via link", mustZip(t,
			zent{name: "sub/"}, link("sub/up", ".."), link("l", "sub/up/../x")), pkgzip.Limits{}, stratus.EINVALID, "escapes"},
		{"symlink escape via link to dot", mustZip(t,
			link("a", "."), link("a/..x", "x"), link("l", "a/../x")), pkgzip.Limits{}, stratus.EINVALID, ""},
		{"symlink loop", mustZip(t, link("a", "b"), link("b", "a")), pkgzip.Limits{}, stratus.EINVALID, "levels"},
		{"symlink self loop", mustZip(t, link("a", "a/x")), pkgzip.Limits{}, stratus.EINVALID, "levels"},
		{"symlink empty target", mustZip(t, link("l", "")), pkgzip.Limits{}, stratus.EINVALID, "empty"},
		{"symlink NUL target", mustZip(t, link("l", "a\x00")), pkgzip.Limits{}, stratus.EINVALID, "NUL"},
		{"symlink long target", mustZip(t, link("l", strings.Repeat("a/", 2049))), pkgzip.Limits{}, stratus.EINVALID, "longer"},
		{"entry below symlink", mustZip(t, zent{name: "sub/"}, link("l", "sub"), zent{name: "l/x", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "below symlink"},
		{"entry below file", mustZip(t, zent{name: "f", body: "x"}, zent{name: "f/x", body: "x"}), pkgzip.Limits{}, stratus.EINVALID, "below file"},
		{"encrypted", mustZip(t, zent{name: "f", body: "x", raw: true, method: zip.Store, flags: 1, uncompressed: 1}), pkgzip.Limits{}, stratus.EINVALID, "encrypted"},
		{"unknown method", mustZip(t, zent{name: "f", body: "x", raw: true, method: 99, uncompressed: 1}), pkgzip.Limits{}, stratus.EINVALID, "algorithm"},
		{"too many entries", mustZip(t, zent{name: "a"}, zent{name: "b"}, zent{name: "c"}), small, stratus.EINVALID, "3 entries"},
		{"declared size over limit", mustZip(t, zent{name: "a", body: big}), small, stratus.EINVALID, "Unzipped size must be smaller than 100 bytes"},
		{"declared total over limit", mustZip(t, zent{name: "a", body: big[:60]}, zent{name: "b", body: big[:60]}), small, stratus.EINVALID, "Unzipped size must be smaller than 100 bytes"},
		{"actual size over declared", mustZip(t, zent{name: "a", body: big, raw: true, method: zip.Store, uncompressed: 10}), small, stratus.EINVALID, pkgzip.UnzipMessage},
		{"default unzipped limit", mustZip(t, zent{name: "a", body: "x", raw: true, method: zip.Store, uncompressed: 262144001}), pkgzip.Limits{}, stratus.EINVALID, "Unzipped size must be smaller than 262144000 bytes"},
		{"zip too large", valid, pkgzip.Limits{MaxZipBytes: 100}, stratus.ETOOLARGE, "Zipped size must be smaller than 100 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pkgzip.Inspect(tc.data, tc.lim)
			checkErr(t, err, tc.code, tc.msg)
			err = pkgzip.Extract(tc.data, t.TempDir()+"/out", tc.lim)
			checkErr(t, err, tc.code, tc.msg)
		})
	}
}

func checkErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	if got := stratus.ErrorCode(err); got != code {
		t.Fatalf("code = %q, want %q (%v)", got, code, err)
	}
	if got := stratus.ErrorMessage(err); !strings.Contains(got, msg) {
		t.Fatalf("message = %q, want it to contain %q", got, msg)
	}
}
