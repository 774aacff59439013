package main

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMemorySizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"4096", 4096, true},
		{"512MB", 512, true},
		{"512 MiB", 512, true},
		{"256M", 256, true},
		{"8GB", 8192, true},
		{"2GiB", 2048, true},
		{"1G", 1024, true},
		{"", 0, false},
		{"lots", 0, false},
		{"-1", 0, false},
		{"1.5GB", 0, false},
	} {
		var m memorySize
		err := m.Set(tc.in)
		if (err == nil) != tc.ok || tc.ok && int(m) != tc.want {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tc.in, m, err, tc.want, tc.ok)
		}
	}
}

func TestScaleFlags(t *testing.T) {
	c, err := parseServerFlags([]string{"--account-concurrency", "5", "--scaling-rate", "3", "--scaling-period", "1m",
		"--memory-budget", "1GB", "--freeze-delay", "0s"}, []string{"STRATUS_SHUTDOWN_TIMEOUT=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountConcurrency != 5 || c.ScalingRate != 3 || c.ScalingPeriod != time.Minute || c.MemoryBudget != 1024 ||
		c.FreezeDelay != 0 || c.ShutdownTimeout != 5*time.Second {
		t.Fatalf("parsed %+v", c)
	}
	d := DefaultConfig()
	if d.AccountConcurrency != 1000 || d.ScalingRate != 1000 || d.ScalingPeriod != 10*time.Second ||
		d.MemoryBudget != 0 || d.ShutdownTimeout != 30*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	_, err = parseServerFlags([]string{"--account-concurrency", "0", "--scaling-rate", "0", "--memory-budget", "64MB",
		"--freeze-delay", "-1s"}, nil)
	for _, flag := range []string{"--account-concurrency", "--scaling-rate", "--memory-budget", "--freeze-delay"} {
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("invalid %s not reported: %v", flag, err)
		}
	}
}

func TestAsyncWorkerFlags(t *testing.T) {
	c, err := parseServerFlags([]string{"--async-workers", "32"}, []string{"STRATUS_ASYNC_MIN_WORKERS=4"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Async.Workers != 32 || c.Async.MinWorkers != 4 {
		t.Fatalf("parsed %+v", c.Async)
	}
	if d := DefaultConfig(); d.Async.Workers != 64 || d.Async.MinWorkers != 8*runtime.NumCPU() {
		t.Fatalf("defaults %+v", d.Async)
	}
	if _, err := parseServerFlags([]string{"--async-min-workers", "-1"}, nil); err == nil || !strings.Contains(err.Error(), "--async-min-workers") {
		t.Errorf("negative --async-min-workers not reported: %v", err)
	}
}
