package async_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

// TestConcurrentEventsShareOneMessage: the events of concurrent callers
// that queue up while the committer is busy are stored as one message,
// and each runs once.
func TestConcurrentEventsShareOneMessage(t *testing.T) {
	e := newEnv(t, "fn")
	reg := prometheus.NewRegistry()
	_ = e.svc.Register(reg)
	resume := e.svc.StallCommits()
	const callers = 16
	ids := make(chan string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			id, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(fmt.Sprint(i))})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n := e.svc.QueuedCommits(); n != callers {
			return countWith(n, "queued publishes")
		}
		return nil
	})
	resume()
	wg.Wait()
	close(ids)
	info, err := e.svc.Stream().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("%d events of concurrent callers took %d messages, want 1", callers, info.State.Msgs)
	}
	if b, err := e.svc.Backlog(context.Background()); err != nil || b["fn"] != callers {
		t.Errorf("backlog %v (%v), want %d events of fn", b, err, callers)
	}
	if n := histogramCount(t, reg, "stratus_async_commit_messages", "bundle"); n != 1 {
		t.Errorf("%d group commits, want 1", n)
	}
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf("", "fn")); n != callers {
			return countWith(n, "invocations")
		}
		return nil
	})
	for id := range ids {
		if n := len(e.inv.callsOf(id, "")); n != 1 {
			t.Errorf("event %s ran %d times", id, n)
		}
	}
}

// TestBundleIsAckedWhenEveryEventSettled: of a bundle's three events one
// succeeds slowly, one fails with a function error and one is throttled;
// the last two run again as messages of their own while the first still
// runs, and the bundle is acknowledged only after the first finishes.
func TestBundleIsAckedWhenEveryEventSettled(t *testing.T) {
	e := newEnv(t, "mix")
	release := make(chan struct{})
	e.inv.Fn = func(req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) {
		switch string(req.Payload) {
		case `"slow"`:
			<-release
		case `"fail"`:
			if n == 1 {
				return functionError("once")
			}
		case `"busy"`:
			if n == 1 {
				return nil, &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded."}
			}
		}
		return &stratus.InvokeResponse{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
	}
	reg := prometheus.NewRegistry()
	_ = e.svc.Register(reg)
	ctx := context.Background()
	ids, err := e.svc.PublishBundle(ctx,
		&stratus.InvokeRequest{FunctionName: "mix", Payload: []byte(`"slow"`)},
		&stratus.InvokeRequest{FunctionName: "mix", Payload: []byte(`"fail"`)},
		&stratus.InvokeRequest{FunctionName: "mix", Payload: []byte(`"busy"`)})
	if err != nil {
		t.Fatal(err)
	}
	slow, fail, busy := ids[0], ids[1], ids[2]
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if f, b := len(e.inv.callsOf(fail, "")), len(e.inv.callsOf(busy, "")); f != 2 || b != 2 {
			return fmt.Errorf("fail ran %d times, busy %d", f, b)
		}
		return nil
	})
	// The retry and the backoff were messages of their own: the bundle
	// is still unacknowledged while its slow event runs.
	ci := consumerInfo(t, e)
	if ci.NumAckPending != 1 || ci.Delivered.Consumer != 3 || ci.NumRedelivered != 0 {
		t.Errorf("consumer: %d unacknowledged, %d deliveries, %d redelivered; want 1, 3 (the bundle, a retry, a backoff), 0",
			ci.NumAckPending, ci.Delivered.Consumer, ci.NumRedelivered)
	}
	if b, _ := e.svc.Backlog(ctx); b["mix"] != 3 {
		t.Errorf("backlog %v while the bundle runs, want its 3 events", b)
	}
	for reason, want := range map[string]float64{"function_error": 1, "throttled": 1} {
		if v := counter(t, reg, "stratus_async_retries_total", "reason", reason); v != want {
			t.Errorf("retries{%s} = %v, want %v", reason, v, want)
		}
	}
	close(release)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ci := consumerInfo(t, e)
		if ci.NumAckPending != 0 || ci.NumPending != 0 {
			return fmt.Errorf("%d unacknowledged, %d pending", ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
	if n := len(e.inv.callsOf(slow, "")); n != 1 {
		t.Errorf("slow ran %d times, want 1", n)
	}
	if b, _ := e.svc.Backlog(ctx); len(b) != 0 {
		t.Errorf("backlog %v after everything ran", b)
	}
}

// TestUnackedBundleRunsAgain: a bundle whose worker died before the ack
// is handed out again after AckWait, and all its events run again.
func TestUnackedBundleRunsAgain(t *testing.T) {
	e := newEnv(t, "fn")
	e.cfg.AckWait = time.Second
	e.restart()
	ctx := context.Background()
	ids, err := e.svc.PublishBundle(ctx,
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`1`)},
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	// A worker that fetches the bundle and dies.
	batch, err := e.svc.Consumer().Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if n != 1 {
		t.Fatalf("fetched %d messages, want the bundle", n)
	}
	start := time.Now()
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, id := range ids {
			if n := len(e.inv.callsOf(id, "")); n != 1 {
				return fmt.Errorf("event %s ran %d times", id, n)
			}
		}
		return nil
	})
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("the bundle ran again after %v, before its AckWait", d)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if ci := consumerInfo(t, e); ci.NumAckPending != 0 || ci.NumRedelivered != 0 {
			return fmt.Errorf("%d unacknowledged, %d redelivered", ci.NumAckPending, ci.NumRedelivered)
		}
		return nil
	})
}

