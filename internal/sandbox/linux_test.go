//go:build linux

package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var uidBaseSeq atomic.Int64

// MustLinux returns a linux driver with its own run directory and uid
// range. Linux tests are slow and need root; they are skipped only with
// -short.
func MustLinux(tb testing.TB) *Linux {
	tb.Helper()
	if testing.Short() {
		tb.Skip("linux sandbox tests need root and cgroups; skipped with -short")
	}
	cfg := DefaultLinuxConfig()
	cfg.RunDir = filepath.Join(tb.TempDir(), "run")
	cfg.CgroupName = "stratus-test"
	cfg.UIDBase = 30000 + int(uidBaseSeq.Add(1))*100
	d, err := NewLinux(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

func TestCheckLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root; skipped with -short")
	}
	if err := CheckLinux(); err != nil {
		t.Fatal(err)
	}
}

func TestLinuxConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*LinuxConfig)
		want string // substring of the error, "" for none
	}{
		{"default", func(*LinuxConfig) {}, ""},
		{"relative run dir", func(c *LinuxConfig) { c.RunDir = "run" }, "run_dir"},
		{"bad cgroup name", func(c *LinuxConfig) { c.CgroupName = "a/b" }, "cgroup_name"},
		{"low uid", func(c *LinuxConfig) { c.UIDBase = 0 }, "uid_base"},
		{"no pids", func(c *LinuxConfig) { c.DefaultPidsMax = 0 }, "default_pids_max"},
		{"bind root", func(c *LinuxConfig) { c.HostBinds = []string{"/"} }, "host root"},
		{"bind var", func(c *LinuxConfig) { c.HostBinds = []string{"/var"} }, "overlaps"},
		{"bind tmp child", func(c *LinuxConfig) { c.HostBinds = []string{"/tmp/x"} }, "overlaps"},
		{"bind relative", func(c *LinuxConfig) { c.HostBinds = []string{"usr"} }, "clean absolute"},
		{"bind var lib", func(c *LinuxConfig) { c.HostBinds = []string{"/var/lib"} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultLinuxConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	c := LinuxConfig{}
	if err := c.Validate(); err == nil || strings.Count(err.Error(), "\n") < 3 {
		t.Fatalf("zero config: want every problem reported, got %v", err)
	}
}

func TestLinuxHello(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{MemoryMB: 128}, "hello")
	uri := p.rec.waitHit(t, "/hello")
	exit := p.waitExit(t)
	if exit != (Exit{Code: 0}) {
		t.Fatalf("exit %+v, stderr %q", exit, p.errOut)
	}
	if got := p.value("api"); got != "127.0.0.1:9001" {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want 127.0.0.1:9001", got)
	}
	if got := p.value("body"); got != "hi" {
		t.Errorf("body = %q, want hi", got)
	}
	u, _ := url.Parse(uri)
	q := u.Query()
	if q.Get("pid") != "1" {
		t.Errorf("pid inside = %s, want 1", q.Get("pid"))
	}
	if uid, _ := strconv.Atoi(q.Get("uid")); uid < d.cfg.UIDBase {
		t.Errorf("uid inside = %s, want >= %d", q.Get("uid"), d.cfg.UIDBase)
	}
	if q.Get("host") != "localhost" {
		t.Errorf("hostname = %q", q.Get("host"))
	}
	if p.h.Pid() <= 1 {
		t.Errorf("host pid %d", p.h.Pid())
	}
}

func TestLinuxExitCode(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "exit", "3")
	exit := p.waitExit(t)
	if exit != (Exit{Code: 3}) || exit.String() != "exit status 3" {
		t.Fatalf("exit %+v (%s)", exit, exit)
	}
}

