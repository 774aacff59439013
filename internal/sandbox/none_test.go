package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNoneHello(t *testing.T) {
	d := NewNone(NoneConfig{})
	if d.Name() != "none" {
		t.Fatalf("Name = %q", d.Name())
	}
	p := MustStartProbe(t, d, Spec{}, "hello")
	p.rec.waitHit(t, "/hello")
	if exit := p.waitExit(t); exit != (Exit{}) {
		t.Fatalf("exit %+v; stderr %q", exit, p.errOut)
	}
	if got, want := p.value("api"), p.h.Listener().Addr().String(); got != want || !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want %q", got, want)
	}
	if got := p.value("body"); got != "hi" {
		t.Errorf("body = %q", got)
	}
	if p.h.MaxMemoryBytes() <= 0 {
		t.Errorf("MaxMemoryBytes = %d after exit", p.h.MaxMemoryBytes())
	}
}

func TestNonePaths(t *testing.T) {
	d := NewNone(NoneConfig{})
	code := MustCodeDir(t)
	opt := t.TempDir()
	p := MustStartProbe(t, d, Spec{
		CodeDir: code,
		OptDir:  opt,
		Env:     []string{"PATH=/var/task/bin:/opt/bin:/usr/bin", "LAMBDA_TASK_ROOT=/var/task", "AWS_LAMBDA_RUNTIME_API=bogus"},
	}, "env")
	if exit := p.waitExit(t); exit != (Exit{}) {
		t.Fatalf("exit %+v; stderr %q", exit, p.errOut)
	}
	if got := p.value("cwd"); got != code {
		t.Errorf("cwd = %q, want %q", got, code)
	}
	env := map[string]string{}
	for _, line := range strings.Split(p.out.String(), "\n") {
		if kv, ok := strings.CutPrefix(line, "env "); ok {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := env[k]; dup {
				t.Errorf("%s set twice", k)
			}
			env[k] = v
		}
	}
	want := map[string]string{
		"LAMBDA_TASK_ROOT":       code,
		"PATH":                   filepath.Join(code, "bin") + ":" + filepath.Join(opt, "bin") + ":/usr/bin",
		"AWS_LAMBDA_RUNTIME_API": p.h.Listener().Addr().String(),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestNoneExitAndSignals(t *testing.T) {
	d := NewNone(NoneConfig{})
	p := MustStartProbe(t, d, Spec{}, "exit", "5")
	if exit := p.waitExit(t); exit != (Exit{Code: 5}) {
		t.Fatalf("exit %+v", exit)
	}

	p = MustStartProbe(t, d, Spec{}, "sleep")
	p.rec.waitHit(t, "/ready")
	if p.h.MaxMemoryBytes() <= 0 {
		t.Errorf("MaxMemoryBytes = %d while running", p.h.MaxMemoryBytes())
	}
	for _, f := range []func() error{p.h.Freeze, p.h.Thaw, func() error { return p.h.SetCPU(100) }} {
		if err := f(); err != nil {
			t.Errorf("no-op failed: %v", err)
		}
	}
	if err := p.h.Kill(); err != nil {
		t.Fatal(err)
	}
	if exit := p.waitExit(t); exit != (Exit{Code: -1, Signal: "killed"}) {
		t.Fatalf("exit %+v", exit)
	}

	p = MustStartProbe(t, d, Spec{}, "term")
	p.rec.waitHit(t, "/ready")
	if err := p.h.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if exit := p.waitExit(t); exit != (Exit{Code: 7}) {
		t.Fatalf("exit %+v", exit)
	}
}

func TestNoneExecFailure(t *testing.T) {
	d := NewNone(NoneConfig{})
	_, err := d.Start(context.Background(), Spec{ID: testID(t), CodeDir: MustCodeDir(t), Args: []string{"/var/task/missing"}})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Start = %v, want not exist", err)
	}
}

func TestNoneDestroy(t *testing.T) {
	d := NewNone(NoneConfig{})
	p := MustStartProbe(t, d, Spec{}, "sleep")
	p.rec.waitHit(t, "/ready")
	if err := p.h.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exit := p.h.Exit(); exit.Signal != "killed" {
		t.Fatalf("exit %+v", exit)
	}
	if _, err := p.h.Listener().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener still open: %v", err)
	}
	if err := p.h.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}
