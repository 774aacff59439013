// Command bench measures a Stratus server end to end: it builds the
// binary, starts a server on a temporary data dir, deploys its own fixture
// functions and prints p50/p99/mean with n for each part.
//
//	go run ./bench                 # every part
//	go run ./bench -parts warm,cold -n 2000
//
// Parts: warm (sync invoke latency, 20 B and 100 KB), throughput
// (invokes/s at concurrency 1, 4, 16, 64), cold (cold start end to end per
// runtime, with the Init Duration the REPORT line gives and the phases:
// sandbox creation, runtime start, function init, first response), density (idle
// warm environments: creation time, server RSS and host memory per
// environment), async (Event invokes accepted durably and executed per
// second), sqs (aws-sdk-go-v2: SendMessage/s, batched messages/s,
// receive+delete/s, queue → function through an event source mapping).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	parts := flag.String("parts", "warm,throughput,cold,density,async,sqs", "comma-separated parts to run")
	n := flag.Int("n", 2000, "invocations per latency measurement")
	dur := flag.Duration("duration", 5*time.Second, "duration of each throughput step")
	coldN := flag.Int("cold-n", 20, "cold starts per runtime")
	envs := flag.String("density", "100,1000", "idle environment counts for the density part")
	sqsN := flag.Int("sqs-n", 5000, "messages per SQS measurement (x10 for batches)")
	quick := flag.Bool("quick", false, "tiny sizes, to check that every part still runs (CI)")
	flag.IntVar(&benchMemory, "memory", benchMemory, "MemorySize (MB) of the warm/throughput/async function; 1769 MB is one vCPU")
	flag.StringVar(&profileDir, "profile", "", "directory for the server's CPU and allocation profiles of the warm, throughput and async measurements")
	flag.StringVar(&prebuilt, "stratus", "", "measure this stratus binary instead of building ./cmd/stratus")
	flag.IntVar(&serverProcs, "server-gomaxprocs", 0, "GOMAXPROCS of the server (0: Go's default, the number of CPUs)")
	flag.StringVar(&benchSandbox, "sandbox", benchSandbox, "sandbox driver of the server: linux or none")
	levels := flag.String("concurrency", "1,4,16,64", "concurrency levels of the throughput part")
	asyncSleep := flag.Duration("async-sleep", 0, "how long the function waits per event in the async part (0: a no-op)")
	flag.Parse()
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			fatal(err)
		}
	}
	throughputLevels = nil
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			fatal(fmt.Errorf("-concurrency %q: want positive numbers", *levels))
		}
		throughputLevels = append(throughputLevels, c)
	}
	if *quick {
		*n, *dur, *coldN, *envs, *sqsN = 50, 500*time.Millisecond, 2, "10", 100
	}
	root, err := moduleRoot()
	if err != nil {
		fatal(err)
	}
	dir, err := os.MkdirTemp("", "stratus-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chdir(root); err != nil {
		fatal(err)
	}
	if err := build(root, dir); err != nil {
		fatal(err)
	}
	fmt.Printf("# stratus bench %s, %s/%s, %d CPUs, GOMAXPROCS %d\n", time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	failed := false
	for _, p := range strings.Split(*parts, ",") {
		var err error
		switch p {
		case "warm":
			err = benchWarm(dir, *n)
		case "throughput":
			err = benchThroughput(dir, *dur)
		case "cold":
			err = benchCold(dir, *coldN)
		case "density":
			err = benchDensity(dir, *envs)
		case "async":
			err = benchAsync(dir, *dur, *asyncSleep)
		case "sqs":
			err = benchSQS(dir, *sqsN)
		default:
			err = fmt.Errorf("unknown part %q", p)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", p, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		d = parent
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