func TestLinuxKill(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "sleep")
	p.rec.waitHit(t, "/ready")
	if err := p.h.Kill(); err != nil {
		t.Fatal(err)
	}
	exit := p.waitExit(t)
	if exit != (Exit{Code: -1, Signal: "killed"}) || exit.String() != "signal: killed" {
		t.Fatalf("exit %+v (%s)", exit, exit)
	}
	if err := p.h.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}

func TestLinuxStop(t *testing.T) {
	d := MustLinux(t)
	t.Run("handler", func(t *testing.T) {
		p := MustStartProbe(t, d, Spec{}, "term")
		p.rec.waitHit(t, "/ready")
		if err := p.h.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if exit := p.waitExit(t); exit != (Exit{Code: 7}) {
			t.Fatalf("exit %+v", exit)
		}
	})
	t.Run("go runtime", func(t *testing.T) {
		// Go's runtime handles SIGTERM itself and, as pid 1, exits 2.
		p := MustStartProbe(t, d, Spec{}, "sleep")
		p.rec.waitHit(t, "/ready")
		if err := p.h.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if exit := p.waitExit(t); exit != (Exit{Code: 2}) {
			t.Fatalf("exit %+v", exit)
		}
	})
	t.Run("no handler", func(t *testing.T) {
		// pid 1 of a namespace does not see SIGTERM without a handler.
		h, err := d.Start(context.Background(), Spec{ID: testID(t), CodeDir: MustCodeDir(t), Args: []string{"/usr/bin/sleep", "100"}})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Destroy()
		start := time.Now()
		if err := h.Stop(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if exit := h.Exit(); exit.Signal != "killed" {
			t.Fatalf("exit %+v", exit)
		}
		if el := time.Since(start); el < 100*time.Millisecond {
			t.Fatalf("killed after %v, before the grace period", el)
		}
	})
}

func TestLinuxExecFailure(t *testing.T) {
	d := MustLinux(t)
	code := MustCodeDir(t)
	spec := Spec{ID: testID(t), CodeDir: code, Args: []string{"/var/task/missing"}}
	_, err := d.Start(context.Background(), spec)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "exec /var/task/missing") {
		t.Fatalf("Start = %v, want a not-exist exec error", err)
	}
	// Nothing is left behind and the ID can be used again.
	if _, err := os.Stat(d.stagingDir(spec.ID)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging directory left: %v", err)
	}
	for _, p := range d.parents {
		if p == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p, spec.ID)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup left: %v", err)
		}
	}
	if n := len(d.live); n != 0 {
		t.Errorf("%d slots still reserved", n)
	}
	spec.Args = []string{"/var/task/probe", "exit", "0"}
	h, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}

	// Bad specs fail before anything starts.
	if _, err := d.Start(context.Background(), Spec{ID: "Bad/ID", CodeDir: code, Args: []string{"/x"}}); err == nil {
		t.Error("bad ID accepted")
	}
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Start(context.Background(), Spec{ID: testID(t), CodeDir: private, Args: []string{"/x"}}); err == nil || !strings.Contains(err.Error(), "o+rx") {
		t.Errorf("private code dir: %v", err)
	}
}

func TestLinuxDuplicateID(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "sleep")
	_, err := d.Start(context.Background(), Spec{ID: idOf(p), CodeDir: MustCodeDir(t), Args: []string{"/var/task/probe", "sleep"}})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("duplicate Start = %v", err)
	}
}

func idOf(p *probe) string { return p.h.(*linuxHandle).id }

