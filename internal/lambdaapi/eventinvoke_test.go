package lambdaapi_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

// memoryEventConfigs is an in-memory stratus.EventInvokeConfigService.
type memoryEventConfigs struct {
	mu sync.Mutex
	m  map[string]*stratus.EventInvokeConfig
}

func (s *memoryEventConfigs) key(fn, q string) string { return fn + "\x00" + q }

func (s *memoryEventConfigs) notFound(fn, q string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "The function %s%s:%s doesn't have an EventInvokeConfig", testARN, fn, q)
}

func (s *memoryEventConfigs) EventInvokeConfig(_ context.Context, fn, q string) (*stratus.EventInvokeConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[s.key(fn, q)]; ok {
		return c.Clone(), nil
	}
	return nil, s.notFound(fn, q)
}

func (s *memoryEventConfigs) EventInvokeConfigs(_ context.Context, fn string) ([]*stratus.EventInvokeConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*stratus.EventInvokeConfig
	for _, c := range s.m {
		if c.FunctionName == fn {
			out = append(out, c.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Qualifier < out[j].Qualifier })
	return out, nil
}

func (s *memoryEventConfigs) PutEventInvokeConfig(_ context.Context, c *stratus.EventInvokeConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[s.key(c.FunctionName, c.Qualifier)] = c.Clone()
	return nil
}

func (s *memoryEventConfigs) UpdateEventInvokeConfig(_ context.Context, fn, q string, update func(*stratus.EventInvokeConfig) error) (*stratus.EventInvokeConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[s.key(fn, q)]
	if !ok {
		return nil, s.notFound(fn, q)
	}
	c = c.Clone()
	if err := update(c); err != nil {
		return nil, err
	}
	s.m[s.key(fn, q)] = c
	return c.Clone(), nil
}

func (s *memoryEventConfigs) DeleteEventInvokeConfig(_ context.Context, fn, q string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[s.key(fn, q)]; !ok {
		return s.notFound(fn, q)
	}
	delete(s.m, s.key(fn, q))
	return nil
}

// fakeAsync records queued events.
type fakeAsync struct {
	mu   sync.Mutex
	reqs []*stratus.InvokeRequest
}

func (a *fakeAsync) InvokeAsync(_ context.Context, req *stratus.InvokeRequest) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := *req
	a.reqs = append(a.reqs, &c)
	return "0b8e1b8e-0000-4000-8000-00000000000" + string(rune('0'+len(a.reqs))), nil
}

// newAsyncEnv is newEnv with asynchronous invocation configured.
func newAsyncEnv(t *testing.T) (*testEnv, *fakeAsync, *memoryEventConfigs) {
	e := newEnv(t)
	a := &fakeAsync{}
	cs := &memoryEventConfigs{m: map[string]*stratus.EventInvokeConfig{}}
	e.h = lambdaapi.New(lambdaapi.Config{
		Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		Now:   func() time.Time { return testNow },
		Async: a, EventInvokeConfigs: cs,
	}, e.fns, e.inv)
	return e, a, cs
}

const eicPath = "/2019-09-25/functions/fn/event-invoke-config"

