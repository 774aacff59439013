package async_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

func TestEventRunsWithItsRequestIDAndGoesToOnSuccess(t *testing.T) {
	e := newEnv(t, "fn")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "fn", Qualifier: "$LATEST", OnSuccess: queueARN + "ok"})
	e.svc.Start()
	id := e.invokeAsync("fn", map[string]string{"hello": "world"})
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("ok")); n != 1 {
			return countWith(n, "on-success records")
		}
		return nil
	})
	calls := e.inv.callsOf(id, "fn")
	if len(calls) != 1 {
		t.Fatalf("invoked %d times, want once", len(calls))
	}
	if got := string(calls[0].Req.Payload); got != `{"hello":"world"}` {
		t.Errorf("payload %s", got)
	}
	r := mustRecord(t, e.queues.to("ok")[0].Body)
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != "Success" ||
		r.RequestContext.FunctionArn != fnARN+"fn:$LATEST" || r.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("requestContext %+v", r.RequestContext)
	}
	if r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != nil {
		t.Errorf("responseContext %+v", r.ResponseContext)
	}
	if string(r.RequestPayload) != `{"hello":"world"}` || string(r.ResponsePayload) != `{"hello":"world"}` {
		t.Errorf("payloads %s / %s", r.RequestPayload, r.ResponsePayload)
	}
}

func TestUnknownFunctionIsRefused(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "nope", Payload: []byte("{}")})
	if stratus.ErrorCode(err) != stratus.ENOTFOUND || !strings.Contains(stratus.ErrorMessage(err), fnARN[:len(fnARN)-len("123456789012:function:")]) {
		t.Fatalf("err = %v, want ENOTFOUND naming the ARN", err)
	}
}

func TestFunctionErrorsAreRetriedThenDeadLettered(t *testing.T) {
	e := newEnv(t, "bad")
	if _, err := e.fns.UpdateFunction(context.Background(), "bad", func(f *stratus.Function) error {
		f.DeadLetterTarget = queueARN + "dlq"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "bad", Qualifier: "$LATEST", OnFailure: queueARN + "failed"})
	e.inv.Fn = func(*stratus.InvokeRequest, int) (*stratus.InvokeResponse, error) {
		time.Sleep(150 * time.Millisecond) // the retry delay runs from the failure, not the start
		return functionError("boom")
	}
	reg := prometheus.NewRegistry()
	if err := e.svc.Register(reg); err != nil {
		t.Fatal(err)
	}
	e.svc.Start()
	id := e.invokeAsync("bad", map[string]int{"n": 1})
	checkFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("failed")); n != 1 {
			return countWith(n, "on-failure records")
		}
		return nil
	})
	calls := e.inv.callsOf(id, "")
	if len(calls) != 3 {
		t.Fatalf("invoked %d times, want 1 + 2 retries", len(calls))
	}
	// Retry delays 300 ms then 600 ms; message schedules fire on time,
	// give or take their granularity.
	for i, want := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond} {
		if gap := calls[i+1].At.Sub(calls[i].At) - 150*time.Millisecond; gap < want || gap > want+1500*time.Millisecond {
			t.Errorf("gap before retry %d = %v, want about %v", i+1, gap, want)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.inv.callsOf(id, "")); n != 3 {
		t.Errorf("invoked %d times after giving up", n)
	}

	dlq := e.queues.to("dlq")
	if len(dlq) != 1 {
		t.Fatalf("%d dead-letter messages, want 1", len(dlq))
	}
	if string(dlq[0].Body) != `{"n":1}` {
		t.Errorf("dead-letter body %s, want the original event", dlq[0].Body)
	}
	want := map[string]string{"RequestID": "String:" + id, "ErrorCode": "Number:200", "ErrorMessage": "String:boom"}
	for k, v := range want {
		a := dlq[0].Attrs[k]
		if a.DataType+":"+a.StringValue != v {
			t.Errorf("attribute %s = %+v, want %s", k, a, v)
		}
	}
	r := mustRecord(t, e.queues.to("failed")[0].Body)
	if r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 3 || r.RequestContext.RequestID != id {
		t.Errorf("requestContext %+v", r.RequestContext)
	}
	if r.ResponseContext.FunctionError == nil || *r.ResponseContext.FunctionError != "Unhandled" || r.ResponseContext.StatusCode != 200 {
		t.Errorf("responseContext %+v", r.ResponseContext)
	}
	var fe struct{ ErrorMessage string }
	if json.Unmarshal(r.ResponsePayload, &fe); fe.ErrorMessage != "boom" {
		t.Errorf("responsePayload %s", r.ResponsePayload)
	}
	if v := (counter(t, reg, "stratus_async_retries_total", "reason", "function_error")); v != 2 {
		t.Errorf("retries metric = %v, want 2", v)
	}
	if v := (counter(t, reg, "stratus_async_events_dropped_total", "reason", "retries_exhausted")); v != 1 {
		t.Errorf("dropped metric = %v, want 1", v)
	}
}

