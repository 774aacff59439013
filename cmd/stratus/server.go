package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stratus-dev/stratus/internal/async"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
	"github.com/stratus-dev/stratus/internal/logs"
	"github.com/stratus-dev/stratus/internal/natsd"
	"github.com/stratus-dev/stratus/internal/pkgzip"
	"github.com/stratus-dev/stratus/internal/router"
	"github.com/stratus-dev/stratus/internal/sandbox"
	"github.com/stratus-dev/stratus/internal/sqs"
	"github.com/stratus-dev/stratus/internal/store"
	"github.com/stratus-dev/stratus/runtimes"
)

// Main is a running Stratus server: every component, wired. Tests drive it
// the way the stratus server command does: Run, then Close.
type Main struct {
	Config Config
	Logger *slog.Logger

	// URL is the edge URL, set by Run.
	URL string

	driver   sandbox.Driver
	nats     *natsd.Server
	store    *store.Store
	logs     *logs.Logs
	router   *router.Router
	conc     *store.Concurrency
	stopConc func() // unsubscribes the router from concurrency settings
	http     *http.Server
	listener net.Listener
	served   chan struct{}
	// DebugURL is the pprof listener's URL when --debug-listen is set.
	DebugURL  string
	stopDebug func()

	async          *async.Service
	stopAsyncWatch func() // unsubscribes async from function deletions

	queues queueServices // SQS and event source mappings (queues.go)
}

// Run starts the server and returns once it accepts requests. On error,
// whatever was started is stopped again.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	c := m.Config
	lg := m.Logger
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	if m.driver, err = newDriver(c, lg); err != nil {
		return err
	}

	ncfg := natsd.DefaultConfig()
	ncfg.DataDir = c.DataDir
	ncfg.SyncAlways = !c.NoSyncAlways
	// NATS's own notices are noise for operators; keep its warnings.
	ncfg.Logger = slog.New(minLevel{lg.Handler(), slog.LevelWarn})
	if m.nats, err = natsd.Start(ncfg); err != nil {
		return fmt.Errorf("starting embedded NATS: %w", err)
	}
	js := m.nats.JetStream()

	scfg := store.DefaultConfig()
	scfg.Logger = lg.With("component", "store")
	if m.store, err = store.Open(ctx, js, scfg); err != nil {
		return fmt.Errorf("opening the function store: %w", err)
	}
	lcfg := logs.DefaultConfig()
	if m.logs, err = logs.Open(ctx, js, lcfg); err != nil {
		return fmt.Errorf("opening the log store: %w", err)
	}

	ccfg := store.DefaultConcurrencyConfig()
	ccfg.Key = c.AccountID
	ccfg.Logger = lg.With("component", "store")
	if m.conc, err = store.OpenConcurrency(ctx, js, ccfg); err != nil {
		return fmt.Errorf("opening the concurrency settings: %w", err)
	}
	metrics := prometheus.NewRegistry()
	rcfg := router.DefaultConfig()
	rcfg.Region, rcfg.AccountID = c.Region, c.AccountID
	rcfg.CodeDir = filepath.Join(c.DataDir, "code")
	rcfg.Runtimes, rcfg.RuntimeDir = runtimes.FS(), filepath.Join(c.DataDir, "runtime")
	rcfg.KeepAlive = c.KeepAlive
	rcfg.AccountConcurrency = c.AccountConcurrency
	rcfg.ScaleRate, rcfg.ScalePeriod = c.ScalingRate, c.ScalingPeriod
	if c.MemoryBudget > 0 {
		rcfg.MemoryBudgetMB = int(c.MemoryBudget)
	}
	rcfg.FreezeDelay = c.FreezeDelay
	rcfg.Registerer = metrics
	rcfg.Logger = lg.With("component", "router")
	if m.router, err = router.New(rcfg, m.store, m.driver, m.logs); err != nil {
		return fmt.Errorf("starting the router: %w", err)
	}
	m.stopConc = m.wireConcurrency(ctx)
	if err := m.openAsync(ctx, js, metrics); err != nil {
		return err
	}
	if err := m.openQueues(ctx, js); err != nil {
		return err
	}
	m.setAsyncQueues(m.queues.sqs) // dead-letter queues and queue destinations
	metricsHandler := promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})

	lambda := lambdaapi.New(lambdaapi.Config{
		Region:    c.Region,
		AccountID: c.AccountID,
		HostArch:  hostArch(),
		Limits:    pkgzip.DefaultLimits(),
		Logger:    lg.With("component", "lambda"),

		AccountConcurrency: c.AccountConcurrency,
		Concurrency:        m.conc,
		Async:              m.async,
		EventInvokeConfigs: m.async,
		RuntimeVersion:     m.router.RuntimeVersion,

		EventSourceMappings: m.queues.esm,
	}, m.store, m.router)
	logsAPI := m.logs.Handler()

	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case lambdaapi.Match(r):
			lambda.ServeHTTP(w, r)
		case logs.Match(r):
			logsAPI.ServeHTTP(w, r)
		case sqs.Match(r):
			m.queues.api.ServeHTTP(w, r)
		case r.URL.Path == "/_stratus/health":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		case r.URL.Path == "/metrics":
			metricsHandler.ServeHTTP(w, r)
		case r.URL.Path == statusPath:
			m.serveStatus(w, r)
		default:
			lambda.ServeHTTP(w, r) // answers with an AWS-style error
		}
	})
	if c.DebugListen != "" {
		if m.DebugURL, m.stopDebug, err = serveDebug(c.DebugListen, lg); err != nil {
			return err
		}
	}
	if m.listener, err = net.Listen("tcp", c.Listen); err != nil {
		return fmt.Errorf("listening on %s: %w", c.Listen, err)
	}
	m.URL = "http://" + m.listener.Addr().String()
	m.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(lg.Handler(), slog.LevelDebug),
	}
	m.served = make(chan struct{})
	go func() {
		defer close(m.served)
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Error("edge listener failed", "err", err)
		}
	}()
	return nil
}

