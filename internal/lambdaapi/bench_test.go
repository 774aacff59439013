package lambdaapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

// discardWriter is a ResponseWriter that keeps nothing, so benchmarks
// measure the handler only.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// rewindBody replays the same bytes as a request body.
type rewindBody struct{ *bytes.Reader }

func (rewindBody) Close() error { return nil }

var benchPayload = []byte(`{"version":"2.0","routeKey":"GET /","rawPath":"/","headers":{"accept":"*/*","host":"example.com"},"requestContext":{"http":{"method":"GET","path":"/"}},"isBase64Encoded":false}`)

func benchRequest(path string) (*http.Request, rewindBody) {
	body := rewindBody{bytes.NewReader(benchPayload)}
	r := httptest.NewRequest("POST", path, body)
	r.ContentLength = int64(len(benchPayload))
	return r, body
}

func BenchmarkInvokeDecode(b *testing.B) {
	h := newEnv(b).h
	r, body := benchRequest(invokePath)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		_, _ = body.Seek(0, io.SeekStart)
		r.Body = body
		if _, err := h.DecodeInvoke(r, "fn"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInvokeEncode(b *testing.B) {
	req := &stratus.InvokeRequest{FunctionName: "fn"}
	resp := &stratus.InvokeResponse{
		RequestID:       "8f507cfc-5a3e-4697-b07a-ac58fc914c95",
		Payload:         benchPayload,
		ExecutedVersion: stratus.LatestVersion,
	}
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		clear(w.h)
		lambdaapi.WriteInvokeResponse(w, req, resp)
	}
}

// BenchmarkInvoke measures the whole handler around a fake Invoker.
func BenchmarkInvoke(b *testing.B) {
	for _, path := range []string{invokePath, "/2015-03-31/functions/" + strings.ReplaceAll(testARN+"fn:$LATEST", ":", "%3A") + "/invocations"} {
		b.Run(map[bool]string{true: "name", false: "arn"}[path == invokePath], func(b *testing.B) {
			e := newEnv(b)
			resp := &stratus.InvokeResponse{RequestID: "8f507cfc-5a3e-4697-b07a-ac58fc914c95", Payload: benchPayload, ExecutedVersion: "$LATEST"}
			e.inv.InvokeFn = func(context.Context, *stratus.InvokeRequest) (*stratus.InvokeResponse, error) { return resp, nil }
			r, body := benchRequest(path)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchPayload)))
			for b.Loop() {
				_, _ = body.Seek(0, io.SeekStart)
				r.Body = body
				clear(w.h)
				e.h.ServeHTTP(w, r)
			}
		})
	}
}
