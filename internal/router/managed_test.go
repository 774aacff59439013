package router

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stratus-dev/stratus"
)

func TestLaunchOf(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RuntimeDir = "/srv/runtime"
	r := &Router{cfg: cfg}
	for _, tc := range []struct {
		runtime    string
		memory     int
		env        map[string]string // the function's variables
		args       []string
		runtimeEnv map[string]string
		runtimeDir string
	}{
		{runtime: "provided.al2023", args: []string{"/var/task/bootstrap"}},
		{runtime: "provided.al2", args: []string{"/var/task/bootstrap"}},
		{
			runtime:    "python3.12",
			args:       []string{"/usr/bin/python3", "-S", "-B", "-u", "/var/runtime/python/bootstrap.py"},
			runtimeEnv: map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "PYTHONPATH": "/var/runtime"},
			runtimeDir: "/srv/runtime",
		},
		{
			runtime:    "python3.9",
			env:        map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper"},
			args:       []string{"/opt/wrapper", "/usr/bin/python3", "-S", "-B", "-u", "/var/runtime/python/bootstrap.py"},
			runtimeEnv: map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_python3.9", "PYTHONPATH": "/var/runtime"},
			runtimeDir: "/srv/runtime",
		},
		{
			runtime: "nodejs20.x",
			memory:  128,
			args: []string{"/usr/bin/node", "--expose-gc", "--max-http-header-size=81920",
				"--max-semi-space-size=6", "--max-old-space-size=97", "/var/runtime/node/bootstrap.cjs"},
			runtimeEnv: map[string]string{
				"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
				"NODE_PATH":         "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
			},
			runtimeDir: "/srv/runtime",
		},
		{
			runtime: "nodejs18.x",
			memory:  1024,
			args: []string{"/usr/bin/node", "--expose-gc", "--max-http-header-size=81920",
				"--max-semi-space-size=51", "--max-old-space-size=768", "/var/runtime/node/bootstrap.cjs"},
			runtimeEnv: map[string]string{
				"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs18.x",
				"NODE_PATH":         "/opt/nodejs/node18/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
			},
			runtimeDir: "/srv/runtime",
		},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			fn := &stratus.Function{Name: "f", Version: "$LATEST", Runtime: tc.runtime, MemorySize: tc.memory, Environment: tc.env}
			l := r.launchOf(fn)
			if !slices.Equal(l.args, tc.args) {
				t.Errorf("args = %q, want %q", l.args, tc.args)
			}
			if len(l.env) != len(tc.runtimeEnv) {
				t.Errorf("env = %v, want %v", l.env, tc.runtimeEnv)
			}
			for k, v := range tc.runtimeEnv {
				if l.env[k] != v {
					t.Errorf("%s = %q, want %q", k, l.env[k], v)
				}
			}
			if l.runtimeDir != tc.runtimeDir {
				t.Errorf("runtime dir = %q, want %q", l.runtimeDir, tc.runtimeDir)
			}
		})
	}
}

func TestEnvironOfManagedRuntime(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RuntimeDir = "/srv/runtime"
	r := &Router{cfg: cfg}
	fn := &stratus.Function{Name: "f", Version: "$LATEST", Runtime: "nodejs22.x", Handler: "index.handler", MemorySize: 256,
		Environment: map[string]string{"NODE_PATH": "/mine", "X": "1"}}
	spec := r.sandboxSpec(fn, "/code", "id", "stream")
	env := map[string]string{}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range map[string]string{
		"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x",
		"NODE_PATH":         "/mine", // customer variables win over the runtime's
		"X":                 "1",
		"_HANDLER":          "index.handler",
	} {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if spec.RuntimeDir != "/srv/runtime" || spec.CPUMillis != 1000 {
		t.Errorf("RuntimeDir %q, CPUMillis %d", spec.RuntimeDir, spec.CPUMillis)
	}

	fn.Runtime = "provided.al2023"
	spec = r.sandboxSpec(fn, "/code", "id", "stream")
	if spec.RuntimeDir != "" || slices.ContainsFunc(spec.Env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_EXECUTION_ENV=") }) {
		t.Errorf("provided runtime: RuntimeDir %q, env %q; want no /var/runtime and no AWS_EXECUTION_ENV", spec.RuntimeDir, spec.Env)
	}
}

// TestBootstrapPaths checks that the entry points the router runs are the
// files package runtimes ships.
func TestBootstrapPaths(t *testing.T) {
	for _, p := range []string{pythonBootstrap, nodeBootstrap} {
		rel := strings.TrimPrefix(p, "/var/runtime/")
		if _, err := os.Stat(filepath.Join("..", "..", "runtimes", rel)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestInstallRuntimes(t *testing.T) {
	fsys := fstest.MapFS{
		"python/bootstrap.py": {Data: []byte("print(1)\n")},
		"node/bootstrap.cjs":  {Data: []byte("1;\n")},
	}
	dir := filepath.Join(t.TempDir(), "runtime")
	for range 2 { // idempotent
		if err := installRuntimes(fsys, dir); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]os.FileMode{".": 0o755, "python": 0o755, "node": 0o755, "python/bootstrap.py": 0o644, "node/bootstrap.cjs": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	fsys["python/bootstrap.py"] = &fstest.MapFile{Data: []byte("print(2)\n")}
	if err := installRuntimes(fsys, dir); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "python/bootstrap.py")); string(data) != "print(2)\n" {
		t.Errorf("file not updated: %q", data)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "python")); len(ents) != 1 {
		t.Errorf("leftovers: %v", ents)
	}
}

func TestHostVersions(t *testing.T) {
	cfg := DefaultConfig()
	for _, p := range []string{cfg.PythonPath, cfg.NodePath} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it): %v", p, err)
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "python", "_stratus_runtime.py"), []byte("X = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Router{cfg: cfg, versions: newHostVersions(cfg.PythonPath, cfg.NodePath, dir)}
	semver := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for _, rt := range []string{"python3.9", "python3.13", "nodejs18.x", "nodejs22.x"} {
		if v := r.RuntimeVersion(rt); !semver.MatchString(v) {
			t.Errorf("RuntimeVersion(%s) = %q", rt, v)
		}
	}
	if v := r.RuntimeVersion("provided.al2023"); v != "" {
		t.Errorf("RuntimeVersion(provided.al2023) = %q", v)
	}
	pycs, _ := filepath.Glob(filepath.Join(dir, "python", "__pycache__", "_stratus_runtime.*.pyc"))
	if len(pycs) != 1 {
		t.Errorf("the Python client was not compiled: %v", pycs)
	}
}