func TestLinuxFilesystem(t *testing.T) {
	d := MustLinux(t)
	code := MustCodeDir(t)
	// World-writable, so that only the read-only mount stops writes.
	if err := os.Chmod(code, 0o777); err != nil {
		t.Fatal(err)
	}
	other := MustCodeDir(t)
	p := MustStartProbe(t, d, Spec{CodeDir: code},
		"write", "/", "/etc", "/var/task", "/opt", "/var/runtime", "/dev", "/usr/bin", "/tmp")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	for _, path := range []string{"/", "/etc", "/var/task", "/opt", "/var/runtime", "/dev", "/usr/bin"} {
		if got := p.value("write " + path); got != "read-only file system" {
			t.Errorf("write %s: %q, want read-only file system", path, got)
		}
	}
	if got := p.value("write /tmp"); got != "ok" {
		t.Errorf("write /tmp: %q", got)
	}
	if _, err := os.Stat(filepath.Join(code, "probe-file")); err == nil {
		t.Error("the sandbox wrote into its code directory")
	}

	p = MustStartProbe(t, d, Spec{}, "read", "/var/task/probe", "/etc/hostname", "/root", d.cfg.RunDir, other, probePath, "/sys/fs/cgroup", "/home")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	for _, path := range []string{"/var/task/probe", "/etc/hostname"} {
		if got := p.value("read " + path); got != "ok" {
			t.Errorf("read %s: %q, want ok", path, got)
		}
	}
	for _, path := range []string{"/root", d.cfg.RunDir, other, probePath, "/sys/fs/cgroup", "/home"} {
		if got := p.value("read " + path); got != "no such file or directory" {
			t.Errorf("read %s: %q, want no such file or directory", path, got)
		}
	}
}

func TestLinuxTmpLimit(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{TmpMB: 8, MemoryMB: 64}, "tmpfill")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	got := p.value("tmpfill")
	if !strings.HasSuffix(got, "no space left on device") {
		t.Fatalf("tmpfill: %q, want ENOSPC", got)
	}
	if mb, _ := strconv.Atoi(strings.Fields(got)[0]); mb < 6 || mb > 8 {
		t.Fatalf("wrote %d MB into an 8 MB /tmp", mb)
	}
}

func TestLinuxProcessIsolation(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "ps")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	want := map[string]string{
		"pid":         "1",
		"ppid":        "0",
		"procs":       "[1]",
		"groups":      "[]",
		"CapEff:":     "0000000000000000",
		"Seccomp:":    "2",
		"NoNewPrivs:": "1",
		"SigBlk:":     "0000000000000000",
		"SigIgn:":     "0000000000000000",
	}
	for k, v := range want {
		if got := p.value(k); got != v {
			t.Errorf("%s = %q, want %q\n%s", k, got, v, p.out)
		}
	}
	uid, _ := strconv.Atoi(p.value("uid"))
	gid, _ := strconv.Atoi(p.value("gid"))
	if uid < d.cfg.UIDBase || uid >= d.cfg.UIDBase+maxSlots || gid != uid {
		t.Errorf("uid %d gid %d, want an unprivileged sandbox id", uid, gid)
	}
}

func TestLinuxSeccomp(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "seccomp")
	if exit := p.waitExit(t); exit.Code != 0 {
		t.Fatalf("exit %+v: %s", exit, p.errOut)
	}
	for _, call := range []string{"mount", "unshare-user", "unshare-net", "ptrace", "bpf", "clone-newuser"} {
		if got := p.value(call); got != "operation not permitted" {
			t.Errorf("%s: %q, want operation not permitted", call, got)
		}
	}
	if got := p.value("exec-child"); got != "ok" {
		t.Errorf("starting a child: %q", got)
	}
}

