package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
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
	fs.BoolVar(&c.NoSyncAlways, "no-sync-always", c.NoSyncAlways,
		"do not fsync before acknowledging writes: faster, but acknowledged writes of the last ~2 minutes can be lost on an OS crash or power failure (STRATUS_NO_SYNC_ALWAYS)")
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
