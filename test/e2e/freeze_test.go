package e2e

import (
	"fmt"
	"testing"
	"time"
)

type counterResult struct {
	Before   int64  `json:"before"`
	After    int64  `json:"after"`
	Instance string `json:"instance"`
}

// TestFreezeBetweenInvokes: a function's background goroutine counts
// milliseconds. It counts while an invocation runs, and makes no progress
// while the environment is idle, because idle environments are frozen
// (cgroup freezer) and thawed for the next invocation.
func TestFreezeBetweenInvokes(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "freeze-fn"
	mustCreateFunction(t, c, name, nil)

	var first counterResult
	invoke(t, c, name, Event{Action: "counter", MS: 300}).mustSucceed(t, &first)
	if ran := first.After - first.Before; ran < 100 {
		t.Fatalf("the counter advanced %d during a 300 ms invocation; the background goroutine does not run", ran)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := serverStatus(t, srv).envsOf(name, "frozen"); n != 1 {
			return fmt.Errorf("%d frozen environments, want 1: %v", n, serverStatus(t, srv))
		}
		return nil
	})
	const idle = 1500 * time.Millisecond
	time.Sleep(idle)
	var second counterResult
	invoke(t, c, name, Event{Action: "counter"}).mustSucceed(t, &second)
	if second.Instance != first.Instance {
		t.Fatalf("second invoke ran in another environment")
	}
	// Unfrozen, the counter would advance by ~1500 while idle. Frozen, it
	// advances only for the freeze delay (10 ms) and while the response
	// and the next invocation travel.
	if progress := second.Before - first.After; progress > 150 {
		t.Errorf("the counter advanced %d while the environment was idle for %v; want no progress (frozen)", progress, idle)
	} else {
		t.Logf("counter advanced %d while idle for %v", progress, idle)
	}
}