// Close stops accepting requests and invocations, lets invocations in
// flight finish (up to Config.ShutdownTimeout), stops every environment
// (SIGTERM, then SIGKILL after 2 s) and closes the stores.
func (m *Main) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if m.router != nil {
		// New invocations are refused from here on, whoever makes them;
		// the edge listener closes next.
		go func() { _ = m.router.Shutdown(ctx) }()
	}
	if m.http != nil {
		if err := m.http.Shutdown(ctx); err != nil {
			_ = m.http.Close() // the bound passed: cut what is left
		}
		<-m.served
	} else if m.listener != nil {
		_ = m.listener.Close()
	}
	if m.stopDebug != nil {
		m.stopDebug()
	}
	m.closeAsync()
	m.closeQueues()
	if m.router != nil {
		_ = m.router.Shutdown(ctx) // invocations not made over HTTP
		if m.stopConc != nil {
			m.stopConc()
		}
		_ = m.router.Close()
	}
	if m.conc != nil {
		_ = m.conc.Close()
	}
	if c, ok := m.driver.(io.Closer); ok {
		_ = c.Close()
	}
	if m.logs != nil {
		_ = m.logs.Close()
	}
	if m.store != nil {
		_ = m.store.Close()
	}
	if m.nats != nil {
		m.nats.Shutdown()
	}
}

// newDriver picks the sandbox driver. A host that cannot isolate makes the
// server refuse to start unless the operator chose --sandbox=none.
func newDriver(c Config, lg *slog.Logger) (sandbox.Driver, error) {
	if c.Sandbox == "none" {
		lg.Warn("UNSAFE: --sandbox=none: functions run as plain processes with the server's privileges, " +
			"without namespaces, cgroup limits or a private file system")
		return sandbox.NewNone(sandbox.NoneConfig{}), nil
	}
	lcfg := sandbox.DefaultLinuxConfig()
	lcfg.RunDir = filepath.Join(c.DataDir, "run")
	d, err := sandbox.NewLinux(lcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot sandbox functions: %w\n"+
			"Run stratus server as root on Linux with cgroup v1 (memory, cpu, pids, freezer), "+
			"or pass --sandbox=none to run functions without isolation (unsafe)", err)
	}
	if err := d.PinningError(); err != nil {
		lg.Warn("environments share all CPUs", "err", err)
	}
	return d, nil
}

// hostArch names the host's architecture as Lambda does.
func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

func runServer(ctx context.Context, args, environ []string) int {
	c, err := parseServerFlags(args, environ)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(os.Stderr, "stratus server: %v\n", err)
		return 2
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[c.LogLevel]
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	m := &Main{Config: c, Logger: lg}
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "stratus server: %v\n", err)
		return 1
	}
	lg.Info("stratus started", "url", m.URL, "data_dir", c.DataDir, "sandbox", c.Sandbox, "region", c.Region, "account", c.AccountID)
	fmt.Printf("Stratus ready at %s\n", m.URL)
	<-ctx.Done()
	lg.Info("shutting down")
	m.Close()
	lg.Info("stopped")
	return 0
}

// minLevel drops records below a level, whatever the wrapped handler's.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
