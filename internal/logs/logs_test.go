package logs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/logs"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

// MustOpen opens Logs on js with cfg and closes it in t.Cleanup.
func MustOpen(t testing.TB, js jetstream.JetStream, cfg logs.Config) *logs.Logs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := logs.Open(ctx, js, cfg)
	if err != nil {
		t.Fatalf("opening logs: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustFlush(t testing.TB, l *logs.Logs) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// call posts a CloudWatch Logs request to h and decodes the response
// into out (when the status is 200). It returns the status and the
// error code (__type).
func call(t testing.TB, h http.Handler, op string, in, out any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(in)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "Logs_20140328."+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e.Type
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("%s: Content-Type %q", op, ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("%s: decoding %s: %v", op, w.Body, err)
	}
	return w.Code, ""
}

// checkFor calls f every interval until it returns nil or total passes.
func checkFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(interval)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := logs.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	err := logs.Config{}.Validate()
	for _, w := range []string{"Stream", "SubjectPrefix", "Replicas", "MaxAge", "QueueEvents",
		"MaxEventSize", "MaxBatchBytes", "PublishTimeout", "Region", "ScanMessages"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate(zero) = %v, want mention of %s", err, w)
		}
	}
	cfg := logs.DefaultConfig()
	cfg.PublishLinger = -time.Millisecond
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "PublishLinger") {
		t.Errorf("Validate(negative PublishLinger) = %v", err)
	}
}

func TestMatch(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if logs.Match(r) {
		t.Error("matched a request without X-Amz-Target")
	}
	r.Header.Set("X-Amz-Target", "Logs_20140328.GetLogEvents")
	if !logs.Match(r) {
		t.Error("did not match a Logs request")
	}
	r.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
	if logs.Match(r) {
		t.Error("matched an SQS request")
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	srv := natsdtest.RunDir(t, dir)
	l := MustOpen(t, srv.JetStream(), logs.DefaultConfig())
	l.PutLogEvents("/aws/lambda/p", "s1", stratus.LogEvent{Message: "before restart"})
	mustFlush(t, l)
	l.Close()
	srv.Shutdown()

	l2 := MustOpen(t, natsdtest.RunDir(t, dir).JetStream(), logs.DefaultConfig())
	var out struct{ Events []struct{ Message string } }
	if code, typ := call(t, l2.Handler(), "GetLogEvents",
		map[string]any{"logGroupName": "/aws/lambda/p", "logStreamName": "s1"}, &out); code != 200 {
		t.Fatalf("GetLogEvents: %d %s", code, typ)
	}
	if len(out.Events) != 1 || out.Events[0].Message != "before restart" {
		t.Fatalf("after restart: %+v", out.Events)
	}
}

// TestPutLogEventsDoesNotBlock puts 100k events as fast as it can; the
// puts must return long before JetStream (fsync per message) has them.
func TestPutLogEventsDoesNotBlock(t *testing.T) {
	l := MustOpen(t, natsdtest.Run(t).JetStream(), logs.DefaultConfig())
	const n = 100_000
	msg := strings.Repeat("x", 100)
	start := time.Now()
	for i := 0; i < n; i++ {
		l.PutLogEvents("/aws/lambda/fast", fmt.Sprintf("s%d", i%4), stratus.LogEvent{Timestamp: start, Message: msg})
	}
	put := time.Since(start)
	mustFlush(t, l)
	total := time.Since(start)
	st := l.Stats()
	if st.Queued != n || st.Published != n || st.Dropped != 0 || st.Failed != 0 || st.Pending != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	if put > 2*time.Second {
		t.Errorf("putting %d events took %s: PutLogEvents blocks", n, put)
	}
	t.Logf("%d events: put %s (%.0f ns/event), durable after %s (%.0f events/s)",
		n, put, float64(put.Nanoseconds())/n, total, n/total.Seconds())
}

func TestQueueFullDrops(t *testing.T) {
	cfg := logs.DefaultConfig()
	cfg.QueueEvents = 10
	l := MustOpen(t, natsdtest.Run(t).JetStream(), cfg)
	for i := 0; i < 1000; i++ {
		l.PutLogEvents("g", "s", stratus.LogEvent{Message: "m"})
	}
	l.PutLogEvents("", "s", stratus.LogEvent{Message: "no group"})
	mustFlush(t, l)
	st := l.Stats()
	if st.Dropped == 0 || st.Queued+st.Dropped != 1001 || st.Published != st.Queued {
		t.Fatalf("Stats = %+v", st)
	}
	l.Close()
	l.PutLogEvents("g", "s", stratus.LogEvent{Message: "after close"})
	if st2 := l.Stats(); st2.Dropped != st.Dropped+1 {
		t.Fatalf("put after Close: Stats = %+v", st2)
	}
}

func TestLargeEventTruncated(t *testing.T) {
	l := MustOpen(t, natsdtest.Run(t).JetStream(), logs.DefaultConfig())
	big := strings.Repeat("é", 200<<10) // 400 KiB, two bytes per rune
	l.PutLogEvents("g", "s", stratus.LogEvent{Message: big}, stratus.LogEvent{Message: "small"})
	mustFlush(t, l)
	var out struct{ Events []struct{ Message string } }
	call(t, l.Handler(), "GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "startFromHead": true}, &out)
	if len(out.Events) != 2 || len(out.Events[0].Message) != 256<<10 || out.Events[1].Message != "small" {
		t.Fatalf("got %d events, first %d bytes", len(out.Events), len(out.Events[0].Message))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTail(t *testing.T) {
	l := MustOpen(t, natsdtest.Run(t).JetStream(), logs.DefaultConfig())
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	c := &logs.Client{Endpoint: srv.URL}
	const group = "/aws/lambda/tail"
	ctx := context.Background()

	var out syncBuffer
	if err := logs.Tail(ctx, c, group, time.Time{}, false, &out); err == nil ||
		!strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("Tail of a missing group = %v", err)
	}
	l.PutLogEvents(group, "a", stratus.LogEvent{Message: "one\n"}, stratus.LogEvent{Message: "two"})
	mustFlush(t, l)
	if err := logs.Tail(ctx, c, group, time.Now().Add(-time.Minute), false, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("Tail = %q", got)
	}

	var follow syncBuffer
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- logs.Tail(fctx, c, group, time.Now().Add(-time.Minute), true, &follow) }()
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if follow.String() != "one\ntwo\n" {
			return fmt.Errorf("follow output %q", follow.String())
		}
		return nil
	})
	for i := 0; i < 3; i++ {
		l.PutLogEvents(group, fmt.Sprintf("s%d", i), stratus.LogEvent{Message: fmt.Sprintf("new %d", i)})
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if follow.String() != "one\ntwo\nnew 0\nnew 1\nnew 2\n" {
			return fmt.Errorf("follow output %q", follow.String())
		}
		return nil
	})
	time.Sleep(700 * time.Millisecond) // another poll must not repeat events
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Tail follow returned %v", err)
	}
	if got := follow.String(); got != "one\ntwo\nnew 0\nnew 1\nnew 2\n" {
		t.Fatalf("follow output after more polls %q", got)
	}
}

