// Package natsdtest starts embedded NATS servers with JetStream for tests:
// a fresh store in a temporary directory, shut down when the test ends.
package natsdtest

import (
	"testing"

	"github.com/stratus-dev/stratus/internal/natsd"
)

// Run starts a server whose store lives in t.TempDir() and shuts it down
// in t.Cleanup.
func Run(t testing.TB) *natsd.Server {
	t.Helper()
	return RunDir(t, t.TempDir())
}

// RunDir starts a server on dataDir, so that a test can shut one server
// down and start another on the same store. The server is shut down in
// t.Cleanup; shutting it down earlier is fine.
func RunDir(t testing.TB, dataDir string) *natsd.Server {
	t.Helper()
	cfg := natsd.DefaultConfig()
	cfg.DataDir = dataDir
	s, err := natsd.Start(cfg)
	if err != nil {
		t.Fatalf("starting nats server: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}
