package pkgzip_test

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// fuzzLimits keep fuzzing fast: bombs stop at 1 MB.
var fuzzLimits = pkgzip.Limits{MaxZipBytes: 1 << 20, MaxUnzippedBytes: 1 << 20, MaxFiles: 1000}

// seeds are the committed starting points of FuzzInspect and FuzzExtract.
func seeds(tb testing.TB) map[string][]byte {
	valid := validPackage(tb)
	link := func(name, target string) zent { return zent{name: name, mode: fs.ModeSymlink | 0o777, body: target} }
	return map[string][]byte{
		"valid":          valid,
		"traversal":      mustZip(tb, zent{name: "../../etc/cron.d/x", body: "x"}),
		"backslash":      mustZip(tb, zent{name: `..\..\x`, body: "x"}),
		"symlink-escape": mustZip(tb, zent{name: "sub/"}, link("sub/up", ".."), link("l", "sub/up/../x")),
		"symlink-write":  mustZip(tb, link("l", "."), zent{name: "l/x", body: "x"}),
		"truncated":      valid[:len(valid)*2/3],
		"duplicate":      mustZip(tb, zent{name: "a", body: "1"}, zent{name: "./a", body: "2"}),
		"lying-size":     mustZip(tb, zent{name: "a", body: strings.Repeat("a", 100), raw: true, uncompressed: 10}),
	}
}

// TestWriteSeeds rewrites testdata/fuzz/<Fuzz>/ with -write-seeds.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite the corpora")
	}
	for _, fuzz := range []string{"FuzzInspect", "FuzzExtract"} {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds(t) {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
			if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzInspect(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := pkgzip.Inspect(data, fuzzLimits)
		if err != nil {
			if c := stratus.ErrorCode(err); c != stratus.EINVALID && c != stratus.ETOOLARGE {
				t.Fatalf("code %q: %v", c, err)
			}
			return
		}
		if info.UnzippedBytes > fuzzLimits.MaxUnzippedBytes || info.Files > info.Entries || info.Entries > fuzzLimits.MaxFiles {
			t.Fatalf("inconsistent info %+v", info)
		}
	})
}

// FuzzExtract checks that Extract agrees with Inspect and that whatever it
// writes stays inside the target directory.
func FuzzExtract(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ierr := pkgzip.Inspect(data, fuzzLimits)
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		err := pkgzip.Extract(data, dir, fuzzLimits)
		if (err == nil) != (ierr == nil) {
			t.Fatalf("Inspect: %v; Extract: %v", ierr, err)
		}
		if err != nil {
			if _, serr := os.Lstat(dir); serr == nil {
				t.Fatal("failed Extract left the target behind")
			}
			assertOnly(t, parent)
			return
		}
		assertOnly(t, parent, "out")
		root, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling: fine as long as it names nothing outside
			}
			if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
				t.Errorf("symlink %s resolves outside the package: %s", p, real)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
