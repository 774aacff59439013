package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchMemory, benchSandbox and throughputLevels are set by flags (see
// main).
var (
	benchMemory      = 1769
	benchSandbox     = "linux"
	throughputLevels = []int{1, 4, 16, 64}
)

// deployNoop starts a server and deploys the Go fixture as name.
func deployNoop(dir, name string, memory int, args ...string) (*server, error) {
	// Budget for 64 environments of the benchmark's size: the default (half
	// the host's RAM) would throttle 1769 MB functions beyond 6 at once.
	budget := strconv.Itoa(64*memory+1024) + "MB"
	s, err := startServer(dir, append([]string{"--sandbox", benchSandbox, "--memory-budget", budget}, args...)...)
	if err != nil {
		return nil, err
	}
	boot, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		s.stop()
		return nil, err
	}
	if err := s.createFunction(name, "provided.al2023", "bootstrap", memory, zipOf(map[string][]byte{"bootstrap": boot})); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// benchWarm measures warm synchronous invokes at concurrency 1: back to
// back (the runtime may still be on its way back to invocation/next when
// the next invoke arrives) and with a pause in between (it is waiting, as
// for a function invoked now and then; the pause is below the freeze
// delay, so no thaw is measured).
func benchWarm(dir string, n int) error {
	s, err := deployNoop(dir, "noop", benchMemory)
	if err != nil {
		return err
	}
	defer s.stop()
	small := []byte(`{"a":"0123456789ab"}`) // 20 bytes
	big := []byte(`"` + strings.Repeat("x", 100*1024-2) + `"`)
	for _, tc := range []struct {
		label   string
		payload []byte
		gap     time.Duration // pause between invokes; 0: back to back
	}{{"20 B", small, 0}, {"100 KB", big, 0}, {"20 B, 2 ms apart", small, 2 * time.Millisecond}} {
		for i := 0; i < 100; i++ { // the first is the cold start
			if _, _, err := s.invoke("noop", tc.payload, false); err != nil {
				return err
			}
		}
		d := make([]time.Duration, 0, n)
		// With -profile the loop also runs until the profile is taken.
		profiled := make(chan struct{})
		go func() {
			s.profile("warm-"+strings.NewReplacer(" ", "", ",", "-").Replace(tc.label), 3*time.Second)()
			close(profiled)
		}()
		if s.debug == "" {
			<-profiled
		}
		done := func(i int) bool {
			if i < n {
				return false
			}
			select {
			case <-profiled:
				return true
			default:
				return false
			}
		}
		cpu0 := s.cpuNow()
		for i := 0; !done(i); i++ {
			if tc.gap > 0 {
				time.Sleep(tc.gap)
			}
			t0 := time.Now()
			if _, _, err := s.invoke("noop", tc.payload, false); err != nil {
				return err
			}
			d = append(d, time.Since(t0))
		}
		fmt.Printf("warm invoke %-16s concurrency 1: %s; %s\n", tc.label, summarize(d), cpu0.perInvoke(s, len(d)))
	}
	return nil
}

// benchThroughput measures invokes/s at several concurrencies.
func benchThroughput(dir string, dur time.Duration) error {
	s, err := deployNoop(dir, "noop", benchMemory)
	if err != nil {
		return err
	}
	defer s.stop()
	payload := []byte(`{"a":"0123456789ab"}`)
	for _, c := range throughputLevels {
		run := func(d time.Duration) (ok, failed int64, lat []time.Duration) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			deadline := time.Now().Add(d)
			for g := 0; g < c; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var local []time.Duration
					for time.Now().Before(deadline) {
						t0 := time.Now()
						if _, _, err := s.invoke("noop", payload, false); err != nil {
							atomic.AddInt64(&failed, 1)
							continue
						}
						local = append(local, time.Since(t0))
						atomic.AddInt64(&ok, 1)
					}
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			return ok, failed, lat
		}
		run(dur / 5) // warm up: creates the environments
		wait := s.profile(fmt.Sprintf("c%d", c), dur)
		cpu0 := s.cpuNow()
		ok, failed, lat := run(dur)
		cpu := cpu0.perInvoke(s, int(ok))
		wait()
		fmt.Printf("throughput concurrency %2d: %.0f invokes/s, %d errors, latency %s; %s\n",
			c, float64(ok)/dur.Seconds(), failed, summarize(lat), cpu)
	}
	return nil
}

// coldFixtures are the functions deployed for cold starts, per runtime.
func coldFixtures(dir string) (map[string]func(i int) (runtime, handler string, zip []byte), error) {
	boot, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		return nil, err
	}
	return map[string]func(int) (string, string, []byte){
		"go": func(int) (string, string, []byte) {
			return "provided.al2023", "bootstrap", zipOf(map[string][]byte{"bootstrap": boot})
		},
		"python": func(int) (string, string, []byte) {
			return "python3.12", "app.handler", zipOf(map[string][]byte{"app.py": []byte("def handler(event, context):\n    return event\n")})
		},
		"node": func(int) (string, string, []byte) {
			return "nodejs20.x", "index.handler", zipOf(map[string][]byte{"index.js": []byte("exports.handler = async (event) => event;\n")})
		},
	}, nil
}

