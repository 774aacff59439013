// Package natsd runs the embedded NATS server with JetStream that holds all
// of Stratus's durable state.
//
// The server is in-process only: it opens no TCP port (DontListen) and
// clients reach it through an in-process connection. JetStream stores its
// data under Config.DataDir/jetstream and, by default, fsyncs every write
// before acknowledging it (SyncAlways; see DESIGN.md principle 7).
//
// Cluster options (routes, a cluster name, NATS URLs of an external
// cluster) are not built yet; they will be added to Config as a separate
// field without changing the single-node defaults.
package natsd

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxPayload is the largest message the server accepts: room for a 1 MiB
// asynchronous event or queue message with its headers.
const MaxPayload = 8 << 20

// Config configures the embedded server. Use DefaultConfig and override
// fields; the zero value is not valid (it has no DataDir and no fsync).
type Config struct {
	// DataDir is the Stratus data directory; JetStream stores its files in
	// DataDir/jetstream. Required.
	DataDir string
	// SyncAlways makes JetStream fsync every write before acknowledging
	// it. Default true. When false, JetStream syncs every two minutes and
	// acknowledged writes can be lost on an OS crash or power failure.
	SyncAlways bool
	// ServerName names this node. Empty lets NATS use its generated id;
	// set it to a stable name once cluster mode exists.
	ServerName string
	// MaxMemory and MaxStore limit JetStream's memory and file storage in
	// bytes; 0 keeps the NATS defaults (75% of RAM, up to 1 TB of disk).
	MaxMemory int64
	MaxStore  int64
	// StartTimeout bounds how long Start waits for the server to be ready.
	StartTimeout time.Duration
	// Logger receives the server's notices, warnings and errors. Nil turns
	// server logging off.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: fsync before ack, NATS's storage
// limits, a 10 s start timeout, no logging. DataDir must still be set.
func DefaultConfig() Config {
	return Config{SyncAlways: true, StartTimeout: 10 * time.Second}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("natsd: DataDir is required"))
	}
	if c.MaxMemory < 0 {
		errs = append(errs, fmt.Errorf("natsd: MaxMemory must not be negative, got %d", c.MaxMemory))
	}
	if c.MaxStore < 0 {
		errs = append(errs, fmt.Errorf("natsd: MaxStore must not be negative, got %d", c.MaxStore))
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("natsd: StartTimeout must be positive, got %s", c.StartTimeout))
	}
	if strings.ContainsAny(c.ServerName, " \t\r\n") {
		errs = append(errs, fmt.Errorf("natsd: ServerName %q must not contain spaces", c.ServerName))
	}
	return errors.Join(errs...)
}

// StoreDir returns the JetStream store directory for c.
func (c Config) StoreDir() string { return filepath.Join(c.DataDir, "jetstream") }

// Server is a running embedded NATS server with one shared in-process
// client connection.
type Server struct {
	cfg Config
	ns  *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream

	once sync.Once
}

// Start starts a server with cfg and waits until it accepts connections
// and JetStream is enabled.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		DontListen: true,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
		JetStream:  true,
		StoreDir:   cfg.StoreDir(),
		SyncAlways: cfg.SyncAlways,
		// Events and queue messages may be 1 MiB, plus headers; NATS's
		// default limit is exactly 1 MiB.
		MaxPayload: MaxPayload,
	}
	if cfg.MaxMemory > 0 {
		opts.JetStreamMaxMemory = cfg.MaxMemory
	}
	if cfg.MaxStore > 0 {
		opts.JetStreamMaxStore = cfg.MaxStore
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating nats server: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&slogAdapter{l: cfg.Logger}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(cfg.StartTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("starting nats server: not ready after %s", cfg.StartTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("starting jetstream in %s: not enabled (see server log)", opts.StoreDir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("stratus"),
		nats.MaxReconnects(-1))
	if err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("connecting in-process: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("creating jetstream context: %w", err)
	}
	return &Server{cfg: cfg, ns: ns, nc: nc, js: js}, nil
}

// Config returns the configuration s was started with.
func (s *Server) Config() Config { return s.cfg }

// NATS returns the underlying nats-server, for diagnostics and tests.
func (s *Server) NATS() *server.Server { return s.ns }

// Conn returns the shared in-process client connection. It fails once the
// connection is closed (after Shutdown).
func (s *Server) Conn() (*nats.Conn, error) {
	if s.nc.IsClosed() {
		return nil, errors.New("natsd: connection closed")
	}
	return s.nc, nil
}

// JetStream returns a JetStream context on the shared connection.
func (s *Server) JetStream() jetstream.JetStream { return s.js }

// Shutdown drains the shared connection (waiting for pending publishes and
// subscriptions to finish, bounded by nats.go's drain timeout), shuts the
// server down and waits until it has stopped. It is safe to call more than
// once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		if !s.nc.IsClosed() {
			closed := make(chan struct{})
			s.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
			if err := s.nc.Drain(); err != nil {
				s.nc.Close()
			} else {
				select {
				case <-closed:
				case <-time.After(30 * time.Second):
					s.nc.Close()
				}
			}
		}
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}
