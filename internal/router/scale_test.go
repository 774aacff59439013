package router_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/router"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// versionedFunctions adds published versions and aliases to fakeFunctions
// (only the reads the router makes).
type versionedFunctions struct {
	*fakeFunctions
	vmu      sync.Mutex
	versions map[string]*stratus.Function // "name:N"
	aliases  map[string]*stratus.Alias    // "name:alias"
}

var _ stratus.VersionService = (*versionedFunctions)(nil)

func (v *versionedFunctions) publish(t *testing.T, name, version string) {
	t.Helper()
	fn, err := v.Function(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	fn.Version = version
	fn.RevisionID = "v" + version
	v.vmu.Lock()
	v.versions[name+":"+version] = fn
	v.vmu.Unlock()
}

func (v *versionedFunctions) Version(_ context.Context, name, version string) (*stratus.Function, error) {
	v.vmu.Lock()
	defer v.vmu.Unlock()
	fn, ok := v.versions[name+":"+version]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "no %s:%s", name, version)
	}
	return fn.Clone(), nil
}

func (v *versionedFunctions) Alias(_ context.Context, function, name string) (*stratus.Alias, error) {
	v.vmu.Lock()
	defer v.vmu.Unlock()
	a, ok := v.aliases[function+":"+name]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "no alias %s:%s", function, name)
	}
	return a.Clone(), nil
}

func (v *versionedFunctions) PublishVersion(context.Context, string, func(*stratus.Function) error, func(*stratus.Function)) (*stratus.Function, bool, error) {
	panic("unused")
}
func (v *versionedFunctions) Versions(context.Context, string) ([]*stratus.Function, error) {
	panic("unused")
}
func (v *versionedFunctions) DeleteVersion(context.Context, string, string) error { panic("unused") }
func (v *versionedFunctions) CreateAlias(context.Context, *stratus.Alias) error   { panic("unused") }
func (v *versionedFunctions) Aliases(context.Context, string) ([]*stratus.Alias, error) {
	panic("unused")
}
func (v *versionedFunctions) UpdateAlias(context.Context, string, string, func(*stratus.Alias) error) (*stratus.Alias, error) {
	panic("unused")
}
func (v *versionedFunctions) DeleteAlias(context.Context, string, string) error { panic("unused") }

// scaleEnv is a router over the none driver with functions that run the
// test binary, and a Prometheus registry holding its metrics.
type scaleEnv struct {
	r    *router.Router
	fns  *versionedFunctions
	sink *logSink
	reg  *prometheus.Registry
	code stratus.Code
}

func newScaleEnv(t *testing.T, edit func(*router.Config)) *scaleEnv {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	fmt.Fprintf(w, "#!/bin/sh\nexec %s\n", exe)
	_ = zw.Close()
	s := &scaleEnv{
		fns: &versionedFunctions{
			fakeFunctions: &fakeFunctions{fns: map[string]*stratus.Function{}, code: map[string][]byte{}},
			versions:      map[string]*stratus.Function{},
			aliases:       map[string]*stratus.Alias{},
		},
		sink: &logSink{},
		reg:  prometheus.NewRegistry(),
	}
	s.code, _ = s.fns.PutCode(context.Background(), buf.Bytes())
	cfg := router.DefaultConfig()
	cfg.CodeDir = t.TempDir()
	cfg.Registerer = s.reg
	if edit != nil {
		edit(&cfg)
	}
	s.r, err = router.New(cfg, s.fns, sandbox.NewNone(sandbox.NoneConfig{}), s.sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.r.Close() })
	return s
}

// add creates function name with memory MB.
func (s *scaleEnv) add(name string, memory int) {
	_ = s.fns.CreateFunction(context.Background(), &stratus.Function{
		Name: name, Version: stratus.LatestVersion, Runtime: "provided.al2023", MemorySize: memory, Timeout: 10,
		EphemeralStorage: 512, Environment: map[string]string{"STRATUS_TEST_FUNCTION": "1"}, Code: s.code, RevisionID: "r1",
	})
}

type result struct {
	resp *stratus.InvokeResponse
	err  error
}

func (s *scaleEnv) invoke(name, qualifier, payload string) result {
	resp, err := s.r.Invoke(context.Background(), &stratus.InvokeRequest{
		FunctionName: name, Qualifier: qualifier, Payload: []byte(payload), TailLog: true})
	return result{resp, err}
}

