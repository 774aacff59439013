package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration, from flags and STRATUS_*
// environment variables (flags win).
type Config struct {
	Listen       string
	DataDir      string
	Region       string
	AccountID    string
	Sandbox      string // "linux" or "none"
	KeepAlive    time.Duration
	LogLevel     string
	NoSyncAlways bool
	// DebugListen, when set, serves Go's /debug/pprof/ profiles there (off
	// by default: profiles expose the server's internals).
	DebugListen string

	// Execution environments at scale (see router.Config).
	AccountConcurrency int
	ScalingRate        int
	ScalingPeriod      time.Duration
	MemoryBudget       memorySize // MB; 0 means half the host's memory
	FreezeDelay        time.Duration
	ShutdownTimeout    time.Duration

	Async asyncOptions // asynchronous invocation (async.go)
}

// DefaultConfig returns the defaults of DESIGN.md.
func DefaultConfig() Config {
	dir := ".stratus-data"
	if home, err := os.UserHomeDir(); err == nil {
		dir = filepath.Join(home, ".local", "share", "stratus")
	}
	return Config{
		Listen:    "127.0.0.1:4566",
		DataDir:   dir,
		Region:    "us-east-1",
		AccountID: "000000000000",
		Sandbox:   "linux",
		KeepAlive: 5 * time.Minute,
		LogLevel:  "info",

		AccountConcurrency: 1000,
		ScalingRate:        1000,
		ScalingPeriod:      10 * time.Second,
		FreezeDelay:        10 * time.Millisecond,
		ShutdownTimeout:    30 * time.Second,

		Async: defaultAsyncOptions(),
	}
}

var (
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRe = regexp.MustCompile(`^\d{12}$`)
)

// Validate reports every problem with c, each naming its flag.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %v", c.Listen, err))
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			errs = append(errs, fmt.Errorf("--debug-listen %q: %v", c.DebugListen, err))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is empty"))
	}
	if !regionRe.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("--region %q is not a region name like us-east-1", c.Region))
	}
	if !accountRe.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("--account-id %q is not 12 digits", c.AccountID))
	}
	if c.Sandbox != "linux" && c.Sandbox != "none" {
		errs = append(errs, fmt.Errorf("--sandbox %q: want linux or none", c.Sandbox))
	}
	if c.KeepAlive <= 0 {
		errs = append(errs, fmt.Errorf("--keep-alive %v must be positive", c.KeepAlive))
	}
	if c.AccountConcurrency < 1 {
		errs = append(errs, fmt.Errorf("--account-concurrency %d must be at least 1", c.AccountConcurrency))
	}
	if c.ScalingRate < 1 {
		errs = append(errs, fmt.Errorf("--scaling-rate %d must be at least 1", c.ScalingRate))
	}
	if c.ScalingPeriod <= 0 {
		errs = append(errs, fmt.Errorf("--scaling-period %v must be positive", c.ScalingPeriod))
	}
	if c.MemoryBudget != 0 && c.MemoryBudget < 128 {
		errs = append(errs, fmt.Errorf("--memory-budget %dMB is below 128MB (the smallest function)", c.MemoryBudget))
	}
	if c.FreezeDelay < 0 {
		errs = append(errs, fmt.Errorf("--freeze-delay %v is negative", c.FreezeDelay))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %v is negative", c.ShutdownTimeout))
	}
	errs = append(errs, c.Async.validate()...)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// parseServerFlags fills a Config from defaults, then STRATUS_* variables
// in environ, then args.
func parseServerFlags(args, environ []string) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("stratus server", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", c.Listen, "edge listener address (STRATUS_LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for durable state (STRATUS_DATA_DIR)")
	fs.StringVar(&c.Region, "region", c.Region, "AWS region this server pretends to be (STRATUS_REGION)")
	fs.StringVar(&c.AccountID, "account-id", c.AccountID, "AWS account id used in ARNs (STRATUS_ACCOUNT_ID)")
	fs.StringVar(&c.Sandbox, "sandbox", c.Sandbox, "execution environment isolation: linux or none (STRATUS_SANDBOX)")
	fs.DurationVar(&c.KeepAlive, "keep-alive", c.KeepAlive, "how long idle environments stay warm (STRATUS_KEEP_ALIVE)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (STRATUS_LOG_LEVEL)")
	fs.StringVar(&c.DebugListen, "debug-listen", c.DebugListen,
		"address serving Go's /debug/pprof/ profiles, e.g. 127.0.0.1:6060; off when empty (STRATUS_DEBUG_LISTEN)")
	fs.BoolVar(&c.NoSyncAlways, "no-sync-always", c.NoSyncAlways,
		"do not fsync before acknowledging writes: faster, but acknowledged writes of the last ~2 minutes can be lost on an OS crash or power failure (STRATUS_NO_SYNC_ALWAYS)")
	fs.IntVar(&c.AccountConcurrency, "account-concurrency", c.AccountConcurrency,
		"the account's concurrency limit: invocations running at once, all functions (STRATUS_ACCOUNT_CONCURRENCY)")
	fs.IntVar(&c.ScalingRate, "scaling-rate", c.ScalingRate,
		"new execution environments per --scaling-period one function may start (STRATUS_SCALING_RATE)")
	fs.DurationVar(&c.ScalingPeriod, "scaling-period", c.ScalingPeriod, "see --scaling-rate (STRATUS_SCALING_PERIOD)")
	fs.Var(&c.MemoryBudget, "memory-budget",
		"most memory (sum of MemorySize) of live execution environments, e.g. 4096, 512MB, 8GB; default half the host's memory (STRATUS_MEMORY_BUDGET)")
	fs.DurationVar(&c.FreezeDelay, "freeze-delay", c.FreezeDelay,
		"idle time after which an execution environment is frozen; doubled, up to 1s, for one thawed within 1s of being frozen (STRATUS_FREEZE_DELAY)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout,
		"on SIGTERM, how long in-flight invocations may take to finish (STRATUS_SHUTDOWN_TIMEOUT)")
	c.Async.register(fs)
	// Environment first, so that explicit flags override it.
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "STRATUS_") {
			env[k] = v
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := "STRATUS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := env[name]; ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return c, fmt.Errorf("--data-dir %q: %v", c.DataDir, err)
		}
		c.DataDir = abs
	}
	return c, c.Validate()
}

// memorySize is a flag value in MB: a number of MB, or a number with a
// unit (MB, MiB, M, GB, GiB, G; binary multiples either way).
type memorySize int

func (m *memorySize) String() string {
	if m == nil || *m == 0 {
		return ""
	}
	return strconv.Itoa(int(*m)) + "MB"
}

func (m *memorySize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1024}, {"GB", 1024}, {"G", 1024}, {"MiB", 1}, {"MB", 1}, {"M", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size like 4096, 512MB or 8GB", s)
	}
	*m = memorySize(n * mult)
	return nil
}