func TestMaximumRetryAttemptsZero(t *testing.T) {
	e := newEnv(t, "once")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "once", MaximumRetryAttempts: intp(0), OnFailure: fnARN + "sink"})
	if err := e.fns.CreateFunction(context.Background(), &stratus.Function{Name: "sink"}); err != nil {
		t.Fatal(err)
	}
	e.inv.Fn = func(req *stratus.InvokeRequest, _ int) (*stratus.InvokeResponse, error) {
		if req.FunctionName == "sink" {
			return &stratus.InvokeResponse{Payload: []byte("null")}, nil
		}
		return functionError("once")
	}
	e.svc.Start()
	id := e.invokeAsync("once", "x")
	// The on-failure destination is a function: it gets the record as an
	// asynchronous event.
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf("", "sink")); n != 1 {
			return countWith(n, "destination invocations")
		}
		return nil
	})
	if n := len(e.inv.callsOf(id, "once")); n != 1 {
		t.Errorf("invoked %d times with MaximumRetryAttempts 0", n)
	}
	r := mustRecord(t, e.inv.callsOf("", "sink")[0].Req.Payload)
	if r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 1 || string(r.RequestPayload) != `"x"` {
		t.Errorf("record %+v", r)
	}
}

func TestThrottledEventsBackOffUntilTheyExpire(t *testing.T) {
	e := newEnv(t, "busy")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "busy", MaximumEventAgeInSeconds: intp(60), OnFailure: queueARN + "failed"})
	e.inv.Fn = func(*stratus.InvokeRequest, int) (*stratus.InvokeResponse, error) {
		return nil, &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
	}
	e.svc.Start()
	id := e.invokeAsync("busy", "x")
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf(id, "")); n < 4 {
			return countWith(n, "throttled attempts")
		}
		return nil
	})
	calls := e.inv.callsOf(id, "")
	// Backoff 50, 100, 200 ms: doubling, not spinning.
	for i := 1; i < 4; i++ {
		want := 50 * time.Millisecond << (i - 1)
		if gap := calls[i].At.Sub(calls[i-1].At); gap < want*8/10 {
			t.Errorf("gap before attempt %d = %v, want at least %v", i+1, gap, want)
		}
	}
	if len(e.queues.to("failed")) != 0 {
		t.Fatal("gave up before the event was too old")
	}
	e.clock.Advance(61 * time.Second)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("failed")); n != 1 {
			return countWith(n, "on-failure records")
		}
		return nil
	})
	r := mustRecord(t, e.queues.to("failed")[0].Body)
	if r.RequestContext.Condition != "EventAgeExceeded" || r.ResponseContext.StatusCode != 429 || r.RequestContext.ApproximateInvokeCount != 0 {
		t.Errorf("record %+v", r)
	}
	n := len(e.inv.callsOf(id, ""))
	time.Sleep(600 * time.Millisecond)
	if m := len(e.inv.callsOf(id, "")); m != n {
		t.Errorf("attempts went on after the event expired: %d -> %d", n, m)
	}
}