func TestLinuxMemoryLimit(t *testing.T) {
	d := MustLinux(t)
	const limitMB = 32
	p := MustStartProbe(t, d, Spec{MemoryMB: limitMB}, "oom", "128")
	exit := p.waitExit(t)
	if !exit.OOMKilled || exit.Signal != "killed" {
		t.Fatalf("exit %+v, want OOM kill; stdout %q", exit, p.out)
	}
	max := p.h.MaxMemoryBytes()
	t.Logf("OOM at MaxMemoryBytes %d (limit %d)", max, limitMB<<20)
	if max < limitMB<<20*9/10 || max > limitMB<<20 {
		t.Fatalf("MaxMemoryBytes = %d, want about %d", max, limitMB<<20)
	}
	if err := p.h.Destroy(); err != nil {
		t.Fatal(err)
	}
	if got := p.h.MaxMemoryBytes(); got != max {
		t.Fatalf("MaxMemoryBytes after Destroy = %d, want %d", got, max)
	}

	// Under the limit: no OOM.
	p = MustStartProbe(t, d, Spec{MemoryMB: 64}, "oom", "16")
	if exit := p.waitExit(t); exit != (Exit{}) {
		t.Fatalf("exit %+v; stderr %q", exit, p.errOut)
	}
	if max := p.h.MaxMemoryBytes(); max < 16<<20 || max > 64<<20 {
		t.Fatalf("MaxMemoryBytes = %d after allocating 16 MB", max)
	}
}

func TestLinuxPidsLimit(t *testing.T) {
	d := MustLinux(t)
	const pidsMax = 24
	p := MustStartProbe(t, d, Spec{PidsMax: pidsMax}, "forkbomb")
	exit := p.waitExit(t)
	got := p.value("forked")
	t.Logf("forked %s", got)
	if exit.Code != 0 || !strings.HasSuffix(got, "resource temporarily unavailable") {
		t.Fatalf("exit %+v forked %q; stderr %q", exit, got, p.errOut)
	}
	if n, _ := strconv.Atoi(strings.Fields(got)[0]); n < 1 || n >= pidsMax {
		t.Fatalf("forked %d children under pids.max %d", n, pidsMax)
	}
}

func TestLinuxFreeze(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{CPUMillis: 300}, "count")
	countOf := func(uri string) int64 {
		n, _ := strconv.ParseInt(strings.TrimPrefix(uri, "/count?n="), 10, 64)
		return n
	}
	p.rec.waitHit(t, "/count")
	p.rec.waitHit(t, "/count")
	if err := p.h.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := p.h.Freeze(); err != nil {
		t.Fatalf("second Freeze: %v", err)
	}
	// Drain what was sent before the freeze, then expect silence.
	time.Sleep(50 * time.Millisecond)
	for len(p.rec.hits) > 0 {
		<-p.rec.hits
	}
	before := len(p.rec.URIs())
	time.Sleep(300 * time.Millisecond)
	if after := len(p.rec.URIs()); after != before {
		t.Fatalf("%d requests while frozen", after-before)
	}
	uris := p.rec.URIs()
	last := countOf(uris[len(uris)-1])
	if err := p.h.SetCPU(500); err != nil {
		t.Fatal(err)
	}
	if err := p.h.Thaw(); err != nil {
		t.Fatal(err)
	}
	for {
		if n := countOf(p.rec.waitHit(t, "/count")); n > last {
			break
		}
	}
	// A frozen sandbox can still be killed.
	if err := p.h.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := p.h.Kill(); err != nil {
		t.Fatal(err)
	}
	if exit := p.waitExit(t); exit.Signal != "killed" {
		t.Fatalf("exit %+v", exit)
	}
}

func TestLinuxDestroy(t *testing.T) {
	d := MustLinux(t)
	p := MustStartProbe(t, d, Spec{}, "sleep")
	p.rec.waitHit(t, "/ready")
	lh := p.h.(*linuxHandle)
	dirs := slices.DeleteFunc(slices.Clone(lh.cg.dirs[:]), func(dir string) bool { return dir == "" })
	if d.PinningError() == nil && len(dirs) != cgCount {
		t.Fatalf("cgroups %v, want %d including cpuset", dirs, cgCount)
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("cgroup missing while running: %v", err)
		}
	}
	if _, err := os.Stat(lh.staging); err != nil {
		t.Fatalf("staging directory missing while running: %v", err)
	}
	if err := p.h.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.h.Done():
	default:
		t.Fatal("Done not closed after Destroy")
	}
	for _, dir := range append(dirs, lh.staging) {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after Destroy: %v", dir, err)
		}
	}
	if _, err := p.h.Listener().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener still open: %v", err)
	}
	if err := p.h.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := p.h.Freeze(); err == nil {
		t.Error("Freeze after Destroy succeeded")
	}
	if len(d.live) != 0 || len(d.used) != 0 {
		t.Errorf("slots still reserved: %v", d.live)
	}
}

