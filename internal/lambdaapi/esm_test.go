package lambdaapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
	"github.com/stratus-dev/stratus/internal/mock"
)

const esmQueue = "arn:aws:sqs:us-east-1:123456789012:q"

// fakeMappings is an in-memory stratus.EventSourceMappingService.
type fakeMappings struct {
	mu sync.Mutex
	m  map[string]*stratus.EventSourceMapping
	n  int
}

func (f *fakeMappings) CreateEventSourceMapping(_ context.Context, m *stratus.EventSourceMapping) (*stratus.EventSourceMapping, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.EventSourceARN != esmQueue {
		return nil, stratus.Errorf(stratus.EINVALID, "queue does not exist")
	}
	f.n++
	c := m.Clone()
	c.UUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", f.n)
	c.State, c.StateTransitionReason, c.LastModified = stratus.ESMCreating, "USER_INITIATED", testNow
	f.m[c.UUID] = c
	return c.Clone(), nil
}

func (f *fakeMappings) EventSourceMapping(_ context.Context, uuid string) (*stratus.EventSourceMapping, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.m[uuid]; ok {
		return m.Clone(), nil
	}
	return nil, stratus.Errorf(stratus.ENOTFOUND, "The resource you requested does not exist.")
}

func (f *fakeMappings) EventSourceMappings(_ context.Context, arn, fn string) ([]*stratus.EventSourceMapping, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*stratus.EventSourceMapping
	for _, m := range f.m {
		if (arn == "" || m.EventSourceARN == arn) && (fn == "" || m.FunctionName == fn) {
			out = append(out, m.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return out, nil
}

func (f *fakeMappings) UpdateEventSourceMapping(ctx context.Context, uuid string, update func(*stratus.EventSourceMapping) error) (*stratus.EventSourceMapping, error) {
	m, err := f.EventSourceMapping(ctx, uuid)
	if err != nil {
		return nil, err
	}
	if err := update(m); err != nil {
		return nil, err
	}
	m.State = stratus.ESMUpdating
	if !m.Enabled {
		m.State = stratus.ESMDisabling
	}
	f.mu.Lock()
	f.m[uuid] = m.Clone()
	f.mu.Unlock()
	return m, nil
}

func (f *fakeMappings) DeleteEventSourceMapping(ctx context.Context, uuid string) (*stratus.EventSourceMapping, error) {
	m, err := f.EventSourceMapping(ctx, uuid)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	delete(f.m, uuid)
	f.mu.Unlock()
	m.State = stratus.ESMDeleting
	return m, nil
}

func newESMEnv(tb testing.TB) (*testEnv, *fakeMappings) {
	tb.Helper()
	e := &testEnv{fns: mock.NewMemoryFunctionService(), inv: &mock.Invoker{}}
	f := &fakeMappings{m: map[string]*stratus.EventSourceMapping{}}
	e.h = lambdaapi.New(lambdaapi.Config{
		Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		EventSourceMappings: f,
		Now:                 func() time.Time { return testNow },
	}, e.fns, e.inv)
	e.mustCreate(tb, "fn", nil)
	return e, f
}

func TestCreateEventSourceMapping(t *testing.T) {
	e, _ := newESMEnv(t)
	w := e.do(t, "POST", "/2015-03-31/event-source-mappings/", map[string]any{
		"EventSourceArn": esmQueue, "FunctionName": testARN + "fn",
		"FunctionResponseTypes": []string{"ReportBatchItemFailures"}, "ScalingConfig": map[string]any{"MaximumConcurrency": 5},
	})
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := `{"UUID":"00000000-0000-4000-8000-000000000001","BatchSize":10,"MaximumBatchingWindowInSeconds":0,` +
		`"EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:q","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:fn",` +
		`"LastModified":1712775992.563,"State":"Creating","StateTransitionReason":"USER_INITIATED",` +
		`"FunctionResponseTypes":["ReportBatchItemFailures"],"ScalingConfig":{"MaximumConcurrency":5},` +
		`"EventSourceMappingArn":"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:00000000-0000-4000-8000-000000000001"}`
	if got := w.Body.String(); got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
}

func TestEventSourceMappingErrors(t *testing.T) {
	e, f := newESMEnv(t)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"EventSourceArn": esmQueue, "FunctionName": "fn"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{"batch over 10 without window", base(map[string]any{"BatchSize": 11}), 400, "InvalidParameterValueException", "Maximum batch window"},
		{"batch size 0", base(map[string]any{"BatchSize": 0}), 400, "ValidationException", "batchSize"},
		{"window 301", base(map[string]any{"MaximumBatchingWindowInSeconds": 301}), 400, "ValidationException", "maximumBatchingWindowInSeconds"},
		{"concurrency 1", base(map[string]any{"ScalingConfig": map[string]any{"MaximumConcurrency": 1}}), 400, "ValidationException", "scalingConfig.maximumConcurrency"},
		{"response type", base(map[string]any{"FunctionResponseTypes": []string{"Nope"}}), 400, "ValidationException", "functionResponseTypes"},
		{"starting position", base(map[string]any{"StartingPosition": "LATEST"}), 400, "InvalidParameterValueException", "StartingPosition"},
		{"filters", base(map[string]any{"FilterCriteria": map[string]any{"Filters": []map[string]string{{"Pattern": "{}"}}}}), 400, "InvalidParameterValueException", "FilterCriteria"},
		{"kinesis", base(map[string]any{"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}), 400, "InvalidParameterValueException", "only SQS"},
		{"no function", base(map[string]any{"FunctionName": "missing"}), 404, "ResourceNotFoundException", "Function not found"},
		{"no queue", base(map[string]any{"EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:none"}), 400, "InvalidParameterValueException", "queue does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", "/2015-03-31/event-source-mappings/", tc.body), tc.status, tc.code, tc.msg)
		})
	}
	if len(f.m) != 0 {
		t.Fatalf("failed creates stored %d mappings", len(f.m))
	}
	wantError(t, e.do(t, "GET", "/2015-03-31/event-source-mappings/nope", nil), 404, "ResourceNotFoundException", "does not exist")
}

func TestEventSourceMappingOperations(t *testing.T) {
	e, _ := newESMEnv(t)
	for range 3 {
		if w := e.do(t, "POST", "/2015-03-31/event-source-mappings/", map[string]any{"EventSourceArn": esmQueue, "FunctionName": "fn"}); w.Code != 202 {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
	uuid := "00000000-0000-4000-8000-000000000001"
	w := e.do(t, "GET", "/2015-03-31/event-source-mappings/"+uuid, nil)
	if w.Code != 200 || decode(t, w)["UUID"] != uuid {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", "/2015-03-31/event-source-mappings/?FunctionName=fn&MaxItems=2", nil)
	page := decode(t, w)
	if w.Code != 200 || len(page["EventSourceMappings"].([]any)) != 2 || page["NextMarker"] == "" {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", "/2015-03-31/event-source-mappings/?FunctionName=fn&MaxItems=2&Marker="+page["NextMarker"].(string), nil)
	if rest := decode(t, w)["EventSourceMappings"].([]any); len(rest) != 1 {
		t.Fatalf("second page: %s", w.Body)
	}
	w = e.do(t, "PUT", "/2015-03-31/event-source-mappings/"+uuid, map[string]any{"Enabled": false, "BatchSize": 5})
	if got := decode(t, w); w.Code != 202 || got["State"] != "Disabling" || got["BatchSize"] != float64(5) {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "PUT", "/2015-03-31/event-source-mappings/"+uuid, map[string]any{"BatchSize": 50}),
		400, "InvalidParameterValueException", "Maximum batch window")
	w = e.do(t, "DELETE", "/2015-03-31/event-source-mappings/"+uuid, nil)
	if got := decode(t, w); w.Code != 202 || got["State"] != "Deleting" {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(e.do(t, "GET", "/2015-03-31/event-source-mappings/"+uuid, nil).Body.String(), "ResourceNotFound") &&
		e.do(t, "GET", "/2015-03-31/event-source-mappings/"+uuid, nil).Code != 404 {
		t.Fatal("deleted mapping still readable")
	}
}
