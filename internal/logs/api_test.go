package logs_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/logs"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

const (
	alpha      = "/aws/lambda/alpha"
	beta       = "/aws/lambda/beta"
	betaStream = "2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef"
)

var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()

// fixture stores 1000 events: event i goes to alpha stream s<i%5> for
// i%5 < 4 and to beta otherwise, with timestamp base+10*i. Small batches
// spread each stream over many stored messages.
func fixture(t *testing.T) (*logs.Logs, http.Handler, jetstream.JetStream) {
	t.Helper()
	cfg := logs.DefaultConfig()
	cfg.MaxEventSize, cfg.MaxBatchBytes = 1024, 2048
	js := natsdtest.Run(t).JetStream()
	l := MustOpen(t, js, cfg)
	for i := 0; i < 1000; i++ {
		group, stream := alpha, fmt.Sprintf("s%d", i%5)
		if i%5 == 4 {
			group, stream = beta, betaStream
		}
		level := "INFO"
		switch i % 10 {
		case 0:
			level = "ERROR"
		case 5:
			level = "WARN"
		}
		msg := fmt.Sprintf("event %04d level=%s", i, level)
		if i%100 == 0 {
			msg += " Task timed out after 3.00 seconds"
		}
		l.PutLogEvents(group, stream, stratus.LogEvent{Timestamp: time.UnixMilli(base + 10*int64(i)), Message: msg})
		if i%150 == 149 {
			mustFlush(t, l)
		}
	}
	mustFlush(t, l)
	return l, l.Handler(), js
}

type event struct {
	LogStreamName string
	Timestamp     int64
	Message       string
	IngestionTime int64
	EventID       string
}

func TestAPI(t *testing.T) {
	_, h, _ := fixture(t)
	t.Run("DescribeLogGroups", func(t *testing.T) { testDescribeLogGroups(t, h) })
	t.Run("DescribeLogStreams", func(t *testing.T) { testDescribeLogStreams(t, h) })
	t.Run("GetLogEvents", func(t *testing.T) { testGetLogEvents(t, h) })
	t.Run("FilterLogEvents", func(t *testing.T) { testFilterLogEvents(t, h) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, h) })
}

type groupsOut struct {
	LogGroups []struct {
		LogGroupName    string
		CreationTime    int64
		RetentionInDays int
		Arn             string
	}
	NextToken string
}

func testDescribeLogGroups(t *testing.T, h http.Handler) {
	var out groupsOut
	call(t, h, "DescribeLogGroups", map[string]any{}, &out)
	if len(out.LogGroups) != 2 || out.LogGroups[0].LogGroupName != alpha || out.LogGroups[1].LogGroupName != beta {
		t.Fatalf("groups = %+v", out)
	}
	g := out.LogGroups[0]
	if g.CreationTime == 0 || g.RetentionInDays != 7 ||
		g.Arn != "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/alpha:*" {
		t.Errorf("group = %+v", g)
	}
	var page1, page2, byPrefix, byPattern groupsOut
	call(t, h, "DescribeLogGroups", map[string]any{"limit": 1}, &page1)
	call(t, h, "DescribeLogGroups", map[string]any{"limit": 1, "nextToken": page1.NextToken}, &page2)
	if len(page1.LogGroups) != 1 || page1.NextToken == "" || len(page2.LogGroups) != 1 ||
		page2.LogGroups[0].LogGroupName != beta || page2.NextToken != "" {
		t.Errorf("pages = %+v / %+v", page1, page2)
	}
	call(t, h, "DescribeLogGroups", map[string]any{"logGroupNamePrefix": "/aws/lambda/b"}, &byPrefix)
	call(t, h, "DescribeLogGroups", map[string]any{"logGroupNamePattern": "ALPHA"}, &byPattern)
	if len(byPrefix.LogGroups) != 1 || byPrefix.LogGroups[0].LogGroupName != beta ||
		len(byPattern.LogGroups) != 1 || byPattern.LogGroups[0].LogGroupName != alpha {
		t.Errorf("prefix = %+v, pattern = %+v", byPrefix, byPattern)
	}
}

type streamsOut struct {
	LogStreams []struct {
		LogStreamName       string
		CreationTime        int64
		FirstEventTimestamp int64
		LastEventTimestamp  int64
		LastIngestionTime   int64
		Arn                 string
	}
	NextToken string
}

func (s streamsOut) names() string {
	var n []string
	for _, ls := range s.LogStreams {
		n = append(n, ls.LogStreamName)
	}
	return strings.Join(n, ",")
}

