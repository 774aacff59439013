package runtimes_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus/runtimes"
)

func TestFS(t *testing.T) {
	var files []string
	err := fs.WalkDir(runtimes.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"node/bootstrap.cjs", "python/_stratus_runtime.py", "python/bootstrap.py"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v (tests are not shipped)", files, want)
	}
	for _, p := range []string{runtimes.PythonBootstrap, runtimes.NodeBootstrap} {
		data, err := fs.ReadFile(runtimes.FS(), p)
		if err != nil || len(data) == 0 {
			t.Errorf("entry point %s: %v", p, err)
		}
	}
	// Standard library only.
	py, _ := fs.ReadFile(runtimes.FS(), "python/_stratus_runtime.py")
	for _, line := range strings.Split(string(py), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "import ") || strings.HasPrefix(l, "from ") {
			mod := strings.Fields(l)[1]
			if !slices.Contains([]string{"os", "sys", "time", "builtins", "_socket", "_json", "json", "traceback", "site", "importlib.machinery"}, strings.TrimSuffix(mod, ",")) {
				t.Errorf("python client imports %q", l)
			}
		}
	}
	js, _ := fs.ReadFile(runtimes.FS(), runtimes.NodeBootstrap)
	for _, line := range strings.Split(string(js), "\n") {
		if i := strings.Index(line, "require('"); i >= 0 {
			mod := line[i+len("require('"):]
			mod = mod[:strings.IndexByte(mod, '\'')]
			if !slices.Contains([]string{"net", "fs", "path", "util", "module", "stream"}, mod) {
				t.Errorf("node client requires %q", mod)
			}
		}
	}
}
