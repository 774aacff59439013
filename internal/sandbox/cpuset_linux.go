package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// CPU placement (see the package doc): every environment has a cpuset
// cgroup, which starts with all of the server's CPUs; SetCPU narrows it to
// the ceil(millis/1000) least loaded CPUs of a cpuPlacer.

// cpuPlacer is the driver-wide placement table: it hands each environment
// the CPUs with the least millis placed on them so far. Its methods are
// safe for concurrent use.
type cpuPlacer struct {
	cpus []int // usable CPUs, ascending; read-only

	mu   sync.Mutex
	load []int // mu guards load: millis placed on cpus[i]
}

// cpuPlacement is where one environment runs: on cpus, with its millis
// spread evenly over them. The zero value is all CPUs, nothing accounted.
type cpuPlacement struct {
	cpus   []int // ascending; nil = every usable CPU
	millis int
}

func newCPUPlacer(cpus []int) *cpuPlacer {
	return &cpuPlacer{cpus: cpus, load: make([]int, len(cpus))}
}

// place accounts an environment of millis thousandths of a CPU and
// returns its CPUs: the k = ceil(millis/1000) CPUs with the least placed
// millis, ties going to the lowest CPU number. millis 0 (unlimited) and
// k >= the number of usable CPUs mean no pinning: the zero placement.
func (p *cpuPlacer) place(millis int) cpuPlacement {
	k := millis / 1000
	if millis%1000 != 0 {
		k++
	}
	if millis <= 0 || k >= len(p.cpus) {
		return cpuPlacement{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := make([]int, len(p.cpus))
	for i := range idx {
		idx[i] = i
	}
	// Stable on ascending CPUs, so equal loads keep the lowest CPU first.
	slices.SortStableFunc(idx, func(a, b int) int { return p.load[a] - p.load[b] })
	idx = idx[:k]
	slices.Sort(idx)
	pl := cpuPlacement{cpus: make([]int, k), millis: millis}
	for j, i := range idx {
		pl.cpus[j] = p.cpus[i]
		p.load[i] += pl.share(j)
	}
	return pl
}

// release takes back what place accounted for pl.
func (p *cpuPlacer) release(pl cpuPlacement) {
	if pl.cpus == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for j, cpu := range pl.cpus {
		if i, ok := slices.BinarySearch(p.cpus, cpu); ok {
			p.load[i] -= pl.share(j)
		}
	}
}

// share is the part of pl.millis placed on pl.cpus[j]: an even split,
// the remainder going to the first CPUs, so that the shares add up.
func (pl cpuPlacement) share(j int) int {
	k := len(pl.cpus)
	s := pl.millis / k
	if j < pl.millis%k {
		s++
	}
	return s
}

// cpusValue is the cpuset.cpus value of pl; all is the value for every
// usable CPU.
func (pl cpuPlacement) cpusValue(all string) string {
	if pl.cpus == nil {
		return all
	}
	return formatCPUList(pl.cpus)
}

// parseCPUList parses the kernel's CPU list format ("0-3,5", as in
// cpuset.cpus; an empty list is "") into ascending, distinct CPU numbers.
func parseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	var cpus []int
	if s == "" {
		return cpus, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 0 || last < first || last-first >= 1<<16 {
			return nil, fmt.Errorf("parsing CPU list %q: bad element %q", s, part)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// formatCPUList renders ascending, distinct CPU numbers in the kernel's
// list format, runs of consecutive CPUs as ranges: [0 1 2 5] -> "0-2,5".
func formatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// cpusetParent is the driver's level of the cpuset hierarchy.
type cpusetParent struct {
	cpus []int  // the usable CPUs: cpuset.cpus of the level, ascending
	mems string // its cpuset.mems, given to every sandbox
}

// setupCPUSet creates the driver's levels of the cpuset hierarchy down to
// dir (<own cpuset>/<CgroupName>/<pid>), each with the CPUs and memory
// nodes of its parent (a new cpuset v1 directory has none and refuses
// tasks), and reads what the sandboxes can use. On error it removes dir.
func setupCPUSet(own, dir string) (cpusetParent, error) {
	var cp cpusetParent
	rel, err := filepath.Rel(own, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return cp, fmt.Errorf("cpuset %s is not under %s", dir, own)
	}
	parent := own
	for _, name := range strings.Split(rel, string(filepath.Separator)) {
		level := filepath.Join(parent, name)
		if err := mkdirCPUSet(parent, level); err != nil {
			_ = unix.Rmdir(dir)
			return cp, err
		}
		parent = level
	}
	cpus, err := os.ReadFile(filepath.Join(dir, "cpuset.cpus"))
	if err == nil {
		cp.cpus, err = parseCPUList(string(cpus))
	}
	var mems []byte
	if err == nil {
		mems, err = os.ReadFile(filepath.Join(dir, "cpuset.mems"))
		cp.mems = strings.TrimSpace(string(mems))
	}
	if err == nil && (len(cp.cpus) == 0 || cp.mems == "") {
		err = fmt.Errorf("cpuset %s has no CPUs or no memory nodes", dir)
	}
	if err != nil {
		_ = unix.Rmdir(dir)
		return cp, fmt.Errorf("reading cpuset %s: %w", dir, err)
	}
	return cp, nil
}

// mkdirCPUSet creates the cpuset dir (an existing one is kept) and gives
// it parent's cpuset.cpus and cpuset.mems where it has none.
func mkdirCPUSet(parent, dir string) error {
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("reading cpuset: %w", err)
		}
		if len(strings.TrimSpace(string(cur))) > 0 {
			continue
		}
		v, err := os.ReadFile(filepath.Join(parent, name))
		if err != nil {
			return fmt.Errorf("reading cpuset: %w", err)
		}
		if len(strings.TrimSpace(string(v))) == 0 {
			return fmt.Errorf("cpuset %s has no %s", parent, name)
		}
		if err := writeCgroupFile(dir, name, strings.TrimSpace(string(v))); err != nil {
			return err
		}
	}
	return nil
}
