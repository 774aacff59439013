package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "\n", want: nil},
		{in: "0", want: []int{0}},
		{in: "0-1\n", want: []int{0, 1}},
		{in: "0-3,5", want: []int{0, 1, 2, 3, 5}},
		{in: "8,2-3,3", want: []int{2, 3, 8}},
		{in: "4-4", want: []int{4}},
		{in: "a", wantErr: true},
		{in: "3-1", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1-", wantErr: true},
		{in: "1,,2", wantErr: true},
		{in: "0-99999999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			got, err := parseCPUList(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parsed as %v, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestFormatCPUList(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{1}, "1"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 2}, "0,2"},
		{[]int{0, 1, 2, 5}, "0-2,5"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := formatCPUList(tc.in)
			if got != tc.want {
				t.Fatalf("formatCPUList(%v) = %q, want %q", tc.in, got, tc.want)
			}
			back, err := parseCPUList(got)
			if err != nil || !slices.Equal(back, tc.in) {
				t.Fatalf("parsing %q back: %v, %v", got, back, err)
			}
		})
	}
}

func TestCPUPlacer(t *testing.T) {
	p := newCPUPlacer([]int{0, 1, 2, 4}) // CPU 3 is not ours
	var placed []cpuPlacement
	steps := []struct {
		millis int
		want   []int // nil: not pinned
		loads  []int // after the step, per usable CPU
	}{
		{1000, []int{0}, []int{1000, 0, 0, 0}},
		{1000, []int{1}, []int{1000, 1000, 0, 0}},
		{500, []int{2}, []int{1000, 1000, 500, 0}},
		// k = 2: the two least loaded, 4 (0) and 2 (500).
		{2000, []int{2, 4}, []int{1000, 1000, 1500, 1000}},
		// A tie of 0, 1 and 4: the lowest CPU.
		{128, []int{0}, []int{1128, 1000, 1500, 1000}},
		// 1501 millis: two CPUs, 751 + 750.
		{1501, []int{1, 4}, []int{1128, 1751, 1500, 1750}},
		// As many CPUs as there are, or unlimited: not pinned.
		{3001, nil, []int{1128, 1751, 1500, 1750}},
		{4000, nil, []int{1128, 1751, 1500, 1750}},
		{0, nil, []int{1128, 1751, 1500, 1750}},
	}
	for i, st := range steps {
		pl := p.place(st.millis)
		placed = append(placed, pl)
		if !slices.Equal(pl.cpus, st.want) || !slices.Equal(p.load, st.loads) {
			t.Fatalf("step %d: place(%d) = %v, loads %v; want %v, loads %v", i, st.millis, pl.cpus, p.load, st.want, st.loads)
		}
		if want := formatCPUList(st.want); st.want == nil && pl.cpusValue("all") != "all" || st.want != nil && pl.cpusValue("all") != want {
			t.Fatalf("step %d: cpusValue = %q", i, pl.cpusValue("all"))
		}
	}
	// Releasing the first placement frees CPU 0 for the next one.
	p.release(placed[0])
	if pl := p.place(1000); !slices.Equal(pl.cpus, []int{0}) {
		t.Fatalf("after releasing CPU 0: placed on %v, loads %v", pl.cpus, p.load)
	} else {
		placed[0] = pl
	}
	for _, pl := range placed {
		p.release(pl)
	}
	if !slices.Equal(p.load, []int{0, 0, 0, 0}) {
		t.Fatalf("loads after releasing everything: %v", p.load)
	}

	one := newCPUPlacer([]int{0})
	if pl := one.place(1000); pl.cpus != nil {
		t.Fatalf("a single CPU: pinned to %v", pl.cpus)
	}
}

// TestSetupCPUSetUnusable: a directory that is not a cpuset is refused
// and what was created is removed.
func TestSetupCPUSetUnusable(t *testing.T) {
	own := t.TempDir()
	dir := filepath.Join(own, "stratus-test", "123")
	if _, err := setupCPUSet(own, dir); err == nil {
		t.Fatal("a plain directory accepted as a cpuset")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", dir, err)
	}
}

// mustPinning skips the test unless d pins sandboxes and has at least
// two CPUs.
func mustPinning(tb testing.TB, d *Linux) {
	tb.Helper()
	if err := d.PinningError(); err != nil {
		tb.Skip(err)
	}
	if n := len(d.placer.cpus); n < 2 {
		tb.Skipf("%d usable CPU: nothing to place", n)
	}
}