// TestEventQueuedBeforeBundlesRuns: a message in the format of earlier
// versions (the event in headers) still runs, with its attempt count.
func TestEventQueuedBeforeBundlesRuns(t *testing.T) {
	e := newEnv(t, "old")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "old", OnSuccess: queueARN + "ok"})
	id, err := e.svc.PublishLegacy(context.Background(), "old", []byte(`{"v":0}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("ok")); n != 1 {
			return countWith(n, "on-success records")
		}
		return nil
	})
	r := mustRecord(t, e.queues.to("ok")[0].Body)
	if r.RequestContext.RequestID != id || r.RequestContext.ApproximateInvokeCount != 2 || string(r.RequestPayload) != `{"v":0}` {
		t.Errorf("record %+v", r)
	}
}

func consumerInfo(t testing.TB, e *env) *jetstream.ConsumerInfo {
	t.Helper()
	ci, err := e.svc.Consumer().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

// TestBundleRunningAtACrashRunsAgain: the server dies while a bundle's
// events run; after the restart the bundle is handed out again and every
// event in it runs again (at least once, as on Lambda).
func TestBundleRunningAtACrashRunsAgain(t *testing.T) {
	e := newEnv(t, "fn")
	e.cfg.AckWait = time.Second
	e.restart()
	release := make(chan struct{})
	e.inv.Fn = func(req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) {
		if n == 1 {
			<-release
		}
		return &stratus.InvokeResponse{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
	}
	ids, err := e.svc.PublishBundle(context.Background(),
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`1`)},
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf("", "fn")); n != 2 {
			return countWith(n, "invocations")
		}
		return nil
	})
	// The server goes away under the running events: their ack is lost.
	e.nats.Shutdown()
	close(release)
	e.svc.Close(time.Second)
	e.nats = natsdtest.RunDir(t, e.dir)
	e.open()
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, id := range ids {
			if n := len(e.inv.callsOf(id, "")); n != 2 {
				return fmt.Errorf("event %s ran %d times", id, n)
			}
		}
		if ci := consumerInfo(t, e); ci.NumAckPending != 0 || ci.NumPending != 0 {
			return fmt.Errorf("%d unacknowledged, %d pending", ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
}

// TestShutdownQueuesUnfinishedEventsAgain: at shutdown, the event cut
// short and the events still waiting for a worker are queued again as
// messages of their own, and the bundle is acknowledged; after the
// restart exactly those run again.
func TestShutdownQueuesUnfinishedEventsAgain(t *testing.T) {
	e := newEnv(t, "fn")
	e.cfg.Workers = 1
	e.restart()
	e.inv.FnCtx = func(ctx context.Context, req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) {
		if string(req.Payload) == `"stuck"` && n == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &stratus.InvokeResponse{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
	}
	ids, err := e.svc.PublishBundle(context.Background(),
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`"stuck"`)},
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`"a"`)},
		&stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(`"b"`)})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf(ids[0], "")); n != 1 {
			return countWith(n, "invocations of the stuck event")
		}
		return nil
	})
	e.svc.Close(5 * time.Second)
	if n := len(e.inv.callsOf("", "")); n != 1 {
		t.Fatalf("%d invocations before the shutdown, want 1 (one worker)", n)
	}
	if ci := consumerInfo(t, e); ci.NumAckPending != 0 || ci.NumPending < 1 || ci.NumPending > 3 {
		t.Errorf("after shutdown: %d unacknowledged, %d pending; want the bundle acked and its 3 events queued again",
			ci.NumAckPending, ci.NumPending)
	}
	if b, err := e.svc.Backlog(context.Background()); err != nil || b["fn"] != 3 {
		t.Errorf("backlog after shutdown %v (%v), want 3 events of fn", b, err)
	}
	e.open()
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, want := range []int{2, 1, 1} {
			if n := len(e.inv.callsOf(ids[i], "")); n != want {
				return fmt.Errorf("event %d ran %d times, want %d", i, n, want)
			}
		}
		return nil
	})
}

// TestWorkersAdaptToIdleCPU: with Workers 8 and MinWorkers 2, a backlog
// of waiting events runs 8 at once when the host's CPUs are idle, and at
// most 2 at once when they are busy.
func TestWorkersAdaptToIdleCPU(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idlePct  uint64 // of each interval's CPU time
		min, max int64  // bounds of the most events seen running at once
	}{
		{"idle", 50, 8, 8},
		{"busy", 0, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fn")
			e.cfg.Workers, e.cfg.MinWorkers = 8, 2
			e.restart()
			var idle, total atomic.Uint64
			e.svc.SetCPUTimes(func() (uint64, uint64, bool) {
				return idle.Add(tc.idlePct), total.Add(100), true
			})
			var running, peak atomic.Int64
			e.inv.FnCtx = func(ctx context.Context, req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) {
				now := running.Add(1)
				for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
				}
				time.Sleep(40 * time.Millisecond)
				running.Add(-1)
				return &stratus.InvokeResponse{Payload: []byte("null"), ExecutedVersion: "$LATEST"}, nil
			}
			const n = 80
			for i := range n {
				e.invokeAsync("fn", i)
			}
			e.svc.Start()
			checkFor(t, 30*time.Second, 20*time.Millisecond, func() error {
				if c := len(e.inv.callsOf("", "fn")); c < n {
					return countWith(c, "invocations")
				}
				return nil
			})
			if p := peak.Load(); p < tc.min || p > tc.max {
				t.Fatalf("at most %d events ran at once, want %d–%d", p, tc.min, tc.max)
			}
		})
	}
}