// benchCold measures cold starts end to end (invoke → response) with the
// Init Duration of the REPORT line, per runtime.
func benchCold(dir string, n int) error {
	s, err := startServer(dir)
	if err != nil {
		return err
	}
	defer s.stop()
	fixtures, err := coldFixtures(dir)
	if err != nil {
		return err
	}
	for _, rt := range []string{"go", "python", "node"} {
		var e2e, inits []time.Duration
		var names []string
		var skip error
		for i := 0; i < n && skip == nil; i++ {
			runtime, handler, zip := fixtures[rt](i)
			name := fmt.Sprintf("cold-%s-%d", rt, i)
			if err := s.createFunction(name, runtime, handler, 128, zip); err != nil {
				skip = err
				break
			}
			t0 := time.Now()
			_, log, err := s.invoke(name, []byte(`{}`), true)
			if err != nil {
				skip = err
				break
			}
			e2e = append(e2e, time.Since(t0))
			names = append(names, name)
			if m := initRE.FindStringSubmatch(log); m != nil {
				f, _ := strconv.ParseFloat(m[1], 64)
				inits = append(inits, time.Duration(f*1e6))
			}
		}
		if skip != nil {
			fmt.Printf("cold start %-6s: not measured: %v\n", rt, skip)
			continue
		}
		fmt.Printf("cold start %-6s end to end: %s; Init Duration (REPORT): %s\n", rt, summarize(e2e), summarize(inits))
		if err := s.printColdPhases(rt, names, e2e); err != nil {
			return err
		}
	}
	return nil
}

// printColdPhases breaks the cold starts of the functions names (one
// each, end to end e2e) into the platform's phases, as its
// stratus_cold_start_phase_seconds metric records them: sandbox creation
// (code, namespaces, cgroups, exec), runtime start (until the runtime's
// first Runtime API connection), function init (until its first
// invocation/next), and the first response (the rest of end to end: the
// invocation itself and both HTTP hops).
func (s *server) printColdPhases(rt string, names []string, e2e []time.Duration) error {
	phases, err := s.coldPhases()
	if err != nil {
		return err
	}
	var sandbox, start, init, first []time.Duration
	for i, name := range names {
		p, ok := phases[name]
		if !ok {
			return fmt.Errorf("no cold start phases in /metrics for %s", name)
		}
		sandbox, start, init = append(sandbox, p["sandbox"]), append(start, p["runtime"]), append(init, p["init"])
		first = append(first, e2e[i]-p["sandbox"]-p["runtime"]-p["init"])
	}
	fmt.Printf("cold start %-6s phases: sandbox creation %s; runtime start %s; function init %s; first response %s\n",
		rt, summarize(sandbox), summarize(start), summarize(init), summarize(first))
	return nil
}

// coldPhaseRE matches the per-function sums of the cold start phase
// histogram; every function of the cold part has exactly one cold start.
var coldPhaseRE = regexp.MustCompile(`(?m)^stratus_cold_start_phase_seconds_sum\{function="([^"]+)",phase="([^"]+)"\} (\S+)$`)

// coldPhases reads the cold start phases per function from /metrics.
func (s *server) coldPhases() (map[string]map[string]time.Duration, error) {
	resp, err := s.http.Get(s.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]time.Duration{}
	for _, m := range coldPhaseRE.FindAllStringSubmatch(string(body), -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %q: %w", m[0], err)
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]time.Duration{}
		}
		out[m[1]][m[2]] = time.Duration(v * float64(time.Second))
	}
	return out, nil
}

// benchDensity creates n idle warm environments at once and reports the
// time it took and memory per environment (server RSS growth, host
// MemAvailable drop).
func benchDensity(dir, counts string) error {
	for _, c := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(c)
		if err != nil {
			return err
		}
		s, err := deployNoop(dir, "idle", 128, "--memory-budget", strconv.Itoa(n*128+1024)+"MB")
		if err != nil {
			return err
		}
		if _, _, err := s.invoke("idle", []byte(`{}`), false); err != nil { // code unpacked, server warmed
			s.stop()
			return err
		}
		time.Sleep(500 * time.Millisecond)
		rss0 := rssKB(s.cmd.Process.Pid)
		avail0 := statusKB("/proc/meminfo", "MemAvailable:")
		sleep := max(3000, n*25)
		payload := []byte(fmt.Sprintf(`{"sleepMs":%d}`, sleep))
		var wg sync.WaitGroup
		var failed atomic.Int64
		t0 := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := s.invoke("idle", payload, false); err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "density: %v\n", err)
					}
				}
			}()
		}
		wg.Wait()
		wall := time.Since(t0) - time.Duration(sleep)*time.Millisecond
		time.Sleep(time.Second)
		rss1 := rssKB(s.cmd.Process.Pid)
		avail1 := statusKB("/proc/meminfo", "MemAvailable:")
		ok := int64(n) - failed.Load()
		fmt.Printf("density %d idle Go environments: %d created (%d failed), creation ≈ %s (%.2f ms/env), server RSS +%.2f MB/env, host memory +%.2f MB/env\n",
			n, ok, failed.Load(), wall.Round(time.Millisecond), float64(wall.Milliseconds())/float64(max(ok, 1)),
			float64(rss1-rss0)/1024/float64(max(ok, 1)), float64(avail0-avail1)/1024/float64(max(ok, 1)))
		s.stop()
	}
	return nil
}
