package esm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/esm"
	"github.com/stratus-dev/stratus/internal/mock"
	"github.com/stratus-dev/stratus/internal/natsd"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

const queueARN = "arn:aws:sqs:us-east-1:000000000000:q"

// fakeQueue is an in-memory stratus.QueueConsumer: received messages are
// in flight until deleted or until Redeliver makes them visible again.
type fakeQueue struct {
	mu       sync.Mutex
	fifo     bool
	visible  []*stratus.ReceivedMessage
	inflight map[string]*stratus.ReceivedMessage // by receipt handle
	deleted  map[string]int                      // message id -> times deleted
	receives atomic.Int64
}

func newFakeQueue(n int) *fakeQueue {
	q := &fakeQueue{inflight: map[string]*stratus.ReceivedMessage{}, deleted: map[string]int{}}
	for i := range n {
		q.visible = append(q.visible, &stratus.ReceivedMessage{MessageID: fmt.Sprintf("m%d", i), Body: fmt.Sprintf("body %d", i),
			MD5OfBody: "md5", SystemAttributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1"}})
	}
	return q
}

func (q *fakeQueue) QueueInfo(_ context.Context, arn string) (*stratus.QueueInfo, error) {
	if arn != queueARN {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "no queue")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return &stratus.QueueInfo{ARN: arn, FIFO: q.fifo, VisibilityTimeout: 30 * time.Second,
		Visible: int64(len(q.visible)), InFlight: int64(len(q.inflight))}, nil
}

func (q *fakeQueue) ReceiveMessages(ctx context.Context, _ string, max int, wait time.Duration) ([]*stratus.ReceivedMessage, error) {
	q.receives.Add(1)
	deadline := time.Now().Add(wait)
	for {
		q.mu.Lock()
		n := min(max, len(q.visible))
		out := q.visible[:n:n]
		q.visible = q.visible[n:]
		for _, m := range out {
			m.ReceiptHandle = fmt.Sprintf("%s-%d", m.MessageID, q.receives.Load())
			q.inflight[m.ReceiptHandle] = m
		}
		q.mu.Unlock()
		if len(out) > 0 || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (q *fakeQueue) DeleteMessages(_ context.Context, _ string, handles []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range handles {
		if m := q.inflight[h]; m != nil {
			delete(q.inflight, h)
			q.deleted[m.MessageID]++
		}
	}
	return nil
}

// redeliver makes in-flight messages visible again (a visibility timeout).
func (q *fakeQueue) redeliver() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for h, m := range q.inflight {
		delete(q.inflight, h)
		q.visible = append(q.visible, m)
	}
}

func (q *fakeQueue) done() (deleted, left int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.deleted), len(q.visible) + len(q.inflight)
}

type functions struct{}

func (functions) Function(_ context.Context, name string) (*stratus.Function, error) {
	if name != "fn" {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
	}
	return &stratus.Function{Name: name, Timeout: 3}, nil
}

func openService(t testing.TB, ns *natsd.Server, q *fakeQueue, inv *mock.Invoker) *esm.Service {
	t.Helper()
	cfg := esm.DefaultConfig()
	cfg.PollWait = 50 * time.Millisecond
	cfg.ScaleInterval = 20 * time.Millisecond
	cfg.BackoffMin = time.Millisecond
	s, err := esm.Open(context.Background(), ns.JetStream(), cfg, esm.Deps{Queues: q, Invoker: inv, Functions: functions{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func checkFor(t testing.TB, total time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", total, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func state(s *esm.Service, uuid, want string) func() error {
	return func() error {
		m, err := s.EventSourceMapping(context.Background(), uuid)
		if err != nil {
			return err
		}
		if m.State != want {
			return fmt.Errorf("state %s, want %s", m.State, want)
		}
		return nil
	}
}

// okInvoker succeeds; it records the largest number of concurrent
// invocations.
func okInvoker(concurrent, peak *atomic.Int32, delay time.Duration) *mock.Invoker {
	return &mock.Invoker{InvokeFn: func(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		n := concurrent.Add(1)
		defer concurrent.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(delay)
		return &stratus.InvokeResponse{Payload: []byte(`null`)}, nil
	}}
}

func TestLifecycleAndScaling(t *testing.T) {
	ns := natsdtest.Run(t)
	q := newFakeQueue(300)
	var concurrent, peak atomic.Int32
	s := openService(t, ns, q, okInvoker(&concurrent, &peak, 5*time.Millisecond))
	ctx := context.Background()
	m, err := s.CreateEventSourceMapping(ctx, &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn",
		Enabled: true, BatchSize: 2, MaximumConcurrency: 8})
	if err != nil || m.State != stratus.ESMCreating || m.StateTransitionReason != "USER_INITIATED" {
		t.Fatalf("create: %+v %v", m, err)
	}
	checkFor(t, 5*time.Second, state(s, m.UUID, stratus.ESMEnabled))
	checkFor(t, 20*time.Second, func() error {
		if d, left := q.done(); left > 0 {
			return fmt.Errorf("%d deleted, %d left", d, left)
		}
		return nil
	})
	if p := peak.Load(); p > 8 || p < 6 {
		t.Fatalf("peak concurrency %d, want it to scale up to MaximumConcurrency 8", p)
	}
	if _, err := s.CreateEventSourceMapping(ctx, &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn", Enabled: true, BatchSize: 1}); stratus.ErrorCode(err) != stratus.ECONFLICT {
		t.Fatalf("duplicate mapping: %v", err)
	}
	upd, err := s.UpdateEventSourceMapping(ctx, m.UUID, func(m *stratus.EventSourceMapping) error { m.Enabled = false; return nil })
	if err != nil || upd.State != stratus.ESMDisabling {
		t.Fatalf("disable: %+v %v", upd, err)
	}
	checkFor(t, 5*time.Second, state(s, m.UUID, stratus.ESMDisabled))
	time.Sleep(100 * time.Millisecond)
	before := q.receives.Load()
	time.Sleep(200 * time.Millisecond)
	if after := q.receives.Load(); after != before {
		t.Fatalf("a disabled mapping still receives (%d → %d)", before, after)
	}
	if _, err := s.UpdateEventSourceMapping(ctx, m.UUID, func(m *stratus.EventSourceMapping) error { m.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, state(s, m.UUID, stratus.ESMEnabled))

	// A new service on the same bucket (a restart) resumes the mapping.
	s.Close()
	q.mu.Lock()
	q.visible = append(q.visible, &stratus.ReceivedMessage{MessageID: "late", Body: "late"})
	q.mu.Unlock()
	s2 := openService(t, ns, q, okInvoker(&concurrent, &peak, 0))
	checkFor(t, 5*time.Second, func() error {
		if _, left := q.done(); left > 0 {
			return fmt.Errorf("%d left after the restart", left)
		}
		return nil
	})
	del, err := s2.DeleteEventSourceMapping(ctx, m.UUID)
	if err != nil || del.State != stratus.ESMDeleting {
		t.Fatalf("delete: %+v %v", del, err)
	}
	checkFor(t, 5*time.Second, func() error {
		if _, err := s2.EventSourceMapping(ctx, m.UUID); stratus.ErrorCode(err) != stratus.ENOTFOUND {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

func TestValidation(t *testing.T) {
	ns := natsdtest.Run(t)
	q := newFakeQueue(0)
	var c, p atomic.Int32
	s := openService(t, ns, q, okInvoker(&c, &p, 0))
	ctx := context.Background()
	for _, m := range []*stratus.EventSourceMapping{
		{EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:none", FunctionName: "fn", BatchSize: 1},
		{EventSourceARN: queueARN, FunctionName: "nope", BatchSize: 1},
	} {
		if _, err := s.CreateEventSourceMapping(ctx, m); err == nil {
			t.Errorf("create %+v succeeded", m)
		}
	}
	q.fifo = true
	if _, err := s.CreateEventSourceMapping(ctx, &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn", BatchSize: 11,
		MaximumBatchingWindowInSeconds: 1}); stratus.ErrorCode(err) != stratus.EINVALID {
		t.Errorf("FIFO batch size 11: %v", err)
	}
	if ms, _ := s.EventSourceMappings(ctx, "", ""); len(ms) != 0 {
		t.Fatalf("failed creates stored %d mappings", len(ms))
	}
}

// TestThrottleAndPartialFailures checks that throttled invokes are retried
// with the same batch, and that with ReportBatchItemFailures only the
// successes are deleted.
func TestThrottleAndPartialFailures(t *testing.T) {
	ns := natsdtest.Run(t)
	q := newFakeQueue(4)
	var calls atomic.Int32
	var mu sync.Mutex
	var payloads [][]byte
	inv := &mock.Invoker{InvokeFn: func(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		mu.Lock()
		payloads = append(payloads, req.Payload)
		mu.Unlock()
		if calls.Add(1) <= 2 {
			return nil, &stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded."}
		}
		var ev struct {
			Records []struct {
				MessageID string `json:"messageId"`
				Body      string `json:"body"`
			} `json:"Records"`
		}
		_ = json.Unmarshal(req.Payload, &ev)
		var failures []map[string]string
		for _, r := range ev.Records {
			if r.MessageID == "m1" {
				failures = append(failures, map[string]string{"itemIdentifier": r.MessageID})
			}
		}
		out, _ := json.Marshal(map[string]any{"batchItemFailures": failures})
		return &stratus.InvokeResponse{Payload: out}, nil
	}}
	cfg := esm.DefaultConfig()
	cfg.PollWait, cfg.BackoffMin, cfg.InitialPollers = 50*time.Millisecond, time.Millisecond, 1
	s, err := esm.Open(context.Background(), ns.JetStream(), cfg, esm.Deps{Queues: q, Invoker: inv, Functions: functions{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateEventSourceMapping(context.Background(), &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn",
		Enabled: true, BatchSize: 10, ReportBatchItemFailures: true, MaximumConcurrency: 2}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() error {
		if d, _ := q.done(); d < 3 {
			return fmt.Errorf("%d deleted", d)
		}
		return nil
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted["m1"] != 0 || len(q.inflight) != 1 {
		t.Fatalf("deleted %v, in flight %d: want all but the failed m1 deleted", q.deleted, len(q.inflight))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(payloads) < 3 || string(payloads[0]) != string(payloads[2]) {
		t.Fatalf("throttled invokes were not retried with the same batch (%d calls)", len(payloads))
	}
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(payloads[0], &ev); err != nil || len(ev.Records) != 4 {
		t.Fatalf("event %s", payloads[0])
	}
	r := ev.Records[0]
	for _, k := range []string{"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"} {
		if _, ok := r[k]; !ok {
			t.Errorf("record lacks %q: %v", k, r)
		}
	}
	if r["eventSource"] != "aws:sqs" || r["eventSourceARN"] != queueARN || r["awsRegion"] != "us-east-1" {
		t.Errorf("record %v", r)
	}
}

func TestRedeliveryAfterFunctionError(t *testing.T) {
	ns := natsdtest.Run(t)
	q := newFakeQueue(3)
	var calls atomic.Int32
	inv := &mock.Invoker{InvokeFn: func(context.Context, *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		if calls.Add(1) == 1 {
			return &stratus.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
		}
		return &stratus.InvokeResponse{}, nil
	}}
	s := openService(t, ns, q, inv)
	if _, err := s.CreateEventSourceMapping(context.Background(), &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn",
		Enabled: true, BatchSize: 10, MaximumConcurrency: 2}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() error {
		if calls.Load() < 1 {
			return fmt.Errorf("not invoked")
		}
		return nil
	})
	time.Sleep(50 * time.Millisecond)
	if d, _ := q.done(); d != 0 {
		t.Fatalf("a failed batch was deleted (%d)", d)
	}
	q.redeliver() // the visibility timeout ends
	checkFor(t, 5*time.Second, func() error {
		if d, left := q.done(); d != 3 || left != 0 {
			return fmt.Errorf("%d deleted, %d left", d, left)
		}
		return nil
	})
}

// TestBatchingWindow checks that a mapping with BatchSize above 10
// gathers several receives, for up to its batching window, into one
// invocation.
func TestBatchingWindow(t *testing.T) {
	ns := natsdtest.Run(t)
	q := newFakeQueue(25)
	var mu sync.Mutex
	var sizes []int
	inv := &mock.Invoker{InvokeFn: func(_ context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		var ev struct{ Records []json.RawMessage }
		_ = json.Unmarshal(req.Payload, &ev)
		mu.Lock()
		sizes = append(sizes, len(ev.Records))
		mu.Unlock()
		return &stratus.InvokeResponse{}, nil
	}}
	cfg := esm.DefaultConfig()
	cfg.PollWait, cfg.InitialPollers = 50*time.Millisecond, 1
	s, err := esm.Open(context.Background(), ns.JetStream(), cfg, esm.Deps{Queues: q, Invoker: inv, Functions: functions{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateEventSourceMapping(context.Background(), &stratus.EventSourceMapping{EventSourceARN: queueARN, FunctionName: "fn",
		Enabled: true, BatchSize: 20, MaximumBatchingWindowInSeconds: 1, MaximumConcurrency: 1}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() error {
		if d, left := q.done(); left > 0 {
			return fmt.Errorf("%d deleted, %d left", d, left)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 2 || sizes[0] != 20 || sizes[1] != 5 {
		t.Fatalf("invocations of %v records, want [20 5]", sizes)
	}
}