func BenchmarkPutLogEvents(b *testing.B) {
	cfg := logs.DefaultConfig()
	l := MustOpen(b, natsdtest.Run(b).JetStream(), cfg)
	ev := stratus.LogEvent{Timestamp: time.Now(), Message: strings.Repeat("x", 100)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.PutLogEvents("/aws/lambda/bench", "2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef", ev)
	}
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(st.Dropped), "dropped")
}

// BenchmarkPutLogEventsDurable measures end-to-end throughput: b.N events
// queued and then acknowledged by JetStream (fsync per stored message).
func BenchmarkPutLogEventsDurable(b *testing.B) {
	cfg := logs.DefaultConfig()
	cfg.QueueEvents, cfg.QueueBytes = max(b.N, 1), 1<<30
	l := MustOpen(b, natsdtest.Run(b).JetStream(), cfg)
	ev := stratus.LogEvent{Timestamp: time.Now(), Message: strings.Repeat("x", 100)}
	streams := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.PutLogEvents("/aws/lambda/bench", streams[i%len(streams)], ev)
	}
	mustFlush(b, l)
	b.StopTimer()
	if st := l.Stats(); st.Published != uint64(b.N) {
		b.Fatalf("Stats = %+v", st)
	}
}

// TestLingerBatchesAndFlushCutsItShort: events put while the publisher
// lingers share one stored message, and Flush does not wait out the linger.
func TestLingerBatchesAndFlushCutsItShort(t *testing.T) {
	js := natsdtest.Run(t).JetStream()
	cfg := logs.DefaultConfig()
	cfg.PublishLinger = time.Second
	l := MustOpen(t, js, cfg)
	time.Sleep(20 * time.Millisecond) // let the publisher go idle
	for _, m := range []string{"START", "hello", "END", "REPORT"} {
		l.PutLogEvents("/aws/lambda/linger", "s", stratus.LogEvent{Message: m})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if d := time.Since(start); d >= cfg.PublishLinger {
		t.Errorf("Flush took %s: it waited out the linger", d)
	}
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stored messages = %d, want 1 (the four events in one batch)", info.State.Msgs)
	}
	if s := l.Stats(); s.Published != 4 || s.Pending != 0 {
		t.Errorf("Stats = %+v", s)
	}
}
