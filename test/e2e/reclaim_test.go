package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestKeepAliveReclaims: an idle environment is shut down after the
// keep-alive (--keep-alive 1s); the next invoke is a cold start.
func TestKeepAliveReclaims(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--keep-alive", "1s"}})
	c := NewLambdaClient(srv.URL)
	const name = "keepalive-fn"
	mustCreateFunction(t, c, name, nil)
	if inv := invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil); !isCold(inv.Log) {
		t.Fatalf("first invoke was not a cold start:\n%s", inv.Log)
	}
	if n := serverStatus(t, srv).envsOf(name); n != 1 {
		t.Fatalf("%d environments after one invoke, want 1", n)
	}
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if d := serverStatus(t, srv); d.envsOf(name) != 0 || d.Memory.UsedMB != 0 {
			return fmt.Errorf("environments still live after the keep-alive: %v, %d MB used", d, d.Memory.UsedMB)
		}
		return nil
	})
	if got := metricValue(scrape(t, srv), "stratus_environments_reclaimed_total", "reason", "keep-alive"); got != 1 {
		t.Errorf("stratus_environments_reclaimed_total{reason=keep-alive} = %v, want 1", got)
	}
	if inv := invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil); !isCold(inv.Log) {
		t.Fatalf("invoke after reclaiming was not a cold start:\n%s", inv.Log)
	}
}

// TestMemoryBudget: with --memory-budget 256MB two 128 MB environments
// fit. A third function's cold start evicts the least recently used idle
// environment; when both environments are busy, a new one is throttled
// (429 ConcurrentInvocationLimitExceeded: like the account limit it caps
// environments running at once) rather than overcommitting the host.
func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--memory-budget", "256MB"}})
	c := NewLambdaClient(srv.URL)
	names := []string{"budget-a", "budget-b", "budget-c"}
	for _, n := range names {
		mustCreateFunction(t, c, n, nil) // 128 MB each
	}
	a, b, cc := names[0], names[1], names[2]
	var ra, rb sleepResult
	invoke(t, c, a, Event{Action: "sleep"}).mustSucceed(t, &ra)
	invoke(t, c, b, Event{Action: "sleep"}).mustSucceed(t, &rb) // a is now the least recently used
	if inv := invoke(t, c, cc, Event{Action: "echo"}).mustSucceed(t, nil); !isCold(inv.Log) {
		t.Fatalf("c's first invoke was not a cold start")
	}
	d := serverStatus(t, srv)
	if d.Memory.UsedMB > 256 || d.envsOf(a) != 0 || d.envsOf(b) != 1 || d.envsOf(cc) != 1 {
		t.Fatalf("after c's cold start: %d MB used, environments %v; want a's evicted (least recently used)", d.Memory.UsedMB, d)
	}
	var rb2 sleepResult
	if inv := invoke(t, c, b, Event{Action: "sleep"}).mustSucceed(t, &rb2); isCold(inv.Log) || rb2.Instance != rb.Instance {
		t.Errorf("b's environment did not survive; the least recently used one (a's) should have been evicted")
	}
	if got := metricValue(scrape(t, srv), "stratus_environments_reclaimed_total", "reason", "memory-budget"); got != 1 {
		t.Errorf("stratus_environments_reclaimed_total{reason=memory-budget} = %v, want 1", got)
	}

	// b and c busy: the budget is full and nothing idle can be evicted.
	var wg sync.WaitGroup
	for _, n := range []string{b, cc} {
		wg.Go(func() { invoke(t, c, n, Event{Action: "sleep", MS: 1500}).mustSucceed(t, nil) })
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if d := serverStatus(t, srv); d.Account.InUse != 2 {
			return fmt.Errorf("%d invocations in flight, want 2", d.Account.InUse)
		}
		return nil
	})
	inv, err := tryInvoke(t, c, a, Event{Action: "echo"})
	if got := throttles(t, []Invocation{inv}, []error{err}, types.ThrottleReasonConcurrentInvocationLimitExceeded); got != 1 {
		t.Errorf("a cold start beyond the memory budget was not throttled")
	}
	wg.Wait()
	if d := serverStatus(t, srv); d.Memory.UsedMB > 256 {
		t.Errorf("%d MB used, over the budget of 256", d.Memory.UsedMB)
	}
}
