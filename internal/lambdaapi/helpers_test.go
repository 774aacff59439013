package lambdaapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
	"github.com/stratus-dev/stratus/internal/mock"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	testRole    = "arn:aws:iam::123456789012:role/lambda-role"
	testARN     = "arn:aws:lambda:us-east-1:123456789012:function:"
)

var testNow = time.Date(2024, 4, 10, 19, 6, 32, 563_000_000, time.UTC)

// testEnv is a handler over an in-memory function store and a fake invoker.
type testEnv struct {
	h   *lambdaapi.Handler
	fns *mock.MemoryFunctionService
	inv *mock.Invoker
}

func newEnv(tb testing.TB) *testEnv {
	tb.Helper()
	e := &testEnv{fns: mock.NewMemoryFunctionService(), inv: &mock.Invoker{}}
	e.inv.InvokeFn = func(context.Context, *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
		tb.Fatal("unexpected Invoke")
		return nil, nil
	}
	e.h = lambdaapi.New(lambdaapi.Config{
		Region:    testRegion,
		AccountID: testAccount,
		HostArch:  "x86_64",
		Now:       func() time.Time { return testNow },
	}, e.fns, e.inv)
	return e
}

// do serves one request. body is sent as is if it is a string or []byte,
// as JSON otherwise; hdr holds header name/value pairs.
func (e *testEnv) do(tb testing.TB, method, target string, body any, hdr ...string) *httptest.ResponseRecorder {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Header().Get("X-Amzn-Requestid") == "" {
		tb.Errorf("%s %s: no x-amzn-RequestId header", method, target)
	}
	return w
}

// mustCreate creates a function with the given overrides of a valid request.
func (e *testEnv) mustCreate(tb testing.TB, name string, overrides map[string]any) map[string]any {
	tb.Helper()
	req := createRequest(tb, name)
	for k, v := range overrides {
		req[k] = v
	}
	w := e.do(tb, "POST", "/2015-03-31/functions", req)
	if w.Code != http.StatusCreated {
		tb.Fatalf("CreateFunction %s: %d %s", name, w.Code, w.Body)
	}
	return decode(tb, w)
}

// createRequest is a valid CreateFunction body.
func createRequest(tb testing.TB, name string) map[string]any {
	return map[string]any{
		"FunctionName": name,
		"Runtime":      "provided.al2023",
		"Role":         testRole,
		"Code":         map[string]any{"ZipFile": bootstrapZip(tb)},
	}
}

// bootstrapZip is a minimal custom-runtime package.
func bootstrapZip(tb testing.TB) []byte {
	return makeZip(tb, map[string]string{"bootstrap": "#!/bin/sh\n"})
}

func makeZip(tb testing.TB, files map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		fh.SetMode(fs.FileMode(0o755))
		w, err := zw.CreateHeader(fh)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func decode(tb testing.TB, w *httptest.ResponseRecorder) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		tb.Fatalf("decoding %q: %v", w.Body, err)
	}
	return m
}

// wantError checks an AWS error response: status, X-Amzn-ErrorType and a
// substring of the message.
func wantError(tb testing.TB, w *httptest.ResponseRecorder, status int, code, msg string) {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if got := w.Header().Get("X-Amzn-ErrorType"); got != code {
		tb.Fatalf("X-Amzn-ErrorType = %q, want %q; body %s", got, code, w.Body)
	}
	m := decode(tb, w)
	got, _ := m["message"].(string)
	if got == "" {
		got, _ = m["Message"].(string)
	}
	if !strings.Contains(got, msg) {
		tb.Fatalf("message = %q, want it to contain %q", got, msg)
	}
	// AWS answers model-constraint violations, and only them, with
	// ValidationException.
	if model := strings.HasPrefix(got, modelErrorPrefix); model != (code == vex) {
		tb.Fatalf("X-Amzn-ErrorType = %q with message %q: model-constraint messages, and only they, are %s", code, got, vex)
	}
	if m["Type"] != "User" && status < 500 {
		tb.Fatalf("Type = %v, want User", m["Type"])
	}
}

func newRequest(method, target string, body io.Reader) *http.Request {
	return httptest.NewRequest(method, target, body)
}

func serve(e *testEnv, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// newHandlerWithLimits returns a handler over e's fakes with a small
// zipped-size limit.
func newHandlerWithLimits(e *testEnv, maxZip int64) *lambdaapi.Handler {
	return lambdaapi.New(lambdaapi.Config{
		Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		Limits: pkgzip.Limits{MaxZipBytes: maxZip},
		Now:    func() time.Time { return testNow },
	}, e.fns, e.inv)
}