func TestReservedConcurrencyZeroSkipsRetries(t *testing.T) {
	e := newEnv(t, "off")
	if _, err := e.fns.UpdateFunction(context.Background(), "off", func(f *stratus.Function) error {
		f.DeadLetterTarget = queueARN + "dlq"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "off", OnFailure: queueARN + "failed"})
	e.conc.set("off", true)
	e.inv.Fn = func(*stratus.InvokeRequest, int) (*stratus.InvokeResponse, error) {
		return nil, &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
	}
	e.svc.Start()
	id := e.invokeAsync("off", "x")
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("failed")) + len(e.queues.to("dlq")); n != 2 {
			return countWith(n, "deliveries")
		}
		return nil
	})
	if n := len(e.inv.callsOf(id, "")); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if a := e.queues.to("dlq")[0].Attrs["ErrorCode"]; a.StringValue != "429" {
		t.Errorf("ErrorCode %+v, want 429", a)
	}
	r := mustRecord(t, e.queues.to("failed")[0].Body)
	if r.RequestContext.Condition != "RetriesExhausted" || r.ResponseContext.StatusCode != 429 {
		t.Errorf("record %+v", r)
	}
}

func TestDeletedFunctionDropsEvent(t *testing.T) {
	e := newEnv(t, "gone")
	e.inv.Fn = func(req *stratus.InvokeRequest, _ int) (*stratus.InvokeResponse, error) {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", req.FunctionName)
	}
	reg := prometheus.NewRegistry()
	_ = e.svc.Register(reg)
	e.svc.Start()
	id := e.invokeAsync("gone", "x")
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if v := (counter(t, reg, "stratus_async_events_dropped_total", "reason", "function_not_found")); v != 1 {
			return fmt.Errorf("dropped = %v", v)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	if n := len(e.inv.callsOf(id, "")); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		b, err := e.svc.Backlog(context.Background())
		if err != nil || b["gone"] != 0 {
			return fmt.Errorf("backlog %v, %v", b, err)
		}
		return nil
	})
}

func TestFailedDestinationDeliveryIsCountedNotBlocking(t *testing.T) {
	e := newEnv(t, "fn")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "fn", OnSuccess: queueARN + "missing"})
	e.queues.fail.Store(true)
	reg := prometheus.NewRegistry()
	_ = e.svc.Register(reg)
	e.svc.Start()
	e.invokeAsync("fn", 1)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if v := (counter(t, reg, "stratus_async_destination_failures_total", "kind", "on_success", "target", "sqs")); v != 1 {
			return fmt.Errorf("failures = %v", v)
		}
		return nil
	})
	// The worker moved on.
	id := e.invokeAsync("fn", 2)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf(id, "")); n != 1 {
			return countWith(n, "invocations")
		}
		return nil
	})
}

