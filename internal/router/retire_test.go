package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
	"github.com/stratus-dev/stratus/internal/store"
)

// idleEnv puts a stand-in environment (no sandbox: it is not live, so
// destroying it does nothing) on the idle stack of key.
func (r *Router) idleEnv(key, revision string) *env {
	e := &env{id: key + "@" + revision, key: key, revision: revision, idle: true}
	r.mu.Lock()
	r.idle[key] = append(r.idle[key], e)
	r.mu.Unlock()
	return e
}

func (r *Router) idleIDs(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, e := range r.idle[key] {
		ids = append(ids, e.id)
	}
	return ids
}

// TestRetireOnChange drives retirement through a real store: a change of
// $LATEST, on this node or another, retires idle environments of the old
// configuration and nothing else; a delete retires every version's.
func TestRetireOnChange(t *testing.T) {
	ctx := context.Background()
	js := natsdtest.Run(t).JetStream()
	open := func() *store.Store {
		s, err := store.Open(ctx, js, store.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	local, remote := open(), open()
	fn := &stratus.Function{Name: "f", Runtime: "provided.al2023", RevisionID: "r1"}
	if err := local.CreateFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	r := newTestRouter(t, local, nil)
	r.idleEnv("f:$LATEST", "r1")
	r.idleEnv("f:1", "v1")
	r.idleEnv("g:$LATEST", "x")

	wait := func(key string, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := fmt.Sprint(r.idleIDs(key))
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("idle %s = %s, want %s", key, got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// A change that keeps the RevisionID (tags, publishing) retires nothing.
	if _, err := local.UpdateFunction(ctx, "f", func(f *stratus.Function) error { f.Tags = map[string]string{"a": "b"}; return nil }); err != nil {
		t.Fatal(err)
	}
	// A configuration change from another node retires the old $LATEST
	// environment, and one started on the new configuration (once this
	// node sees it) stays.
	revisionIs := func(s *store.Store, rev string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if f, err := s.Function(ctx, "f"); err == nil && f.RevisionID == rev {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("store never saw revision %s", rev)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	revisionIs(remote, "r1")
	if _, err := remote.UpdateFunction(ctx, "f", func(f *stratus.Function) error {
		f.Environment = map[string]string{"NEW": "1"}
		f.RevisionID = "r2"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	revisionIs(local, "r2")
	r.idleEnv("f:$LATEST", "r2")
	wait("f:$LATEST", "[f:$LATEST@r2]")
	time.Sleep(50 * time.Millisecond) // late reports must not retire it either
	wait("f:$LATEST", "[f:$LATEST@r2]")
	if got := fmt.Sprint(r.idleIDs("f:1")); got != "[f:1@v1]" {
		t.Errorf("a published version's environment was retired: %s", got)
	}

	if err := local.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	wait("f:$LATEST", "[]")
	wait("f:1", "[]")
	if got := fmt.Sprint(r.idleIDs("g:$LATEST")); got != "[g:$LATEST@x]" {
		t.Errorf("another function's environment was retired: %s", got)
	}
}
