//go:build linux

package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mustRuntimeDir returns a world-readable directory holding the probe as
// bin/probe and a file lib/x.txt, to be shown at /var/runtime.
func mustRuntimeDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(probePath)
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"bin/probe", data, 0o755}, {"lib/x.txt", []byte("x"), 0o644}} {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestLinuxRuntimeDir(t *testing.T) {
	d := MustLinux(t)
	rt := mustRuntimeDir(t)
	// World-writable, so that only the read-only mount stops writes.
	if err := os.Chmod(rt, 0o777); err != nil {
		t.Fatal(err)
	}
	p := MustStartProbe(t, d, Spec{RuntimeDir: rt}, "read", "/var/runtime/lib/x.txt", "/var/runtime/bin")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	for _, path := range []string{"/var/runtime/lib/x.txt", "/var/runtime/bin"} {
		if got := p.value("read " + path); got != "ok" {
			t.Errorf("read %s: %q, want ok", path, got)
		}
	}
	p = MustStartProbe(t, d, Spec{RuntimeDir: rt}, "write", "/var/runtime", "/var/runtime/lib")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	for _, path := range []string{"/var/runtime", "/var/runtime/lib"} {
		if got := p.value("write " + path); got != "read-only file system" {
			t.Errorf("write %s: %q, want read-only file system", path, got)
		}
	}

	// The runtime directory can hold the entry point.
	spec := Spec{ID: testID(t), CodeDir: MustCodeDir(t), RuntimeDir: rt, Args: []string{"/var/runtime/bin/probe", "exit", "3"}}
	h, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Destroy() })
	<-h.Done()
	if exit := h.Exit(); exit != (Exit{Code: 3}) {
		t.Errorf("exit of /var/runtime/bin/probe = %+v, want exit status 3", exit)
	}

	// Without it, /var/runtime is empty.
	p = MustStartProbe(t, d, Spec{}, "read", "/var/runtime/lib")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	if got := p.value("read /var/runtime/lib"); got != "no such file or directory" {
		t.Errorf("read /var/runtime/lib without a RuntimeDir: %q", got)
	}
}

func TestLinuxRuntimeDirChecks(t *testing.T) {
	d := MustLinux(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	code := MustCodeDir(t)
	for _, rt := range []string{private, "relative/dir"} {
		_, err := d.Start(context.Background(), Spec{ID: testID(t), CodeDir: code, RuntimeDir: rt, Args: []string{"/var/task/probe", "exit", "0"}})
		if err == nil || !strings.Contains(err.Error(), "RuntimeDir") && !strings.Contains(err.Error(), "o+rx") {
			t.Errorf("Start with RuntimeDir %q = %v, want a rejection", rt, err)
		}
	}
}

func TestNoneRuntimeDir(t *testing.T) {
	d := NewNone(NoneConfig{})
	rt := mustRuntimeDir(t)
	spec := Spec{
		ID:         testID(t),
		CodeDir:    MustCodeDir(t),
		RuntimeDir: rt,
		Args:       []string{"/var/runtime/bin/probe", "env"},
		Env:        []string{"NODE_PATH=/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime", "LAMBDA_RUNTIME_DIR=/var/runtime"},
		Stdout:     &syncBuffer{},
	}
	out := spec.Stdout.(*syncBuffer)
	h, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start of /var/runtime/bin/probe: %v", err)
	}
	t.Cleanup(func() { _ = h.Destroy() })
	<-h.Done()
	if exit := h.Exit(); exit != (Exit{}) {
		t.Fatalf("exit %+v", exit)
	}
	want := map[string]string{
		// No OptDir: /opt stays as it is.
		"NODE_PATH":          "/opt/nodejs/node_modules:" + filepath.Join(rt, "node_modules") + ":" + rt,
		"LAMBDA_RUNTIME_DIR": rt,
	}
	for _, line := range strings.Split(out.String(), "\n") {
		kv, ok := strings.CutPrefix(line, "env ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if w, ok := want[k]; ok {
			if v != w {
				t.Errorf("%s = %q, want %q", k, v, w)
			}
			delete(want, k)
		}
	}
	for k := range want {
		t.Errorf("%s not set", k)
	}
}