func TestSameRequestIDIsQueuedOnce(t *testing.T) {
	e := newEnv(t, "fn")
	for range 3 {
		if _, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: []byte("1"), RequestID: "11111111-2222-4333-8444-555555555555"}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Start()
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf("11111111-2222-4333-8444-555555555555", "")); n != 1 {
			return countWith(n, "invocations")
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if n := len(e.inv.callsOf("", "")); n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

// TestQueuedEventsAndRetriesSurviveRestart: events accepted before a
// restart run after it, and a retry waiting for its delay keeps waiting
// and runs with its attempt count.
func TestQueuedEventsAndRetriesSurviveRestart(t *testing.T) {
	e := newEnv(t, "fn", "flaky")
	e.cfg.RetryDelays = []time.Duration{2 * time.Second}
	e.restart()
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "flaky", MaximumRetryAttempts: intp(1), OnSuccess: queueARN + "ok"})
	e.inv.Fn = func(req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) {
		if req.FunctionName == "flaky" && n == 1 {
			return functionError("first time")
		}
		return &stratus.InvokeResponse{Payload: []byte(`"fine"`), ExecutedVersion: "$LATEST"}, nil
	}
	e.svc.Start()
	flaky := e.invokeAsync("flaky", "x")
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := len(e.inv.callsOf(flaky, "")); n != 1 {
			return countWith(n, "invocations")
		}
		return nil
	})
	first := e.inv.callsOf(flaky, "")[0].At
	// Stop workers, queue more, restart everything on the same store.
	e.svc.Close(time.Second)
	e.svc = nil
	e.nats.Shutdown()
	e.nats = natsdtest.RunDir(e.t, e.dir)
	e.open()
	var ids []string
	for i := range 20 {
		ids = append(ids, e.invokeAsync("fn", i))
	}
	e.restart()
	e.svc.Start()
	checkFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		for _, id := range ids {
			if len(e.inv.callsOf(id, "")) == 0 {
				return fmt.Errorf("event %s has not run", id)
			}
		}
		if n := len(e.queues.to("ok")); n != 1 {
			return countWith(n, "flaky successes")
		}
		return nil
	})
	calls := e.inv.callsOf(flaky, "")
	if len(calls) != 2 {
		t.Fatalf("flaky ran %d times, want 2", len(calls))
	}
	if gap := calls[1].At.Sub(first); gap < 2*time.Second {
		t.Errorf("the retry ran %v after the first attempt, want its 2 s delay", gap)
	}
	if r := mustRecord(t, e.queues.to("ok")[0].Body); r.RequestContext.ApproximateInvokeCount != 2 {
		t.Errorf("approximateInvokeCount %d, want 2", r.RequestContext.ApproximateInvokeCount)
	}
}

func TestGroupCommitWritesBundles(t *testing.T) {
	e := newEnv(t, "fn")
	reg := prometheus.NewRegistry()
	_ = e.svc.Register(reg)
	const clients, each = 32, 20
	errs := make(chan error, clients)
	ids := make(chan string, clients*each)
	for c := range clients {
		go func() {
			for i := range each {
				id, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: []byte(fmt.Sprint(c*each + i))})
				if err != nil {
					errs <- err
					return
				}
				ids <- id
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	b, err := e.svc.Backlog(context.Background())
	if err != nil || b["fn"] != clients*each {
		t.Fatalf("backlog %v (%v), want %d events of fn", b, err, clients*each)
	}
	if n := histogramCount(t, reg, "stratus_async_commit_messages", "bundle"); n == 0 {
		t.Error("no group commit was written for 32 concurrent clients")
	}
	info, err := e.svc.Stream().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs >= clients*each {
		t.Errorf("%d events took %d messages: no bundles", clients*each, info.State.Msgs)
	}
	e.svc.Start()
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if n := len(e.inv.callsOf("", "fn")); n < clients*each {
			return countWith(n, "invocations")
		}
		return nil
	})
	seen := map[string]bool{}
	for _, c := range e.inv.callsOf("", "fn") {
		seen[c.Req.RequestID] = true
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("event %s did not run", id)
		}
	}
}

// counter returns the value of the counter name with the given label
// pairs, 0 if there is none.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func histogramCount(t testing.TB, reg *prometheus.Registry, name, mode string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "mode" && lp.GetValue() == mode {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

func TestLargestEventIsQueued(t *testing.T) {
	e := newEnv(t, "fn")
	payload := []byte(`"` + strings.Repeat("x", 1048574) + `"`)
	id, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: payload})
	if err != nil {
		t.Fatalf("queueing a 1 MiB event: %v", err)
	}
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if c := e.inv.callsOf(id, ""); len(c) != 1 || len(c[0].Req.Payload) != len(payload) {
			return fmt.Errorf("not run with its payload yet")
		}
		return nil
	})
}

