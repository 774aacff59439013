package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratus-dev/stratus/internal/hostcpu"
)

// server is a stratus server the benchmark started on a temporary data dir.
type server struct {
	url   string
	cmd   *exec.Cmd
	dir   string
	http  *http.Client
	debug string // pprof listener URL, with -profile
}

// profileDir, set by -profile, receives CPU and allocation profiles of the
// server taken during the measured phases.
var profileDir string

// prebuilt, set by -stratus, is a server binary to measure instead of
// building one from the source tree (to compare two builds).
var prebuilt string

// serverProcs, set by -server-gomaxprocs, is the server's GOMAXPROCS (0:
// Go's default).
var serverProcs int

var readyRE = regexp.MustCompile(`Stratus ready at (http://\S+)`)

// build compiles the server and the fixture function into dir.
func build(root, dir string) error {
	if prebuilt != "" {
		data, err := os.ReadFile(prebuilt)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "stratus"), data, 0o755); err != nil {
			return err
		}
	} else if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "stratus"), "./cmd/stratus").CombinedOutput(); err != nil {
		return fmt.Errorf("building stratus: %v\n%s", err, out)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./bench/fixtures/noop")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the fixture: %v\n%s", err, out)
	}
	return nil
}

// startServer runs `stratus server` from dir with extra flags.
func startServer(dir string, args ...string) (*server, error) {
	data, err := os.MkdirTemp(dir, "data-")
	if err != nil {
		return nil, err
	}
	debug := ""
	if profileDir != "" {
		if debug, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--debug-listen", debug)
	}
	cmd := exec.Command(filepath.Join(dir, "stratus"), append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", data, "--log-level", "warn"}, args...)...)
	if serverProcs > 0 {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(serverProcs))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(data + ".log")
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
	}()
	select {
	case u := <-ready:
		tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, DisableCompression: true}
		s := &server{url: u, cmd: cmd, dir: dir, http: &http.Client{Transport: tr}}
		if debug != "" {
			s.debug = "http://" + debug
		}
		return s, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("server not ready after 60 s; see %s", logf.Name())
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// profile starts taking the server's CPU and allocation profiles over the
// next d, written to profileDir as cpu-<name>.pprof and allocs-<name>.pprof;
// wait for the returned function before reading them. Without -profile it
// does nothing.
func (s *server) profile(name string, d time.Duration) (wait func()) {
	if s.debug == "" {
		return func() {}
	}
	secs := strconv.Itoa(max(1, int(d.Seconds())))
	var wg sync.WaitGroup
	for _, kind := range []string{"profile", "allocs"} {
		file := filepath.Join(profileDir, map[string]string{"profile": "cpu", "allocs": "allocs"}[kind]+"-"+name+".pprof")
		wg.Go(func() {
			resp, err := http.Get(s.debug + "/debug/pprof/" + kind + "?seconds=" + secs)
			if err != nil {
				fmt.Fprintf(os.Stderr, "profile %s: %v\n", file, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(file)
			if err != nil {
				fmt.Fprintf(os.Stderr, "profile %s: %v\n", file, err)
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		})
	}
	return wg.Wait
}

// cpuTime is the CPU (user + system) the server process has used so far.
func (s *server) cpuTime() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// cpuSplit is CPU time used by the server, by this process (the load
// generator) and by the whole machine, read at one moment.
type cpuSplit struct{ server, load, machine time.Duration }

func (s *server) cpuNow() cpuSplit {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuSplit{server: s.cpuTime(), load: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), machine: machineBusy()}
}

// perInvoke renders the CPU used since c per invocation: the server's, the
// load generator's and the rest of the machine's (function processes and
// kernel work not charged to a process).
func (c cpuSplit) perInvoke(s *server, n int) string { return c.per(s, "invoke", n) }

// per renders the CPU used since c per one of n operations called op.
func (c cpuSplit) per(s *server, op string, n int) string {
	now := s.cpuNow()
	srv, load, all := now.server-c.server, now.load-c.load, now.machine-c.machine
	return fmt.Sprintf("CPU/%s: server %s, load generator %s, rest %s", op, perOp(srv, n), perOp(load, n), perOp(all-srv-load, n))
}

// machineBusy is the CPU time all CPUs spent not idle, from /proc/stat.
func machineBusy() time.Duration {
	idle, total, _ := hostcpu.Times()
	return time.Duration(total-idle) * time.Second / hostcpu.TicksPerSecond
}

// perOp renders d / n in microseconds.
func perOp(d time.Duration, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n))
}

// rssKB reads a process's resident set size.
func rssKB(pid int) int64 {
	return statusKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

func statusKB(path, field string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(line, field)), &kb)
			return kb
		}
	}
	return 0
}

// zipOf packs files (name → content) with mode 0755.
func zipOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		_, _ = w.Write(files[n])
	}
	_ = zw.Close()
	return buf.Bytes()
}

// createFunction deploys a function through the Lambda API.
func (s *server) createFunction(name, runtime, handler string, memory int, zip []byte) error {
	body, _ := json.Marshal(map[string]any{
		"FunctionName": name, "Runtime": runtime, "Handler": handler, "MemorySize": memory, "Timeout": 30,
		"Role": "arn:aws:iam::000000000000:role/bench", "Code": map[string]string{"ZipFile": base64.StdEncoding.EncodeToString(zip)},
	})
	resp, err := s.http.Post(s.url+"/2015-03-31/functions", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("CreateFunction %s: %s %s", name, resp.Status, b)
	}
	return nil
}

// invoke calls the Invoke API synchronously and returns the response body
// and, with tail, the decoded log tail.
func (s *server) invoke(name string, payload []byte, tail bool) ([]byte, string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/2015-03-31/functions/"+name+"/invocations", bytes.NewReader(payload))
	if tail {
		req.Header.Set("X-Amz-Log-Type", "Tail")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("invoke %s: %s %s", name, resp.Status, body)
	}
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		return nil, "", fmt.Errorf("invoke %s: function error %s", name, body)
	}
	var log string
	if tail {
		b, _ := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
		log = string(b)
	}
	return body, log, nil
}

// stats summarises durations.
type stats struct {
	n              int
	p50, p99, mean time.Duration
}

func summarize(d []time.Duration) stats {
	if len(d) == 0 {
		return stats{}
	}
	d = slices.Clone(d)
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return stats{n: len(d), p50: at(0.50), p99: at(0.99), mean: sum / time.Duration(len(d))}
}

func (st stats) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s mean=%s", st.n, ms(st.p50), ms(st.p99), ms(st.mean))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }

var initRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)