// overlap runs n invokes of name at once.
func (s *scaleEnv) overlap(n int, name, qualifier, payload string) []result {
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = s.invoke(name, qualifier, payload) })
	}
	wg.Wait()
	return out
}

// throttled counts results throttled with reason, and fails on other
// errors.
func throttled(t *testing.T, rs []result, reason string) int {
	t.Helper()
	n := 0
	for _, r := range rs {
		if r.err == nil {
			if r.resp.FunctionError != "" {
				t.Fatalf("function error: %s", r.resp.Payload)
			}
			continue
		}
		var se *stratus.Error
		if stratus.ErrorCode(r.err) != stratus.ETHROTTLED || !asError(r.err, &se) || se.Reason != reason {
			t.Fatalf("got %v, want a throttle with reason %s", r.err, reason)
		}
		n++
	}
	return n
}

func asError(err error, se **stratus.Error) bool {
	e, ok := err.(*stratus.Error)
	*se = e
	return ok
}

func reserved(n int, names ...string) *stratus.ConcurrencyConfig {
	c := &stratus.ConcurrencyConfig{Reserved: map[string]int{}}
	for _, name := range names {
		c.Reserved[name] = n
	}
	return c
}

const sleep300 = `{"action":"sleep","ms":300}`

func TestReservedConcurrency(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	s.r.SetConcurrency(reserved(2, "f"))
	if n := throttled(t, s.overlap(3, "f", "", sleep300), router.ReasonReserved); n != 1 {
		t.Fatalf("%d of 3 overlapping invokes throttled with reserved concurrency 2, want 1", n)
	}
	s.r.SetConcurrency(reserved(0, "f"))
	if n := throttled(t, s.overlap(2, "f", "", `{}`), router.ReasonReserved); n != 2 {
		t.Fatalf("%d of 2 invokes throttled with reserved concurrency 0, want all", n)
	}
	s.r.SetConcurrency(&stratus.ConcurrencyConfig{})
	if n := throttled(t, s.overlap(3, "f", "", `{}`), ""); n != 0 {
		t.Fatalf("%d invokes throttled after the reservation was deleted", n)
	}
}

// TestAccountConcurrency: functions without a reservation share what the
// reservations leave of the account's concurrency.
func TestAccountConcurrency(t *testing.T) {
	s := newScaleEnv(t, func(c *router.Config) { c.AccountConcurrency = 100 })
	s.add("f", 128)
	s.r.SetConcurrency(reserved(98, "other"))
	if n := throttled(t, s.overlap(3, "f", "", sleep300), router.ReasonAccount); n != 1 {
		t.Fatalf("%d of 3 overlapping invokes throttled with 2 unreserved, want 1", n)
	}
}

// TestScalingRate: a function starts at most ScaleRate environments per
// ScalePeriod; the bucket refills continuously and warm invokes need no
// token. The model has no Reason for the scaling rate:
// FunctionInvocationRateLimitExceeded, a per-function rate limit, is the
// closest.
func TestScalingRate(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newScaleEnv(t, func(c *router.Config) {
		c.ScaleRate, c.ScalePeriod, c.Now = 2, 10*time.Second, clock
	})
	s.add("f", 128)
	if router.ReasonScaling != "FunctionInvocationRateLimitExceeded" {
		t.Fatalf("scaling-rate reason %s", router.ReasonScaling)
	}
	if n := throttled(t, s.overlap(3, "f", "", sleep300), router.ReasonScaling); n != 1 {
		t.Fatalf("%d of 3 cold starts throttled with a bucket of 2, want 1", n)
	}
	if n := throttled(t, s.overlap(2, "f", "", `{}`), ""); n != 0 {
		t.Fatalf("warm invokes throttled: %d", n)
	}
	advance(5 * time.Second) // one token back
	if n := throttled(t, s.overlap(4, "f", "", sleep300), router.ReasonScaling); n != 1 {
		t.Fatalf("%d of 4 invokes throttled with 2 warm environments and 1 token, want 1", n)
	}
}

