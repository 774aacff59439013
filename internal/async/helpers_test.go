package async_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/async"
	"github.com/stratus-dev/stratus/internal/mock"
	"github.com/stratus-dev/stratus/internal/natsd"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	queueARN    = "arn:aws:sqs:us-east-1:123456789012:"
	fnARN       = "arn:aws:lambda:us-east-1:123456789012:function:"
)

// call is one invocation the fake invoker saw.
type call struct {
	Req *stratus.InvokeRequest
	At  time.Time
}

// fakeInvoker records invocations and answers with FnCtx or Fn (success
// with the payload echoed when both are nil).
type fakeInvoker struct {
	mu    sync.Mutex
	calls []call
	count atomic.Int64
	Fn    func(req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error) // n: calls of this request id so far, 1-based
	FnCtx func(ctx context.Context, req *stratus.InvokeRequest, n int) (*stratus.InvokeResponse, error)
}

func (f *fakeInvoker) Invoke(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
	f.count.Add(1)
	f.mu.Lock()
	c := *req
	f.calls = append(f.calls, call{Req: &c, At: time.Now()})
	n := 0
	for _, cl := range f.calls {
		if cl.Req.RequestID == req.RequestID {
			n++
		}
	}
	fn, fnCtx := f.Fn, f.FnCtx
	f.mu.Unlock()
	if fnCtx != nil {
		return fnCtx(ctx, req, n)
	}
	if fn == nil {
		return &stratus.InvokeResponse{RequestID: req.RequestID, Payload: req.Payload, ExecutedVersion: "$LATEST"}, nil
	}
	return fn(req, n)
}

// callsOf returns the invocations of request id (or of function name when
// id is "" ), in order.
func (f *fakeInvoker) callsOf(id, function string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if (id == "" || c.Req.RequestID == id) && (function == "" || c.Req.FunctionName == function) {
			out = append(out, c)
		}
	}
	return out
}

func functionError(msg string) (*stratus.InvokeResponse, error) {
	return &stratus.InvokeResponse{
		Payload:         []byte(`{"errorMessage":"` + msg + `","errorType":"errorString"}`),
		FunctionError:   "Unhandled",
		ExecutedVersion: "$LATEST",
	}, nil
}

// sentMessage is one message the fake queue sender got.
type sentMessage struct {
	Queue string
	Body  []byte
	Attrs map[string]async.Attribute
}

type fakeQueues struct {
	mu   sync.Mutex
	sent []sentMessage
	fail atomic.Bool
}

func (q *fakeQueues) SendMessage(_ context.Context, arn string, body []byte, attrs map[string]async.Attribute) error {
	if q.fail.Load() {
		return stratus.Errorf(stratus.ENOTFOUND, "The specified queue does not exist.")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sentMessage{Queue: arn, Body: append([]byte(nil), body...), Attrs: attrs})
	return nil
}

func (q *fakeQueues) to(queue string) []sentMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []sentMessage
	for _, m := range q.sent {
		if m.Queue == queueARN+queue {
			out = append(out, m)
		}
	}
	return out
}

// fakeConcurrency reports reserved concurrency 0 for the functions in it.
type fakeConcurrency struct {
	mu       sync.Mutex
	disabled map[string]bool // mu guards disabled
}

func (c *fakeConcurrency) set(fn string, disabled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disabled[fn] = disabled
}

func (c *fakeConcurrency) Concurrency(context.Context) (*stratus.ConcurrencyConfig, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc := &stratus.ConcurrencyConfig{Reserved: map[string]int{}}
	for fn, off := range c.disabled {
		if off {
			cc.Reserved[fn] = 0
		}
	}
	return cc, nil
}

// clock is a settable offset on the real time, so that tests can age
// events without waiting.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration)         { c.offset.Add(int64(d)) }
func (c *clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// env is a Service on a real JetStream with fakes at the stratus
// interfaces.
type env struct {
	t      testing.TB
	nats   *natsd.Server
	dir    string
	fns    *mock.MemoryFunctionService
	inv    *fakeInvoker
	queues *fakeQueues
	conc   *fakeConcurrency
	clock  *clock
	cfg    async.Config
	svc    *async.Service
}

// testConfig scales the delays down: retries after 300 ms and 600 ms,
// backoff from 50 ms.
func testConfig() async.Config {
	cfg := async.DefaultConfig()
	cfg.Region, cfg.AccountID = testRegion, testAccount
	cfg.RetryDelays = []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
	cfg.BackoffMin = 50 * time.Millisecond
	cfg.BackoffMax = 400 * time.Millisecond
	cfg.DeliveryBackoff = 10 * time.Millisecond
	cfg.AckWait = 3 * time.Second
	cfg.Workers = 8
	return cfg
}

func newEnv(t testing.TB, functions ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), fns: mock.NewMemoryFunctionService(), inv: &fakeInvoker{},
		queues: &fakeQueues{}, conc: &fakeConcurrency{disabled: map[string]bool{}}, clock: &clock{}, cfg: testConfig()}
	e.cfg.Now = e.clock.Now
	for _, name := range functions {
		if err := e.fns.CreateFunction(context.Background(), &stratus.Function{Name: name, Runtime: "provided.al2023"}); err != nil {
			t.Fatal(err)
		}
	}
	e.nats = natsdtest.RunDir(t, e.dir)
	e.open()
	return e
}

func (e *env) open() {
	e.t.Helper()
	svc, err := async.Open(context.Background(), e.nats.JetStream(), e.cfg, async.Deps{
		Functions: e.fns, Invoker: e.inv, Queues: e.queues, Concurrency: e.conc,
	})
	if err != nil {
		e.t.Fatalf("async.Open: %v", err)
	}
	e.svc = svc
	e.t.Cleanup(func() { svc.Close(time.Second) })
}

// restart closes the service and the NATS server and starts both again
// on the same store.
func (e *env) restart() {
	e.t.Helper()
	e.svc.Close(time.Second)
	e.nats.Shutdown()
	e.nats = natsdtest.RunDir(e.t, e.dir)
	e.open()
}

func (e *env) invokeAsync(fn string, payload any) string {
	e.t.Helper()
	b, _ := json.Marshal(payload)
	id, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: fn, Payload: b})
	if err != nil {
		e.t.Fatalf("InvokeAsync(%s): %v", fn, err)
	}
	return id
}

func (e *env) putConfig(c *stratus.EventInvokeConfig) {
	e.t.Helper()
	if err := e.svc.PutEventInvokeConfig(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

func intp(n int) *int { return &n }

// checkFor calls f every interval until it returns nil, failing the test
// with f's last error after total.
func checkFor(t testing.TB, total, interval time.Duration, f func() error) {
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
		time.Sleep(interval)
	}
}

// record is an invocation record as a destination receives it.
type record struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int     `json:"statusCode"`
		ExecutedVersion string  `json:"executedVersion"`
		FunctionError   *string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

func mustRecord(t testing.TB, b []byte) record {
	t.Helper()
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decoding record %s: %v", b, err)
	}
	if r.Version != "1.0" {
		t.Errorf("record version %q, want 1.0", r.Version)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Errorf("record timestamp %q: %v", r.Timestamp, err)
	}
	return r
}

func countWith(n int, what string) error {
	return fmt.Errorf("%d %s so far", n, what)
}
