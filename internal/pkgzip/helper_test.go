package pkgzip_test

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io/fs"
	"testing"
	"time"
)

// zent describes one entry of a test archive.
type zent struct {
	name string
	mode fs.FileMode // 0 means 0644 regular file (0755 dir for names ending in /)
	body string      // file content or symlink target

	// raw writes body verbatim with the header fields below (no
	// compression), so tests can lie about sizes or set odd flags.
	raw          bool
	method       uint16
	flags        uint16
	uncompressed uint64
	creator      uint16 // CreatorVersion>>8 to force, e.g. 0 (FAT)
	fatAttrs     uint32
}

var testTime = time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)

// mustZip builds an archive from entries.
func mustZip(tb testing.TB, entries ...zent) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: testTime}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if len(e.name) > 0 && e.name[len(e.name)-1] == '/' {
				mode = fs.ModeDir | 0o755
			}
		}
		fh.SetMode(mode)
		if e.creator != 0 || e.fatAttrs != 0 {
			fh.CreatorVersion = e.creator<<8 | 20
			fh.ExternalAttrs = e.fatAttrs
		}
		if e.raw {
			fh.Method = e.method
			fh.Flags = e.flags
			fh.CRC32 = crc32.ChecksumIEEE([]byte(e.body))
			fh.CompressedSize64 = uint64(len(e.body))
			fh.UncompressedSize64 = e.uncompressed
			w, err := zw.CreateRaw(fh)
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := w.Write([]byte(e.body)); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// validPackage is a typical custom-runtime package.
func validPackage(tb testing.TB) []byte {
	tb.Helper()
	return mustZip(tb,
		zent{name: "bootstrap", mode: 0o755, body: "#!/bin/sh\necho hi\n"},
		zent{name: "lib/", mode: fs.ModeDir | 0o755},
		zent{name: "lib/data.txt", body: "data"},
		zent{name: "node_modules/x/cli.js", body: "cli"},
		zent{name: "node_modules/.bin/x", mode: fs.ModeSymlink | 0o777, body: "../x/cli.js"},
		zent{name: "run", mode: fs.ModeSymlink | 0o777, body: "bootstrap"},
	)
}