func testDescribeLogStreams(t *testing.T, h http.Handler) {
	var all streamsOut
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha}, &all)
	if all.names() != "s0,s1,s2,s3" || all.NextToken != "" {
		t.Fatalf("streams = %+v", all)
	}
	for k, ls := range all.LogStreams {
		if ls.FirstEventTimestamp != base+10*int64(k) || ls.LastEventTimestamp != base+10*int64(995+k) ||
			ls.CreationTime == 0 || ls.LastIngestionTime < ls.CreationTime ||
			ls.Arn != "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/alpha:log-stream:"+ls.LogStreamName {
			t.Errorf("stream %d = %+v", k, ls)
		}
	}
	var p1, p2 streamsOut
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha, "limit": 3, "descending": true}, &p1)
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha, "limit": 3, "descending": true,
		"nextToken": p1.NextToken}, &p2)
	if p1.names() != "s3,s2,s1" || p2.names() != "s0" || p2.NextToken != "" {
		t.Errorf("descending pages = %s / %s", p1.names(), p2.names())
	}
	var t1, t2 streamsOut
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha, "orderBy": "LastEventTime",
		"descending": true, "limit": 2}, &t1)
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha, "orderBy": "LastEventTime",
		"descending": true, "limit": 2, "nextToken": t1.NextToken}, &t2)
	if t1.names() != "s3,s2" || t2.names() != "s1,s0" {
		t.Errorf("by LastEventTime = %s / %s", t1.names(), t2.names())
	}
	var pre, b streamsOut
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupName": alpha, "logStreamNamePrefix": "s2"}, &pre)
	call(t, h, "DescribeLogStreams", map[string]any{"logGroupIdentifier": "arn:aws:logs:us-east-1:000000000000:log-group:" + beta + ":*"}, &b)
	if pre.names() != "s2" || b.names() != betaStream {
		t.Errorf("prefix = %s, beta by ARN = %s", pre.names(), b.names())
	}
}

type eventsOut struct {
	Events            []event
	NextForwardToken  string
	NextBackwardToken string
}

// wantStream returns the messages of alpha stream k in order.
func wantStream(k int) []string {
	var out []string
	for i := k; i < 1000; i += 5 {
		out = append(out, fmt.Sprintf("event %04d", i))
	}
	return out
}

func prefixes(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Message[:10])
	}
	return out
}

func testGetLogEvents(t *testing.T, h http.Handler) {
	want := strings.Join(wantStream(1), ",")
	req := map[string]any{"logGroupName": alpha, "logStreamName": "s1", "startFromHead": true, "limit": 64}
	var fwd []event
	for pages := 0; ; pages++ {
		var out eventsOut
		call(t, h, "GetLogEvents", req, &out)
		fwd = append(fwd, out.Events...)
		if out.NextForwardToken == req["nextToken"] {
			break
		}
		if pages > 10 {
			t.Fatal("forward paging does not end")
		}
		req["nextToken"] = out.NextForwardToken
	}
	if got := strings.Join(prefixes(fwd), ","); got != want {
		t.Fatalf("forward pages:\n got %s\nwant %s", got, want)
	}
	if e := fwd[0]; e.Timestamp != base+10 || e.IngestionTime == 0 {
		t.Errorf("first event = %+v", e)
	}

	var last eventsOut
	call(t, h, "GetLogEvents", map[string]any{"logGroupName": alpha, "logStreamName": "s1", "limit": 50}, &last)
	if got := strings.Join(prefixes(last.Events), ","); got != strings.Join(wantStream(1)[150:], ",") {
		t.Fatalf("default (backward) read = %s", got)
	}
	bwd := last.Events
	req = map[string]any{"logGroupName": alpha, "logStreamName": "s1", "limit": 64, "nextToken": last.NextBackwardToken}
	for pages := 0; ; pages++ {
		var out eventsOut
		call(t, h, "GetLogEvents", req, &out)
		bwd = append(out.Events, bwd...)
		if out.NextBackwardToken == req["nextToken"] {
			break
		}
		if pages > 10 {
			t.Fatal("backward paging does not end")
		}
		req["nextToken"] = out.NextBackwardToken
	}
	if got := strings.Join(prefixes(bwd), ","); got != want {
		t.Fatalf("backward pages:\n got %s\nwant %s", got, want)
	}

	var window eventsOut
	call(t, h, "GetLogEvents", map[string]any{"logGroupName": alpha, "logStreamName": "s1",
		"startTime": base + 1000, "endTime": base + 2000}, &window)
	if got := strings.Join(prefixes(window.Events), ","); got != strings.Join(wantStream(1)[20:40], ",") {
		t.Errorf("time window = %s", got)
	}
}

type filterOut struct {
	Events    []event
	NextToken string
}

// filterAll pages through FilterLogEvents and returns every event.
func filterAll(t *testing.T, h http.Handler, req map[string]any) []event {
	t.Helper()
	var all []event
	ids := map[string]bool{}
	for pages := 0; ; pages++ {
		var out filterOut
		if code, typ := call(t, h, "FilterLogEvents", req, &out); code != 200 {
			t.Fatalf("FilterLogEvents %v: %d %s", req, code, typ)
		}
		for _, e := range out.Events {
			if ids[e.EventID] || e.EventID == "" {
				t.Fatalf("duplicate or empty eventId %q", e.EventID)
			}
			ids[e.EventID] = true
		}
		all = append(all, out.Events...)
		if out.NextToken == "" {
			return all
		}
		if pages > 2000 {
			t.Fatal("paging does not end")
		}
		req["nextToken"] = out.NextToken
	}
}