func TestLinuxParallel(t *testing.T) {
	d := MustLinux(t)
	codeA, codeB := MustCodeDir(t), MustCodeDir(t)
	var wg sync.WaitGroup
	probes := make([]*probe, 2)
	errs := make([]error, 2)
	for i, code := range []string{codeA, codeB} {
		other := codeB
		if i == 1 {
			other = codeA
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			probes[i], errs[i] = startProbe(t, d, Spec{CodeDir: code}, "read", other, "/var/task/probe")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, p := range probes {
		if exit := p.waitExit(t); exit.Code != 0 {
			t.Fatalf("probe %d: exit %+v", i, exit)
		}
		if got := p.value("read /var/task/probe"); got != "ok" {
			t.Errorf("probe %d reading its own code: %q", i, got)
		}
	}
	if got := probes[0].value("read " + codeB); got != "no such file or directory" {
		t.Errorf("A reading B's code: %q", got)
	}
	if got := probes[1].value("read " + codeA); got != "no such file or directory" {
		t.Errorf("B reading A's code: %q", got)
	}

	// Live sandboxes each have their own 127.0.0.1:9001 and uid.
	live := make([]*probe, 6)
	errs = make([]error, len(live))
	for i := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			live[i], errs[i] = startProbe(t, d, Spec{CodeDir: codeA}, "sleep")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slots := map[int]bool{}
	for _, p := range live {
		p.rec.waitHit(t, "/ready")
		slots[p.h.(*linuxHandle).slot] = true
	}
	if len(slots) != len(live) {
		t.Errorf("%d live sandboxes share %d uid slots", len(live), len(slots))
	}
}

func TestLinuxStartCanceled(t *testing.T) {
	d := MustLinux(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Start(ctx, Spec{ID: testID(t), CodeDir: MustCodeDir(t), Args: []string{"/var/task/probe", "sleep"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a canceled context = %v", err)
	}
}

// BenchmarkLinuxStart measures a cold start: spawn, exec, the first
// Runtime API request, destroy. It also reports the mean of each part:
// start-ms (Start: spawn to execve), ready-ms (execve to the first
// request) and destroy-ms, and the median of Start (start-p50-ms).
func BenchmarkLinuxStart(b *testing.B) {
	d := MustLinux(b)
	code := MustCodeDir(b)
	var start, ready, destroy time.Duration
	starts := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := &recorder{hits: make(chan string, 1)}
		t0 := time.Now()
		h, err := d.Start(context.Background(), Spec{
			ID: "bench-" + strconv.Itoa(i), CodeDir: code, MemoryMB: 128,
			Args: []string{"/var/task/probe", "hello"},
		})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		go http.Serve(h.Listener(), rec)
		select {
		case <-rec.hits:
		case <-time.After(10 * time.Second):
			b.Fatal("no request")
		}
		t2 := time.Now()
		if err := h.Destroy(); err != nil {
			b.Fatal(err)
		}
		start, ready, destroy = start+t1.Sub(t0), ready+t2.Sub(t1), destroy+time.Since(t2)
		starts = append(starts, t1.Sub(t0))
	}
	slices.Sort(starts)
	n := float64(b.N) * float64(time.Millisecond)
	b.ReportMetric(float64(start)/n, "start-ms")
	b.ReportMetric(float64(ready)/n, "ready-ms")
	b.ReportMetric(float64(destroy)/n, "destroy-ms")
	b.ReportMetric(float64(starts[len(starts)/2])/float64(time.Millisecond), "start-p50-ms")
}
