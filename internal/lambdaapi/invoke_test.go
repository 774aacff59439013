package lambdaapi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
)

const invokePath = "/2015-03-31/functions/fn/invocations"

func TestInvokeRequestResponse(t *testing.T) {
	e := newEnv(t)
	var got *stratus.InvokeRequest
	e.inv.InvokeFn = func(_ context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		got = req
		return &stratus.InvokeResponse{
			RequestID:       "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
			Payload:         []byte(`{"errorMessage":"boom","errorType":"Error"}`),
			FunctionError:   "Unhandled",
			ExecutedVersion: "$LATEST",
			LogTail:         []byte("START RequestId: x\n"),
		}, nil
	}
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"a":"b"}}`))
	w := e.do(t, "POST", "/2015-03-31/functions/"+strings.ReplaceAll(testARN+"fn:$LATEST", ":", "%3A")+"/invocations", `{"k": 1}`,
		"X-Amz-Log-Type", "Tail", "X-Amz-Client-Context", cc, "X-Amzn-Trace-Id", "Root=1-abc")
	if w.Code != 200 || w.Body.String() != `{"errorMessage":"boom","errorType":"Error"}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	for k, want := range map[string]string{
		"X-Amzn-Requestid":       "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
		"X-Amz-Function-Error":   "Unhandled",
		"X-Amz-Executed-Version": "$LATEST",
		"X-Amz-Log-Result":       base64.StdEncoding.EncodeToString([]byte("START RequestId: x\n")),
		"Content-Type":           "application/json",
	} {
		if g := w.Header().Get(k); g != want {
			t.Errorf("%s = %q, want %q", k, g, want)
		}
	}
	if got.FunctionName != "fn" || got.Qualifier != "$LATEST" || string(got.Payload) != `{"k": 1}` ||
		got.ClientContext != `{"custom":{"a":"b"}}` || got.TraceID != "Root=1-abc" || !got.TailLog {
		t.Errorf("InvokeRequest = %+v", got)
	}
}

func TestInvokeDefaults(t *testing.T) {
	e := newEnv(t)
	var got *stratus.InvokeRequest
	e.inv.InvokeFn = func(_ context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		got = req
		return &stratus.InvokeResponse{RequestID: "r1", Payload: []byte(`"ok"`)}, nil
	}
	w := e.do(t, "POST", "/2015-03-31/functions/fn:live/invocations?Qualifier=live", nil)
	if w.Code != 200 || w.Body.String() != `"ok"` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if string(got.Payload) != "{}" || got.Qualifier != "live" || got.TailLog {
		t.Errorf("InvokeRequest = %+v", got)
	}
	for _, k := range []string{"X-Amz-Function-Error", "X-Amz-Log-Result", "X-Amz-Executed-Version"} {
		if v := w.Header().Get(k); v != "" {
			t.Errorf("%s = %q, want none", k, v)
		}
	}
}

func TestInvokeErrors(t *testing.T) {
	big := strings.Repeat(" ", 6291457)
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		hdr    []string
		status int
		code   string
		msg    string
	}{
		{"bad invocation type", invokePath, "{}", []string{"X-Amz-Invocation-Type", "Sometimes"}, 400, vex, "invocationType"},
		{"bad log type", invokePath, "{}", []string{"X-Amz-Log-Type", "All"}, 400, vex, "logType"},
		{"event without async", invokePath, "{}", []string{"X-Amz-Invocation-Type", "Event"}, 400, ipve, "Event invocation is not configured on this server"},
		{"too large", invokePath, big, nil, 413, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
		{"event too large", invokePath, big[:1048577], []string{"X-Amz-Invocation-Type", "Event"}, 413, "RequestEntityTooLargeException", "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"},
		{"not json", invokePath, "hello", nil, 400, "InvalidRequestContentException", "Could not parse request body into json: "},
		{"truncated json", invokePath, `{"a":`, nil, 400, "InvalidRequestContentException", "Could not parse request body into json: "},
		{"bad client context", invokePath, "{}", []string{"X-Amz-Client-Context", "!!!"}, 400, "InvalidRequestContentException", "Client context"},
		{"client context not json", invokePath, "{}", []string{"X-Amz-Client-Context", base64.StdEncoding.EncodeToString([]byte("nope"))}, 400, "InvalidRequestContentException", "Client context"},
		{"client context too big", invokePath, "{}", []string{"X-Amz-Client-Context", strings.Repeat("A", 3584)}, 400, ipve, "3583"},
		{"qualifier conflict", "/2015-03-31/functions/fn:1/invocations?Qualifier=2", "{}", nil, 400, ipve, "The derived qualifier from the function name does not match the specified qualifier."},
		{"bad name", "/2015-03-31/functions/f%20n/invocations", "{}", nil, 400, vex, "functionName"},
		{"other region", "/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:fn/invocations", "{}", nil, 404, "ResourceNotFoundException", "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{"other account", "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:fn/invocations", "{}", nil, 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t) // its Invoker fails the test if called
			wantError(t, e.do(t, "POST", tc.path, tc.body, tc.hdr...), tc.status, tc.code, tc.msg)
		})
	}
}

func TestInvokeServiceErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{stratus.Errorf(stratus.ENOTFOUND, "no fn"), 404, "ResourceNotFoundException", "Function not found: " + testARN + "fn:prod"},
		{&stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}, 429, "TooManyRequestsException", "Rate Exceeded."},
		{stratus.Errorf(stratus.EUNAVAILABLE, "draining"), 503, "ServiceException", "draining"},
	} {
		e.inv.InvokeFn = func(context.Context, *stratus.InvokeRequest) (*stratus.InvokeResponse, error) { return nil, tc.err }
		wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn/invocations?Qualifier=prod", "{}"), tc.status, tc.code, tc.msg)
	}
}

func TestInvokeDryRun(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	w := e.do(t, "POST", invokePath, "{}", "X-Amz-Invocation-Type", "DryRun")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("DryRun: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/nope/invocations", "{}", "X-Amz-Invocation-Type", "DryRun"), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn:3/invocations", "{}", "X-Amz-Invocation-Type", "DryRun"), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:3")
}

// TestInvokeChunkedBody covers a body without Content-Length.
func TestInvokeChunkedBody(t *testing.T) {
	e := newEnv(t)
	e.inv.InvokeFn = func(_ context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		return &stratus.InvokeResponse{RequestID: "r", Payload: req.Payload}, nil
	}
	r := newRequest("POST", invokePath, strings.NewReader(`[1,2,3]`))
	r.ContentLength = -1
	if w := serve(e, r); w.Code != 200 || w.Body.String() != `[1,2,3]` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	r = newRequest("POST", invokePath, strings.NewReader(strings.Repeat("1", 6291457)))
	r.ContentLength = -1
	wantError(t, serve(e, r), 413, "RequestEntityTooLargeException", "6291456")
}