func testFilterLogEvents(t *testing.T, h http.Handler) {
	cases := []struct {
		name string
		req  map[string]any
		want int
	}{
		{"all", map[string]any{}, 800},
		{"paged", map[string]any{"limit": 37}, 800},
		{"term", map[string]any{"filterPattern": "ERROR"}, 100},
		{"two terms", map[string]any{"filterPattern": "level=ERROR event"}, 100},
		{"phrase", map[string]any{"filterPattern": `"Task timed out"`}, 10},
		{"phrase absent", map[string]any{"filterPattern": `"timed Task"`}, 0},
		{"any", map[string]any{"filterPattern": "?ERROR ?WARN"}, 200},
		{"exclude", map[string]any{"filterPattern": "event -level=INFO"}, 200},
		{"stream names", map[string]any{"logStreamNames": []string{"s1", "s2"}}, 400},
		{"one stream", map[string]any{"logStreamNames": []string{"s3"}, "filterPattern": "WARN"}, 0},
		{"stream prefix", map[string]any{"logStreamNamePrefix": "s3"}, 200},
		{"time window", map[string]any{"startTime": base + 1000, "endTime": base + 2000}, 80},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req["logGroupName"] = alpha
			evs := filterAll(t, h, tc.req)
			if len(evs) != tc.want {
				t.Fatalf("%d events, want %d", len(evs), tc.want)
			}
			for _, e := range evs {
				if e.LogStreamName == "" || e.Timestamp < base || e.IngestionTime == 0 {
					t.Fatalf("event = %+v", e)
				}
			}
		})
	}
	beta := filterAll(t, h, map[string]any{"logGroupName": beta, "filterPattern": "WARN"})
	if len(beta) != 0 {
		t.Errorf("beta WARN = %d events", len(beta))
	}
}

// TestFilterScanBudget checks that a search that runs out of its scan
// budget returns a token (possibly with an empty page), and that
// following the tokens finds every event exactly once.
func TestFilterScanBudget(t *testing.T) {
	_, _, js := fixture(t)
	cfg := logs.DefaultConfig()
	cfg.ScanMessages = 2
	small := MustOpen(t, js, cfg) // a second reader of the same stream
	evs := filterAll(t, small.Handler(), map[string]any{"logGroupName": alpha, "filterPattern": "ERROR"})
	if len(evs) != 100 {
		t.Fatalf("%d events, want 100", len(evs))
	}
}

func testErrors(t *testing.T, h http.Handler) {
	cases := []struct {
		op     string
		req    map[string]any
		status int
		code   string
	}{
		{"DescribeLogStreams", map[string]any{"logGroupName": "/nope"}, 400, "ResourceNotFoundException"},
		{"DescribeLogStreams", map[string]any{"logGroupName": alpha, "orderBy": "LastEventTime", "logStreamNamePrefix": "s"}, 400, "InvalidParameterException"},
		{"DescribeLogStreams", map[string]any{"logGroupName": alpha, "orderBy": "Size"}, 400, "InvalidParameterException"},
		{"DescribeLogStreams", map[string]any{}, 400, "InvalidParameterException"},
		{"DescribeLogGroups", map[string]any{"limit": 51}, 400, "InvalidParameterException"},
		{"DescribeLogGroups", map[string]any{"nextToken": "garbage"}, 400, "InvalidParameterException"},
		{"GetLogEvents", map[string]any{"logGroupName": "/nope", "logStreamName": "s"}, 400, "ResourceNotFoundException"},
		{"GetLogEvents", map[string]any{"logGroupName": alpha, "logStreamName": "nope"}, 400, "ResourceNotFoundException"},
		{"GetLogEvents", map[string]any{"logGroupName": alpha, "logStreamName": "s1", "nextToken": "x/1"}, 400, "InvalidParameterException"},
		{"GetLogEvents", map[string]any{"logGroupName": alpha, "logStreamName": "s1", "limit": 10001}, 400, "InvalidParameterException"},
		{"FilterLogEvents", map[string]any{"logGroupName": "/nope"}, 400, "ResourceNotFoundException"},
		{"FilterLogEvents", map[string]any{"logGroupName": alpha, "filterPattern": "{ $.level = \"ERROR\" }"}, 400, "InvalidParameterException"},
		{"FilterLogEvents", map[string]any{"logGroupName": alpha, "filterPattern": `"open`}, 400, "InvalidParameterException"},
		{"FilterLogEvents", map[string]any{"logGroupName": alpha, "logStreamNames": []string{"s1"}, "logStreamNamePrefix": "s"}, 400, "InvalidParameterException"},
		{"CreateLogGroup", map[string]any{"logGroupName": "x"}, 400, "UnknownOperationException"},
	}
	for _, tc := range cases {
		var out map[string]any
		status, code := call(t, h, tc.op, tc.req, &out)
		if status != tc.status || code != tc.code {
			t.Errorf("%s %v = %d %s, want %d %s", tc.op, tc.req, status, code, tc.status, tc.code)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{not json"))
	r.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "SerializationException") {
		t.Errorf("bad JSON = %d %s", w.Code, w.Body)
	}
}