// affinity is the CPU list every thread of pid may run on, or an error
// if the threads disagree.
func affinity(pid int) (string, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return "", err
	}
	var list string
	for _, task := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // exited
		}
		for _, line := range strings.Split(string(data), "\n") {
			v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			if list != "" && v != list {
				return "", fmt.Errorf("threads of %d disagree: %s and %s", pid, list, v)
			}
			list = v
		}
	}
	return list, nil
}

// wantAffinity waits until p's threads may run on exactly want (a CPU
// list as formatCPUList writes it).
func wantAffinity(tb testing.TB, p *probe, want string) {
	tb.Helper()
	checkFor(tb, 2*time.Second, 5*time.Millisecond, func() error {
		got, err := affinity(p.h.Pid())
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("sandbox %d runs on CPUs %q, want %q", p.h.Pid(), got, want)
		}
		return nil
	})
}

// pinnedCPU returns the one CPU p's threads may run on.
func pinnedCPU(tb testing.TB, p *probe) int {
	tb.Helper()
	got, err := affinity(p.h.Pid())
	if err != nil {
		tb.Fatal(err)
	}
	cpus, err := parseCPUList(got)
	if err != nil || len(cpus) != 1 {
		tb.Fatalf("sandbox %d runs on CPUs %q (%v), want exactly one", p.h.Pid(), got, err)
	}
	return cpus[0]
}

func TestLinuxCPUPlacement(t *testing.T) {
	d := MustLinux(t)
	mustPinning(t, d)
	all := formatCPUList(d.placer.cpus)

	// Init runs on every CPU, whatever its quota.
	a := MustStartProbe(t, d, Spec{CPUMillis: 1000}, "sleep")
	a.rec.waitHit(t, "/ready")
	wantAffinity(t, a, all)

	if err := a.h.SetCPU(1000); err != nil {
		t.Fatal(err)
	}
	cpuA := pinnedCPU(t, a)
	if err := a.h.SetCPU(0); err != nil {
		t.Fatal(err)
	}
	wantAffinity(t, a, all)
	if err := a.h.SetCPU(1000); err != nil {
		t.Fatal(err)
	}
	if got := pinnedCPU(t, a); got != cpuA {
		t.Errorf("placed again on CPU %d, want %d (the least loaded, lowest)", got, cpuA)
	}

	// A second sandbox goes to another CPU.
	b := MustStartProbe(t, d, Spec{CPUMillis: 1000}, "sleep")
	b.rec.waitHit(t, "/ready")
	wantAffinity(t, b, all)
	if err := b.h.SetCPU(1000); err != nil {
		t.Fatal(err)
	}
	if cpuB := pinnedCPU(t, b); cpuB == cpuA {
		t.Fatalf("both sandboxes on CPU %d", cpuA)
	}

	// Destroying a frees its CPU for the next one.
	if err := a.h.Destroy(); err != nil {
		t.Fatal(err)
	}
	c := MustStartProbe(t, d, Spec{CPUMillis: 1000}, "sleep")
	c.rec.waitHit(t, "/ready")
	if err := c.h.SetCPU(1000); err != nil {
		t.Fatal(err)
	}
	if cpuC := pinnedCPU(t, c); cpuC != cpuA {
		t.Errorf("new sandbox on CPU %d, want the freed CPU %d", cpuC, cpuA)
	}

	// As many vCPUs as the server has: not pinned.
	if err := c.h.SetCPU(1000 * len(d.placer.cpus)); err != nil {
		t.Fatal(err)
	}
	wantAffinity(t, c, all)

	// Destroy gives back every placed milli.
	b.h.Destroy()
	c.h.Destroy()
	d.placer.mu.Lock()
	defer d.placer.mu.Unlock()
	for i, l := range d.placer.load {
		if l != 0 {
			t.Errorf("CPU %d still has %d millis placed", d.placer.cpus[i], l)
		}
	}
}

// TestLinuxNoCPUSet: without a usable cpuset hierarchy the driver works
// as before, without pinning.
func TestLinuxNoCPUSet(t *testing.T) {
	d := MustLinux(t)
	if d.parents[cgCPUSet] != "" {
		// As NewLinux leaves a driver whose cpuset is unusable.
		d.parents[cgCPUSet], d.own[cgCPUSet] = "", ""
		d.placer, d.noPinning = nil, fmt.Errorf("not pinning sandboxes to CPUs: test")
	}
	before, err := affinity(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p := MustStartProbe(t, d, Spec{CPUMillis: 1000}, "sleep")
	p.rec.waitHit(t, "/ready")
	if dir := p.h.(*linuxHandle).cg.dirs[cgCPUSet]; dir != "" {
		t.Fatalf("sandbox joined cpuset %s", dir)
	}
	if err := p.h.SetCPU(1000); err != nil {
		t.Fatal(err)
	}
	wantAffinity(t, p, before)
}