func TestMemoryBudgetEviction(t *testing.T) {
	s := newScaleEnv(t, func(c *router.Config) { c.MemoryBudgetMB = 256 })
	for _, name := range []string{"a", "b", "c"} {
		s.add(name, 128)
	}
	pid := func(r result) int {
		t.Helper()
		if r.err != nil {
			t.Fatal(r.err)
		}
		var p struct{ Pid int }
		_ = json.Unmarshal(r.resp.Payload, &p)
		return p.Pid
	}
	a := pid(s.invoke("a", "", `{}`))
	time.Sleep(5 * time.Millisecond) // a is now the least recently used
	b := pid(s.invoke("b", "", `{}`))
	c := s.invoke("c", "", `{}`) // evicts a's environment
	pid(c)
	if !strings.Contains(string(c.resp.LogTail), "Init Duration") {
		t.Fatalf("c was not a cold start:\n%s", c.resp.LogTail)
	}
	if got := pid(s.invoke("b", "", `{}`)); got != b {
		t.Errorf("b's environment was evicted (pid %d, then %d), want a's (least recently used)", b, got)
	}
	if got := pid(s.invoke("a", "", `{}`)); got == a {
		t.Errorf("a still ran in its old environment; it should have been evicted")
	}
	if got := counter(t, s.reg, "stratus_environments_reclaimed_total", "reason", "memory-budget"); got < 1 {
		t.Errorf("memory-budget evictions = %v, want ≥ 1", got)
	}
	// Two busy environments fill the budget: a third is throttled rather
	// than overcommitting.
	var wg sync.WaitGroup
	wg.Go(func() { pid(s.invoke("a", "", sleep300)) })
	wg.Go(func() { pid(s.invoke("b", "", sleep300)) })
	time.Sleep(100 * time.Millisecond)
	if n := throttled(t, []result{s.invoke("c", "", `{}`)}, router.ReasonAccount); n != 1 {
		t.Error("an invoke that needs memory beyond the budget was not throttled")
	}
	wg.Wait()
	st, _ := s.r.Status(context.Background())
	if st.Memory.UsedMB > 256 {
		t.Errorf("memory used %d MB exceeds the budget of 256", st.Memory.UsedMB)
	}
}

