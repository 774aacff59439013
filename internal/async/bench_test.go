package async_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

// BenchmarkInvokeAsync measures durable acceptance of events (SyncAlways:
// every 202 waits for fsync) with parallel clients, as events/s. Run:
//
//	go test ./internal/async/ -run '^$' -bench InvokeAsync -benchtime 20000x
func BenchmarkInvokeAsync(b *testing.B) {
	for _, clients := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			e := newEnv(b, "fn")
			payload := bytes.Repeat([]byte("x"), 510)
			payload[0], payload[len(payload)-1] = '"', '"'
			b.SetParallelism(max(1, clients/2)) // GOMAXPROCS is 2 here
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: payload}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkEventInvokeHTTP measures the whole accept path: Invoke with
// X-Amz-Invocation-Type: Event over HTTP (loopback) through the Lambda API
// handler to a durable 202.
func BenchmarkEventInvokeHTTP(b *testing.B) {
	e := newEnv(b, "fn")
	h := lambdaapi.New(lambdaapi.Config{Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		Async: e.svc, EventInvokeConfigs: e.svc}, e.fns, e.inv)
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 512}
	client := &http.Client{Transport: tr}
	payload := `{"action":"echo","data":"` + strings.Repeat("x", 480) + `"}`
	url := srv.URL + "/2015-03-31/functions/fn/invocations"
	b.SetParallelism(32) // 64 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(payload))
			req.Header.Set("X-Amz-Invocation-Type", "Event")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkExecute measures how fast queued events are executed with an
// instant fake function: fetch, invoke, ack.
func BenchmarkExecute(b *testing.B) {
	e := newEnv(b, "fn")
	e.cfg.Workers = 64
	e.restart()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.InvokeAsync(context.Background(), &stratus.InvokeRequest{FunctionName: "fn", Payload: []byte("{}")}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	e.svc.Start()
	for e.inv.count.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