// TestDisabledAfterAcceptanceWaits: an event accepted before its function
// got reserved concurrency 0 is throttled like any other: it backs off
// until it expires (or the function is enabled again).
func TestDisabledAfterAcceptanceWaits(t *testing.T) {
	e := newEnv(t, "paused")
	e.putConfig(&stratus.EventInvokeConfig{FunctionName: "paused", MaximumEventAgeInSeconds: intp(60), OnFailure: queueARN + "failed"})
	e.inv.Fn = func(*stratus.InvokeRequest, int) (*stratus.InvokeResponse, error) {
		return nil, &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
	}
	id := e.invokeAsync("paused", "x")
	e.conc.set("paused", true)
	e.svc.Start()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.inv.callsOf(id, "")); n < 3 {
			return countWith(n, "throttled attempts")
		}
		return nil
	})
	if n := len(e.queues.to("failed")); n != 0 {
		t.Fatalf("%d on-failure records before the event expired", n)
	}
	e.clock.Advance(61 * time.Second)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("failed")); n != 1 {
			return countWith(n, "on-failure records")
		}
		return nil
	})
	if r := mustRecord(t, e.queues.to("failed")[0].Body); r.RequestContext.Condition != "EventAgeExceeded" {
		t.Errorf("condition %s, want EventAgeExceeded", r.RequestContext.Condition)
	}
}

// TestDeadLetterQueueIsTheInvokedVersions: DeadLetterConfig is per
// version, so an event for a published version, or for an alias of it,
// goes to that version's dead-letter queue, not to $LATEST's.
func TestDeadLetterQueueIsTheInvokedVersions(t *testing.T) {
	e := newEnv(t, "versioned")
	ctx := context.Background()
	setDLQ := func(q string) {
		t.Helper()
		if _, err := e.fns.UpdateFunction(ctx, "versioned", func(f *stratus.Function) error {
			f.DeadLetterTarget = queueARN + q
			f.RevisionID = q
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setDLQ("dlq-v1")
	if _, _, err := e.fns.PublishVersion(ctx, "versioned", nil, nil); err != nil {
		t.Fatal(err)
	}
	setDLQ("dlq-latest")
	if err := e.fns.CreateAlias(ctx, &stratus.Alias{FunctionName: "versioned", Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"$LATEST", "1", "live"} {
		e.putConfig(&stratus.EventInvokeConfig{FunctionName: "versioned", Qualifier: q, MaximumRetryAttempts: intp(0)})
	}
	e.inv.Fn = func(req *stratus.InvokeRequest, _ int) (*stratus.InvokeResponse, error) {
		resp, err := functionError("versioned")
		if req.Qualifier != "" {
			resp.ExecutedVersion = "1" // "1" and "live" both run version 1
		}
		return resp, err
	}
	e.svc.Start()
	ids := map[string]string{} // request id -> qualifier
	for _, q := range []string{"", "1", "live"} {
		id, err := e.svc.InvokeAsync(ctx, &stratus.InvokeRequest{FunctionName: "versioned", Qualifier: q, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatalf("InvokeAsync(qualifier %q): %v", q, err)
		}
		ids[id] = q
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := len(e.queues.to("dlq-v1")) + len(e.queues.to("dlq-latest")); n != 3 {
			return countWith(n, "dead-letter messages")
		}
		return nil
	})
	got := map[string]string{} // qualifier -> queue
	for _, q := range []string{"dlq-v1", "dlq-latest"} {
		for _, m := range e.queues.to(q) {
			got[ids[m.Attrs["RequestID"].StringValue]] = q
		}
	}
	want := map[string]string{"": "dlq-latest", "1": "dlq-v1", "live": "dlq-v1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dead-letter queue by qualifier %v, want %v", got, want)
	}
}