func TestKeepAliveReclaims(t *testing.T) {
	s := newScaleEnv(t, func(c *router.Config) { c.KeepAlive = 200 * time.Millisecond })
	s.add("f", 128)
	if r := s.invoke("f", "", `{}`); r.err != nil {
		t.Fatal(r.err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := s.r.Status(context.Background())
		if st.Memory.UsedMB == 0 && st.Environments["idle"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle environment not reclaimed after the keep-alive: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.invoke("f", "", `{}`); r.err != nil || !strings.Contains(string(r.resp.LogTail), "Init Duration") {
		t.Fatalf("invoke after reclaiming: %v, want a cold start", r.err)
	}
	if got := counter(t, s.reg, "stratus_environments_reclaimed_total", "reason", "keep-alive"); got != 1 {
		t.Errorf("keep-alive reclaims = %v, want 1", got)
	}
}

func TestShutdownDrains(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	done := make(chan result, 1)
	go func() { done <- s.invoke("f", "", `{"action":"sleep","ms":500}`) }()
	time.Sleep(200 * time.Millisecond)
	shut := make(chan error, 1)
	go func() { shut <- s.r.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	if r := s.invoke("f", "", `{}`); stratus.ErrorCode(r.err) != stratus.EUNAVAILABLE {
		t.Errorf("invoke during shutdown: %v, want EUNAVAILABLE", r.err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while an invocation was in flight", err)
	default:
	}
	if r := <-done; r.err != nil || r.resp.FunctionError != "" {
		t.Fatalf("in-flight invocation: %v", r.err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := s.r.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := s.r.Status(context.Background())
	if st.Memory.UsedMB != 0 {
		t.Errorf("%d MB still used after Close", st.Memory.UsedMB)
	}
}

// TestProvisioned: a version's provisioned environments are initialised
// before any invocation, serve first (no Init Duration, Start Type
// provisioned, AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency)
// and load beyond them spills over to on-demand environments.
func TestProvisioned(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	s.fns.publish(t, "f", "1")
	s.fns.aliases["f:live"] = &stratus.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1"}
	s.r.SetConcurrency(&stratus.ConcurrencyConfig{Provisioned: map[string]map[string]stratus.ProvisionedConfig{
		"f": {"live": {Requested: 2, LastModified: time.Now()}}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, ok := s.r.ProvisionedAllocation("f", "live")
		if ok && a.Status == router.ProvisionedReady {
			if a.Allocated != 2 {
				t.Fatalf("READY with %d allocated, want 2", a.Allocated)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provisioned concurrency not READY: %+v", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := counter(t, s.reg, "stratus_starts_total", "kind", "cold"); got != 0 {
		t.Fatalf("%v cold starts counted before any invoke", got)
	}
	rs := s.overlap(3, "f", "live", sleep300)
	kinds := map[string]int{}
	for _, r := range rs {
		if r.err != nil {
			t.Fatal(r.err)
		}
		var p struct{ InitType string }
		_ = json.Unmarshal(r.resp.Payload, &p)
		tail := string(r.resp.LogTail)
		switch {
		case strings.Contains(tail, "Start Type: provisioned\t"):
			kinds["provisioned"]++
			if strings.Contains(tail, "Init Duration") || p.InitType != "provisioned-concurrency" {
				t.Errorf("provisioned invoke: init type %q, log\n%s", p.InitType, tail)
			}
		case strings.Contains(tail, "Start Type: cold\t"):
			kinds["cold"]++
			if !strings.Contains(tail, "Init Duration") || p.InitType != "on-demand" {
				t.Errorf("spill-over invoke: init type %q, log\n%s", p.InitType, tail)
			}
		default:
			t.Errorf("REPORT without a Start Type:\n%s", tail)
		}
		if r.resp.ExecutedVersion != "1" {
			t.Errorf("executed version %q, want 1", r.resp.ExecutedVersion)
		}
	}
	if kinds["provisioned"] != 2 || kinds["cold"] != 1 {
		t.Errorf("3 overlapping invokes with 2 provisioned environments ran %v, want 2 provisioned and 1 cold", kinds)
	}
	// Invoking the version directly does not use the alias's pool.
	if r := s.invoke("f", "1", `{}`); r.err != nil || !strings.Contains(string(r.resp.LogTail), "Start Type: warm\t") {
		t.Errorf("invoke of version 1: %v\n%s", r.err, r.resp.LogTail)
	}
	// Removing the configuration shuts the environments down.
	s.r.SetConcurrency(&stratus.ConcurrencyConfig{})
	deadline = time.Now().Add(5 * time.Second)
	for {
		st, _ := s.r.Status(context.Background())
		if len(st.Functions) == 1 && st.Functions[0].Environments["idle"]+st.Functions[0].Environments["frozen"] == 1 {
			break // the on-demand environment
		}
		if time.Now().After(deadline) {
			t.Fatalf("provisioned environments not shut down: %+v", st.Functions)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProvisionedLatest: an alias of $LATEST cannot be provisioned.
func TestProvisionedLatest(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	s.fns.aliases["f:dev"] = &stratus.Alias{FunctionName: "f", Name: "dev", FunctionVersion: stratus.LatestVersion}
	s.r.SetConcurrency(&stratus.ConcurrencyConfig{Provisioned: map[string]map[string]stratus.ProvisionedConfig{
		"f": {"dev": {Requested: 1}}}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, _ := s.r.ProvisionedAllocation("f", "dev")
		if a.Status == router.ProvisionedFailed {
			if !strings.Contains(a.StatusReason, "unpublished") {
				t.Errorf("reason %q", a.StatusReason)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want FAILED", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsCount(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	for _, p := range []string{`{}`, `{}`, `{"action":"error"}`} {
		if r := s.invoke("f", "", p); r.err != nil {
			t.Fatal(r.err)
		}
	}
	s.r.SetConcurrency(reserved(0, "f"))
	_ = s.invoke("f", "", `{}`)
	for _, tc := range []struct {
		name, label, value string
		want               float64
	}{
		{"stratus_invocations_total", "function", "f", 3},
		{"stratus_invocation_errors_total", "function", "f", 1},
		{"stratus_starts_total", "kind", "cold", 1},
		{"stratus_starts_total", "kind", "warm", 2},
		{"stratus_throttles_total", "reason", router.ReasonReserved, 1},
		{"stratus_cold_start_phase_seconds", "phase", "sandbox", 1},
		{"stratus_invocation_duration_seconds", "function", "f", 3},
		{"stratus_init_duration_seconds", "function", "f", 1},
	} {
		if got := counter(t, s.reg, tc.name, tc.label, tc.value); got != tc.want {
			t.Errorf("%s{%s=%q} = %v, want %v", tc.name, tc.label, tc.value, got, tc.want)
		}
	}
	if got := counter(t, s.reg, "stratus_memory_budget_used_bytes", "", ""); got != 128<<20 {
		t.Errorf("memory used %v, want 128 MiB", got)
	}
}

// counter sums the values (counter, gauge, or histogram sample count) of
// metric name whose label has value ("" matches any).
func counter(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m, label, value) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// stopRecorder is a driver whose handles record the grace of Stop.
type stopRecorder struct {
	sandbox.Driver
	mu     sync.Mutex
	graces []time.Duration
}

func (d *stopRecorder) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Handle, error) {
	h, err := d.Driver.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &recordingHandle{Handle: h, d: d}, nil
}

type recordingHandle struct {
	sandbox.Handle
	d *stopRecorder
}

func (h *recordingHandle) Stop(grace time.Duration) error {
	h.d.mu.Lock()
	h.d.graces = append(h.d.graces, grace)
	h.d.mu.Unlock()
	return h.Handle.Stop(grace)
}

// TestCloseStopsGracefully: Close stops each environment with SIGTERM and
// Lambda's 2 s before SIGKILL (Handle.Stop(2s)).
func TestCloseStopsGracefully(t *testing.T) {
	s := newScaleEnv(t, nil)
	s.add("f", 128)
	d := &stopRecorder{Driver: sandbox.NewNone(sandbox.NoneConfig{})}
	cfg := router.DefaultConfig()
	cfg.CodeDir = t.TempDir()
	r, err := router.New(cfg, s.fns, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]result, 2)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() {
			resp, err := r.Invoke(context.Background(), &stratus.InvokeRequest{FunctionName: "f", Payload: []byte(sleep300)})
			rs[i] = result{resp, err}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.graces) != 2 || d.graces[0] != 2*time.Second || d.graces[1] != 2*time.Second {
		t.Fatalf("Stop graces %v, want 2s for each of 2 environments", d.graces)
	}
}

// TestProvisionedWeightedAlias: a weighted alias's pool provisions its
// primary version; invocations the weights send to the other version run
// on-demand and leave the pool alone.
func TestProvisionedWeightedAlias(t *testing.T) {
	s := newScaleEnv(t, func(c *router.Config) { c.Rand = func() float64 { return 0 } }) // always the additional version
	s.add("f", 128)
	s.fns.publish(t, "f", "1")
	s.fns.publish(t, "f", "2")
	s.fns.aliases["f:live"] = &stratus.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1",
		AdditionalVersionWeights: map[string]float64{"2": 0.5}}
	s.r.SetConcurrency(&stratus.ConcurrencyConfig{Provisioned: map[string]map[string]stratus.ProvisionedConfig{
		"f": {"live": {Requested: 1}}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if a, _ := s.r.ProvisionedAllocation("f", "live"); a.Status == router.ProvisionedReady {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not READY")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 3 {
		r := s.invoke("f", "live", `{}`)
		if r.err != nil || r.resp.ExecutedVersion != "2" || strings.Contains(string(r.resp.LogTail), "Start Type: provisioned") {
			t.Fatalf("invoke routed to version 2: %v %+v\n%s", r.err, r.resp, r.resp.LogTail)
		}
	}
	if a, _ := s.r.ProvisionedAllocation("f", "live"); a.Allocated != 1 || a.Status != router.ProvisionedReady {
		t.Fatalf("pool after invokes of the other version: %+v", a)
	}
}

// TestFreezeDelayGrowsUnderSteadyUse: an environment thawed soon after
// each freeze waits longer before the next one (20 → 40 → … → 640 ms), so
// that one in steady use is not frozen and thawed around every
// invocation; left idle long enough, it is still frozen.
func TestFreezeDelayGrowsUnderSteadyUse(t *testing.T) {
	s := newScaleEnv(t, func(c *router.Config) { c.FreezeDelay = 20 * time.Millisecond })
	s.add("f", 128)
	envs := func() map[string]int {
		st, _ := s.r.Status(context.Background())
		if len(st.Functions) != 1 {
			return nil
		}
		return st.Functions[0].Environments
	}
	waitFrozen := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); envs()["frozen"] != 1; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("environment not frozen: %v", envs())
			}
		}
	}
	for i := range 6 { // frozen with delays 20, 40, 80, 160, 320 ms; thawed at once
		if r := s.invoke("f", "", `{}`); r.err != nil {
			t.Fatalf("invoke %d: %v", i, r.err)
		}
		if i < 5 {
			waitFrozen()
		}
	}
	// The delay is now 640 ms: 100 ms after the invocation it is idle.
	time.Sleep(100 * time.Millisecond)
	if e := envs(); e["idle"] != 1 || e["frozen"] != 0 {
		t.Fatalf("100 ms after the 6th invocation: %v, want 1 idle (freeze delay 640 ms)", e)
	}
	waitFrozen()
}
