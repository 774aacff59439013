package router

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratus-dev/stratus"
)

// Managed runtimes (python3.x, nodejs*.x) run the host's interpreter on
// Stratus's own Runtime API client, which Config.Runtimes holds and New
// writes to Config.RuntimeDir; every environment of a managed runtime
// shows that directory read-only at /var/runtime. The configured Runtime
// picks the client, AWS_EXECUTION_ENV and the layer directories searched
// (/opt/python/lib/python3.12/site-packages for python3.12,
// /opt/nodejs/node20/node_modules for nodejs20.x); the interpreter is
// always the host's one, whose version RuntimeVersion reports.

// Entry points of the clients below /var/runtime (package runtimes).
const (
	pythonBootstrap = "/var/runtime/python/bootstrap.py"
	nodeBootstrap   = "/var/runtime/node/bootstrap.cjs"
)

// runtimeFamily is the kind of runtime a Runtime value names.
type runtimeFamily int

const (
	familyProvided runtimeFamily = iota // a bootstrap executable in the package
	familyPython
	familyNode
)

func (f runtimeFamily) String() string {
	switch f {
	case familyPython:
		return "python"
	case familyNode:
		return "nodejs"
	}
	return "provided"
}

// familyOf classifies runtime; version is what follows the family name
// ("3.12" for python3.12, "20" for nodejs20.x).
func familyOf(runtime string) (f runtimeFamily, version string) {
	if v, ok := strings.CutPrefix(runtime, "python"); ok {
		return familyPython, v
	}
	if v, ok := strings.CutPrefix(runtime, "nodejs"); ok {
		return familyNode, strings.TrimSuffix(v, ".x")
	}
	return familyProvided, ""
}

// launch is how a runtime starts: its command line, the environment
// variables it adds (customer variables may override the non-reserved
// ones) and the host directory shown at /var/runtime.
type launch struct {
	args       []string
	env        map[string]string
	runtimeDir string
}

// launchOf returns how fn's runtime starts.
func (r *Router) launchOf(fn *stratus.Function) launch {
	family, v := familyOf(fn.Runtime)
	var l launch
	switch family {
	case familyPython:
		// -S: no site module (nor the host's site-packages), -B: the code
		// is read-only, -u: output as it is written, as AWS's runtime does.
		l.args = []string{r.cfg.PythonPath, "-S", "-B", "-u", pythonBootstrap}
		l.env = map[string]string{
			"AWS_EXECUTION_ENV": "AWS_Lambda_" + fn.Runtime,
			"PYTHONPATH":        "/var/runtime",
		}
	case familyNode:
		l.args = append([]string{r.cfg.NodePath}, nodeHeapFlags(fn.MemorySize)...)
		l.args = append(l.args, nodeBootstrap)
		l.env = map[string]string{
			"AWS_EXECUTION_ENV": "AWS_Lambda_" + fn.Runtime,
			"NODE_PATH":         "/opt/nodejs/node" + v + "/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
		}
	default:
		l.args = []string{"/var/task/bootstrap"}
		return l
	}
	l.runtimeDir = r.cfg.RuntimeDir
	// A wrapper script (usually from a layer) runs the runtime's command.
	if w := fn.Environment["AWS_LAMBDA_EXEC_WRAPPER"]; w != "" {
		l.args = append([]string{w}, l.args...)
	}
	return l
}

// nodeHeapFlags sizes V8's heap to the function's memory as AWS's Node.js
// runtime does, so that the garbage collector works before the memory
// limit is reached: 5 % for each semi-space (of which V8 keeps three) and
// 90 % of the memory, minus those, for the old generation.
func nodeHeapFlags(memoryMB int) []string {
	semi := memoryMB * 5 / 100
	if semi < 1 {
		semi = 1
	}
	old := memoryMB*90/100 - 3*semi
	return []string{
		"--expose-gc",
		"--max-http-header-size=81920",
		"--max-semi-space-size=" + strconv.Itoa(semi),
		"--max-old-space-size=" + strconv.Itoa(old),
	}
}

// installRuntimes writes fsys to dir, readable by the sandboxes'
// unprivileged uids, leaving files that already hold the same bytes
// untouched. It does not remove anything: several servers may share dir.
func installRuntimes(fsys fs.FS, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating runtime directory: %w", err)
	}
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", dst, err)
			}
			return os.Chmod(dst, 0o755) // whatever the umask
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			return nil
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), "."+path.Base(p)+".*")
		if err != nil {
			return fmt.Errorf("writing %s: %w", dst, err)
		}
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("writing %s: %w", dst, err)
		}
		return nil
	})
}

// hostVersions detects, once, the versions of the host's interpreters.
// Detecting Python also compiles the Python client, so that every cold
// start loads its bytecode instead of compiling it.
type hostVersions struct {
	python, node, runtimeDir string

	once   sync.Once
	done   chan struct{}
	byName map[runtimeFamily]string // written before done is closed
}

func newHostVersions(python, node, runtimeDir string) *hostVersions {
	return &hostVersions{python: python, node: node, runtimeDir: runtimeDir, done: make(chan struct{}), byName: map[runtimeFamily]string{}}
}

// detect runs the interpreters; it returns when both have answered or
// failed.
func (h *hostVersions) detect() {
	h.once.Do(func() {
		defer close(h.done)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var py, node string
		wg.Go(func() {
			const script = `import sys
if len(sys.argv) > 1:
    import py_compile
    py_compile.compile(sys.argv[1], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
print("%d.%d.%d" % sys.version_info[:3])
`
			args := []string{"-S", "-c", script}
			if h.runtimeDir != "" {
				args = append(args, filepath.Join(h.runtimeDir, "python", "_stratus_runtime.py"))
			}
			py = runVersion(ctx, h.python, args...)
			if py == "" && h.runtimeDir != "" { // an interpreter without py_compile's options
				py = runVersion(ctx, h.python, "-S", "-c", script)
			}
			if h.runtimeDir != "" {
				makeReadable(filepath.Join(h.runtimeDir, "python"))
			}
		})
		wg.Go(func() { node = strings.TrimPrefix(runVersion(ctx, h.node, "--version"), "v") })
		wg.Wait()
		h.byName[familyPython] = py
		h.byName[familyNode] = node
	})
}

// version returns the interpreter version of family ("" if unknown).
func (h *hostVersions) version(f runtimeFamily) string {
	h.detect()
	<-h.done
	return h.byName[f]
}

// runVersion runs a version query and returns its output's last word, ""
// on failure.
func runVersion(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// makeReadable opens dir's tree to the sandboxes' uids (a compiler run
// under a strict umask creates private files).
func makeReadable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			_ = os.Chmod(p, 0o755)
		} else {
			_ = os.Chmod(p, 0o644)
		}
		return nil
	})
}

// RuntimeVersion reports the version of the host interpreter that runs
// functions of runtime: "3.11.2" for every python3.x on a host whose
// python3 is 3.11.2, "20.20.2" for every nodejs*.x on node v20.20.2, and
// "" for runtimes without an interpreter (provided.*) or when the
// interpreter could not be run. It waits for the detection New started.
func (r *Router) RuntimeVersion(runtime string) string {
	f, _ := familyOf(runtime)
	if f == familyProvided {
		return ""
	}
	return r.versions.version(f)
}
