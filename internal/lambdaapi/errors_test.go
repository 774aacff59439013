package lambdaapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		messageKey string
		message    string
	}{
		{stratus.Errorf(stratus.ENOTFOUND, "Function not found: x"), 404, "ResourceNotFoundException", "Message", "Function not found: x"},
		{stratus.Errorf(stratus.ECONFLICT, "c"), 409, "ResourceConflictException", "message", "c"},
		{stratus.Errorf(stratus.EINVALID, "i"), 400, "InvalidParameterValueException", "message", "i"},
		{stratus.Errorf(stratus.EBADREQUEST, "b"), 400, "InvalidRequestContentException", "message", "b"},
		{stratus.Errorf(stratus.ETOOLARGE, "t"), 413, "RequestEntityTooLargeException", "message", "t"},
		{stratus.Errorf(stratus.EPRECONDITION, "p"), 412, "PreconditionFailedException", "message", "p"},
		{stratus.Errorf(stratus.ETHROTTLED, "Rate Exceeded."), 429, "TooManyRequestsException", "message", "Rate Exceeded."},
		{stratus.Errorf(stratus.EUNSUPPORTED, "u"), 400, "InvalidParameterValueException", "message", "u"},
		{stratus.Errorf(stratus.EUNAVAILABLE, "a"), 503, "ServiceException", "Message", "a"},
		{stratus.Errorf(stratus.EINTERNAL, "n"), 500, "ServiceException", "Message", "n"},
		{stratus.Errorf(stratus.EVALIDATION, "1 validation error detected: v"), 400, "ValidationException", "message", "1 validation error detected: v"},
		{stratus.Errorf("no-such-code", "z"), 500, "ServiceException", "Message", "z"},
		{fmt.Errorf("wrapped: %w", stratus.Errorf(stratus.ENOTFOUND, "w")), 404, "ResourceNotFoundException", "Message", "w"},
		{errors.New("disk on fire"), 500, "ServiceException", "Message", "Internal error."},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			var logs bytes.Buffer
			h := lambdaapi.New(lambdaapi.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil, nil)
			w := httptest.NewRecorder()
			h.WriteError(w, httptest.NewRequest("GET", "/2015-03-31/functions/x", nil), tc.err)
			if w.Code != tc.status || w.Header().Get("X-Amzn-ErrorType") != tc.code {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Header().Get("X-Amzn-ErrorType"), tc.status, tc.code)
			}
			if w.Header().Get("X-Amzn-Requestid") == "" {
				t.Error("no request id")
			}
			m := decode(t, w)
			if m[tc.messageKey] != tc.message {
				t.Errorf("body %s: want %s %q", w.Body, tc.messageKey, tc.message)
			}
			wantType := "User"
			if tc.status >= 500 {
				wantType = "Service"
			}
			if m["Type"] != wantType {
				t.Errorf("Type = %v, want %s", m["Type"], wantType)
			}
			if logged := logs.Len() > 0; logged != (tc.status >= 500) {
				t.Errorf("logged = %v for status %d: %s", logged, tc.status, logs.String())
			}
		})
	}
}

func TestThrottleError(t *testing.T) {
	h := lambdaapi.New(lambdaapi.Config{}, nil, nil)
	for _, tc := range []struct {
		err    *stratus.Error
		reason string
	}{
		{&stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}, "ReservedFunctionConcurrentInvocationLimitExceeded"},
		{&stratus.Error{Code: stratus.ETHROTTLED, Message: "Rate Exceeded."}, "ConcurrentInvocationLimitExceeded"},
	} {
		w := httptest.NewRecorder()
		h.WriteError(w, httptest.NewRequest("POST", "/", nil), fmt.Errorf("invoking: %w", tc.err))
		if w.Code != 429 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("got %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		if m := decode(t, w); m["Reason"] != tc.reason {
			t.Errorf("Reason = %v, want %s", m["Reason"], tc.reason)
		}
	}
}

// TestUnknownOperation documents the answer to Lambda paths that are not
// served (yet): 404 UnknownOperationException, so SDKs do not retry.
func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/2015-03-31/functions/f/versions/1"},
		{"PATCH", "/2015-03-31/functions/f/aliases/live"},
		{"POST", "/2017-10-31/functions/f/concurrency"},
		{"PUT", "/2018-10-31/layers"},
		{"POST", "/2021-11-15/functions/f/response-streaming-invocations"},
		{"PATCH", "/2015-03-31/functions/f"},
		{"GET", "/2015-03-31/functions/f/invocations"},
		{"GET", "/2015-03-31/nothing"},
		{"GET", "/_stratus/code/nothex.zip"},
	} {
		w := e.do(t, tc.method, tc.path, nil)
		wantError(t, w, 404, "UnknownOperationException", "not supported by this server")
	}
}

func TestMatch(t *testing.T) {
	for path, want := range map[string]bool{
		"/2015-03-31/functions":                  true,
		"/2015-03-31/functions/f/invocations":    true,
		"/2016-08-19/account-settings":           true,
		"/2017-03-31/tags/arn":                   true,
		"/2017-10-31/functions/f/concurrency":    true,
		"/2018-10-31/layers":                     true,
		"/2019-09-25/functions/f/event-invoke-c": true,
		"/2019-09-30/functions/f/concurrency":    true,
		"/2021-10-31/functions/f/url":            true,
		"/2021-11-15/functions/f/response-strea": true,
		"/2014-11-13/functions/f/invoke-async/":  true,
		"/_stratus/code/abc.zip":                 true,
		"/2015-03-31":                            false,
		"/2020-01-01/functions":                  false,
		"/000000000000/queue":                    false,
		"/":                                      false,
		"/2015-03-31x/functions":                 false,
	} {
		r := httptest.NewRequest("GET", "http://localhost"+path, nil)
		if got := lambdaapi.Match(r); got != want {
			t.Errorf("Match(%s) = %v, want %v", path, got, want)
		}
	}
	if !strings.HasPrefix(lambdaapi.CodePathPrefix, "/") {
		t.Error("CodePathPrefix must be a path")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := lambdaapi.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := lambdaapi.Config{Region: "nowhere", AccountID: "1", HostArch: "mips", AccountConcurrency: -1}.Validate()
	for _, want := range []string{"Region", "AccountID", "HostArch", "AccountConcurrency"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
}
