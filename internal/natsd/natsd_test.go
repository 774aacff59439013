package natsd_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus/internal/natsd"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*natsd.Config)
		want []string
	}{
		{"default with dir", func(c *natsd.Config) { c.DataDir = "/x" }, nil},
		{"no dir", func(c *natsd.Config) {}, []string{"DataDir"}},
		{"all bad", func(c *natsd.Config) {
			c.MaxMemory, c.MaxStore, c.StartTimeout, c.ServerName = -1, -1, 0, "a b"
		}, []string{"DataDir", "MaxMemory", "MaxStore", "StartTimeout", "ServerName"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := natsd.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	if !natsd.DefaultConfig().SyncAlways {
		t.Error("SyncAlways must default to true")
	}
}

func TestKVSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	s := natsdtest.RunDir(t, dir)
	kv, err := s.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t"})
	if err != nil {
		t.Fatalf("creating bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatalf("putting: %v", err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v1" {
		t.Fatalf("get = %v, %v", e, err)
	}
	s.Shutdown()
	s.Shutdown() // idempotent
	if _, err := s.Conn(); err == nil {
		t.Error("Conn after Shutdown: no error")
	}

	s2 := natsdtest.RunDir(t, dir)
	kv2, err := s2.JetStream().KeyValue(ctx, "t")
	if err != nil {
		t.Fatalf("binding bucket after restart: %v", err)
	}
	e, err = kv2.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v1" {
		t.Fatalf("get after restart = %v, %v", e, err)
	}
	if nc, err := s2.Conn(); err != nil || !nc.IsConnected() {
		t.Fatalf("Conn = %v, %v", nc, err)
	}
}

func TestStartWithLogger(t *testing.T) {
	var b strings.Builder
	cfg := natsd.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ServerName = "n1"
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{b: &b}, nil))
	s, err := natsd.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	s.Shutdown()
	if !strings.Contains(b.String(), "component=nats") {
		t.Errorf("no server log lines routed to slog:\n%s", b.String())
	}
	if s.NATS().Name() != "n1" {
		t.Errorf("server name = %q", s.NATS().Name())
	}
}

func TestStartInvalid(t *testing.T) {
	if _, err := natsd.Start(natsd.Config{}); err == nil {
		t.Fatal("Start with zero Config: no error")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