func TestEventInvoke(t *testing.T) {
	e, a, _ := newAsyncEnv(t)
	e.mustCreate(t, "fn", nil)
	w := e.do(t, "POST", invokePath, `{"k":"v"}`, "X-Amz-Invocation-Type", "Event", "X-Amz-Log-Type", "Tail")
	if w.Code != http.StatusAccepted || w.Body.Len() != 0 {
		t.Fatalf("Event invoke: %d %q, want 202 with no body", w.Code, w.Body)
	}
	if len(a.reqs) != 1 || string(a.reqs[0].Payload) != `{"k":"v"}` || a.reqs[0].FunctionName != "fn" {
		t.Fatalf("queued %+v", a.reqs)
	}
	if got := w.Header().Get("X-Amzn-Requestid"); got != "0b8e1b8e-0000-4000-8000-000000000001" {
		t.Errorf("x-amzn-RequestId = %q, want the queued event's request id", got)
	}
	if w.Header().Get("X-Amz-Log-Result") != "" || w.Header().Get("X-Amz-Executed-Version") != "" {
		t.Errorf("Event response headers %v", w.Header())
	}

	w = e.do(t, "POST", "/2015-03-31/functions/nope/invocations", `{}`, "X-Amz-Invocation-Type", "Event")
	wantError(t, w, 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	w = e.do(t, "POST", "/2015-03-31/functions/fn:7/invocations", `{}`, "X-Amz-Invocation-Type", "Event")
	wantError(t, w, 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:7")
	w = e.do(t, "POST", invokePath, strings.Repeat(" ", 1048577), "X-Amz-Invocation-Type", "Event")
	wantError(t, w, 413, "RequestEntityTooLargeException", "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
	w = e.do(t, "POST", invokePath, `"`+strings.Repeat("x", 1048574)+`"`, "X-Amz-Invocation-Type", "Event")
	if w.Code != http.StatusAccepted {
		t.Errorf("a 1,048,576-byte event: %d %s, want 202", w.Code, w.Body)
	}
	if len(a.reqs) != 2 {
		t.Errorf("%d events queued, want 2", len(a.reqs))
	}
}

func TestEventInvokeConfigLifecycle(t *testing.T) {
	e, _, _ := newAsyncEnv(t)
	e.mustCreate(t, "fn", nil)
	e.mustCreate(t, "other", nil)

	w := e.do(t, "GET", eicPath, nil)
	wantError(t, w, 404, "ResourceNotFoundException", "The function "+testARN+"fn:$LATEST doesn't have an EventInvokeConfig")

	w = e.do(t, "PUT", eicPath, map[string]any{
		"MaximumRetryAttempts": 1,
		"DestinationConfig":    map[string]any{"OnFailure": map[string]any{"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}},
	})
	if w.Code != 200 {
		t.Fatalf("Put: %d %s", w.Code, w.Body)
	}
	want := `{"LastModified":1712775992.563,"FunctionArn":"` + testARN + `fn:$LATEST","MaximumRetryAttempts":1,` +
		`"DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:123456789012:dlq"}}}`
	if got := w.Body.String(); got != want {
		t.Errorf("Put response\n got %s\nwant %s", got, want)
	}
	if got := e.do(t, "GET", eicPath+"?Qualifier=$LATEST", nil).Body.String(); got != want {
		t.Errorf("Get response\n got %s\nwant %s", got, want)
	}

	// Update merges.
	w = e.do(t, "POST", eicPath, map[string]any{
		"MaximumEventAgeInSeconds": 120,
		"DestinationConfig":        map[string]any{"OnSuccess": map[string]any{"Destination": testARN + "other"}},
	})
	m := decode(t, w)
	if w.Code != 200 || m["MaximumRetryAttempts"] != 1.0 || m["MaximumEventAgeInSeconds"] != 120.0 {
		t.Fatalf("Update: %d %s", w.Code, w.Body)
	}
	dc := m["DestinationConfig"].(map[string]any)
	if dc["OnSuccess"].(map[string]any)["Destination"] != testARN+"other" ||
		dc["OnFailure"].(map[string]any)["Destination"] != "arn:aws:sqs:us-east-1:123456789012:dlq" {
		t.Errorf("Update destinations %v", dc)
	}

	// Put replaces.
	w = e.do(t, "PUT", eicPath, map[string]any{"MaximumEventAgeInSeconds": 3600})
	if got := w.Body.String(); !strings.Contains(got, `"MaximumEventAgeInSeconds":3600,"DestinationConfig":{"OnSuccess":{},"OnFailure":{}}}`) ||
		strings.Contains(got, "MaximumRetryAttempts") {
		t.Errorf("Put after Update: %s", got)
	}

	// A qualified ARN in the path works like ?Qualifier=.
	w = e.do(t, "GET", "/2019-09-25/functions/"+testARN+"fn:$LATEST/event-invoke-config", nil)
	if w.Code != 200 {
		t.Errorf("Get by qualified ARN: %d %s", w.Code, w.Body)
	}

	w = e.do(t, "GET", eicPath+"/list", nil)
	if got := w.Body.String(); w.Code != 200 || strings.Count(got, "FunctionArn") != 1 || !strings.HasPrefix(got, `{"FunctionEventInvokeConfigs":[{`) {
		t.Errorf("List: %d %s", w.Code, got)
	}

	w = e.do(t, "DELETE", eicPath, nil)
	if w.Code != 204 {
		t.Fatalf("Delete: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "DELETE", eicPath, nil), 404, "ResourceNotFoundException", "doesn't have an EventInvokeConfig")
	wantError(t, e.do(t, "POST", eicPath, map[string]any{"MaximumRetryAttempts": 0}), 404, "ResourceNotFoundException", "doesn't have an EventInvokeConfig")
	if got := e.do(t, "GET", eicPath+"/list", nil).Body.String(); got != `{"FunctionEventInvokeConfigs":[]}` {
		t.Errorf("List after delete: %s", got)
	}
}

func TestListEventInvokeConfigsPages(t *testing.T) {
	e, _, cs := newAsyncEnv(t)
	e.mustCreate(t, "fn", nil)
	for _, q := range []string{"$LATEST", "1", "2", "live"} {
		_ = cs.PutEventInvokeConfig(context.Background(), &stratus.EventInvokeConfig{FunctionName: "fn", Qualifier: q, LastModified: testNow})
	}
	var arns []string
	marker := ""
	for range 5 {
		target := eicPath + "/list?MaxItems=3"
		if marker != "" {
			target += "&Marker=" + marker
		}
		m := decode(t, e.do(t, "GET", target, nil))
		for _, c := range m["FunctionEventInvokeConfigs"].([]any) {
			arns = append(arns, c.(map[string]any)["FunctionArn"].(string))
		}
		marker, _ = m["NextMarker"].(string)
		if marker == "" {
			break
		}
	}
	want := []string{testARN + "fn:$LATEST", testARN + "fn:1", testARN + "fn:2", testARN + "fn:live"}
	if strings.Join(arns, " ") != strings.Join(want, " ") {
		t.Errorf("listed %v, want %v", arns, want)
	}
	wantError(t, e.do(t, "GET", eicPath+"/list?MaxItems=51", nil), 400, vex, "maxItems")
	wantError(t, e.do(t, "GET", "/2019-09-25/functions/nope/event-invoke-config/list", nil), 404, "ResourceNotFoundException", "Function not found")
}

func TestEventInvokeConfigValidation(t *testing.T) {
	dest := func(kind, arn string) map[string]any {
		return map[string]any{"DestinationConfig": map[string]any{kind: map[string]any{"Destination": arn}}}
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"retries too many", eicPath, map[string]any{"MaximumRetryAttempts": 3}, 400, vex, "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"},
		{"retries negative", eicPath, map[string]any{"MaximumRetryAttempts": -1}, 400, vex, "greater than or equal to 0"},
		{"age too small", eicPath, map[string]any{"MaximumEventAgeInSeconds": 59}, 400, vex, "Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"age too big", eicPath, map[string]any{"MaximumEventAgeInSeconds": 21601}, 400, vex, "less than or equal to 21600"},
		{"not json", eicPath, "{", 400, "InvalidRequestContentException", "Could not parse request body into json"},
		{"wrong type", eicPath, map[string]any{"MaximumRetryAttempts": "two"}, 400, "InvalidRequestContentException", "MaximumRetryAttempts"},
		{"bad arn", eicPath, dest("OnSuccess", "queue"), 400, vex, "destinationConfig.onSuccess.destination"},
		{"sns", eicPath, dest("OnFailure", "arn:aws:sns:us-east-1:123456789012:topic"), 400, ipve, "SNS topic destinations are not supported by this server yet"},
		{"eventbridge", eicPath, dest("OnSuccess", "arn:aws:events:us-east-1:123456789012:event-bus/default"), 400, ipve, "EventBridge destinations are not supported"},
		{"s3", eicPath, dest("OnFailure", "arn:aws:s3:::bucket"), 400, ipve, "S3 bucket destinations are not supported"},
		{"dynamodb", eicPath, dest("OnFailure", "arn:aws:dynamodb:us-east-1:123456789012:table/t"), 400, ipve, "is not supported"},
		{"other region", eicPath, dest("OnFailure", "arn:aws:sqs:eu-west-1:123456789012:q"), 400, ipve, "not in this server's region and account"},
		{"other account", eicPath, dest("OnFailure", "arn:aws:lambda:us-east-1:999999999999:function:f"), 400, ipve, "not in this server's region and account"},
		{"fifo", eicPath, dest("OnFailure", "arn:aws:sqs:us-east-1:123456789012:q.fifo"), 400, ipve, "FIFO"},
		{"bad queue", eicPath, dest("OnFailure", "arn:aws:sqs:us-east-1:123456789012:q/x"), 400, ipve, "not a valid SQS queue ARN"},
		{"bad function", eicPath, dest("OnSuccess", "arn:aws:lambda:us-east-1:123456789012:layer:l:1"), 400, ipve, "not a valid Lambda function ARN"},
		{"self", eicPath, dest("OnSuccess", testARN+"fn"), 400, ipve, "You can't specify the function as a destination for itself."},
		{"self qualified", eicPath, dest("OnFailure", testARN+"fn:live"), 400, ipve, "You can't specify the function as a destination for itself."},
		{"missing function", "/2019-09-25/functions/nope/event-invoke-config", map[string]any{}, 404, "ResourceNotFoundException", "Function not found: " + testARN + "nope"},
		{"missing version", eicPath + "?Qualifier=9", map[string]any{}, 404, "ResourceNotFoundException", "Function not found: " + testARN + "fn:9"},
		{"bad qualifier", eicPath + "?Qualifier=a.b", map[string]any{}, 400, vex, "qualifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, cs := newAsyncEnv(t)
			e.mustCreate(t, "fn", nil)
			wantError(t, e.do(t, "PUT", tc.path, tc.body), tc.status, tc.code, tc.msg)
			if len(cs.m) != 0 {
				t.Errorf("a refused Put stored %v", cs.m)
			}
		})
	}
}

func TestDeadLetterConfigAcceptsQueues(t *testing.T) {
	e, _, _ := newAsyncEnv(t)
	const dlq = "arn:aws:sqs:us-east-1:123456789012:dlq"
	m := e.mustCreate(t, "fn", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": dlq}})
	if got := m["DeadLetterConfig"]; got == nil || got.(map[string]any)["TargetArn"] != dlq {
		t.Errorf("CreateFunction DeadLetterConfig = %v", got)
	}
	fn, _ := e.fns.Function(context.Background(), "fn")
	if fn.DeadLetterTarget != dlq {
		t.Errorf("stored DeadLetterTarget %q", fn.DeadLetterTarget)
	}
	w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": ""}})
	if w.Code != 200 || decode(t, w)["DeadLetterConfig"] != nil {
		t.Errorf("clearing DeadLetterConfig: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": "arn:aws:sns:us-east-1:123456789012:t"}})
	wantError(t, w, 400, ipve, "SNS topics as dead-letter targets are not supported by this server yet")
}
