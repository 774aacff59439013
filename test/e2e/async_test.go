package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Asynchronous invocation (issue 6): Event invokes, retries with the
// configured (test-scaled) delays, destinations, maximum event age,
// reserved concurrency 0, and durability across kill -9.

// invokeEvent invokes name with InvocationType Event and returns the
// request id of the 202.
func invokeEvent(t testing.TB, c *lambda.Client, name string, event any) string {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: payload,
	})
	if err != nil {
		t.Fatalf("Event invoke of %s: %v", name, err)
	}
	if out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("Event invoke of %s: status %d, payload %q; want 202 and no payload", name, out.StatusCode, out.Payload)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !uuidRE.MatchString(id) {
		t.Fatalf("Event invoke of %s: x-amzn-RequestId %q is not a UUID", name, id)
	}
	return id
}

// logLine is one line of a function's log as filter-log-events returns it.
type logLine struct {
	Time    time.Time
	Message string
}

// functionLog reads a function's whole log through the CloudWatch Logs
// API (AWS CLI filter-log-events).
func functionLog(t testing.TB, cli *AWSCLI, name string) []logLine {
	t.Helper()
	r := cli.Run("logs", "filter-log-events", "--log-group-name", "/aws/lambda/"+name)
	if r.ExitCode != 0 {
		if r.ErrorCode() == "ResourceNotFoundException" {
			return nil // nothing logged yet
		}
		t.Fatalf("filter-log-events:\n%s", r)
	}
	var out struct {
		Events []struct {
			Message   string `json:"message"`
			Timestamp int64  `json:"timestamp"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("decoding filter-log-events output: %v\n%s", err, r)
	}
	lines := make([]logLine, 0, len(out.Events))
	for _, e := range out.Events {
		for _, m := range strings.Split(strings.TrimRight(e.Message, "\n"), "\n") {
			lines = append(lines, logLine{Time: time.UnixMilli(e.Timestamp), Message: m})
		}
	}
	return lines
}

// starts returns the START lines of request id in a log, in order.
func starts(lines []logLine, id string) []logLine {
	var out []logLine
	for _, l := range lines {
		if strings.HasPrefix(l.Message, "START RequestId: "+id+" ") {
			out = append(out, l)
		}
	}
	return out
}

// asyncRecord is an invocation record (reference §5).
type asyncRecord struct {
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

// recordsIn returns the invocation records a recording function
// (GOFN_LOG_EVENTS=1) logged, by request id.
func recordsIn(lines []logLine) map[string]asyncRecord {
	out := map[string]asyncRecord{}
	for _, l := range lines {
		b, ok := strings.CutPrefix(l.Message, "EVENT ")
		if !ok {
			continue
		}
		var r asyncRecord
		if json.Unmarshal([]byte(b), &r) == nil && r.RequestContext.RequestID != "" {
			out[r.RequestContext.RequestID] = r
		}
	}
	return out
}

// mustRecorder creates a function that logs every event it gets.
func mustRecorder(t testing.TB, c *lambda.Client, name string) string {
	t.Helper()
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"GOFN_LOG_EVENTS": "1"}}
	})
	return functionARN(name)
}

// waitRecord waits for the recorder's record of request id.
func waitRecord(t testing.TB, cli *AWSCLI, recorder, id string, within time.Duration) asyncRecord {
	t.Helper()
	var rec asyncRecord
	checkFor(t, within, 500*time.Millisecond, func() error {
		var ok bool
		if rec, ok = recordsIn(functionLog(t, cli, recorder))[id]; !ok {
			return fmt.Errorf("no record of request %s in %s's log", id, recorder)
		}
		return nil
	})
	if rec.Version != "1.0" {
		t.Errorf("record version %q, want 1.0", rec.Version)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil {
		t.Errorf("record timestamp %q: %v", rec.Timestamp, err)
	}
	return rec
}

// TestAsyncInvoke: Event invokes through aws-sdk-go-v2 and the AWS CLI
// answer 202 with a request id, and the function runs under that request
// id (seen in its log).
func TestAsyncInvoke(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "async-fn"
	mustCreateFunction(t, c, name, nil)

	sdkID := invokeEvent(t, c, name, Event{Action: "log", Lines: 1, Marker: "sdk-async"})

	outfile := filepath.Join(t.TempDir(), "out.json")
	var out cliInvokeOutput
	cli.MustJSON(&out, "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
		"--cli-binary-format", "raw-in-base64-out", "--payload", `{"action":"log","lines":1,"marker":"cli-async"}`, outfile)
	if out.StatusCode != 202 {
		t.Errorf("aws lambda invoke --invocation-type Event: StatusCode %d, want 202", out.StatusCode)
	}

	checkFor(t, 30*time.Second, 500*time.Millisecond, func() error {
		lines := functionLog(t, cli, name)
		var all strings.Builder
		for _, l := range lines {
			all.WriteString(l.Message + "\n")
		}
		if n := len(starts(lines, sdkID)); n != 1 {
			return fmt.Errorf("%d START lines for request %s, want 1:\n%s", n, sdkID, all.String())
		}
		return containsAll(all.String(), []string{"sdk-async stdout 0", "cli-async stdout 0", "END RequestId: " + sdkID})
	})

	_, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`"` + strings.Repeat("x", 1048575) + `"`),
	})
	mustAPIError(t, err, 413, "RequestEntityTooLargeException")
	if !strings.Contains(err.Error(), "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)") {
		t.Errorf("413 message: %v", err)
	}
	_, err = c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
		FunctionName: aws.String("no-such-fn"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`),
	})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
}

// TestAsyncEventInvokeConfig drives the five operations through the AWS
// CLI and aws-sdk-go-v2.
func TestAsyncEventInvokeConfig(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "eic-fn"
	mustCreateFunction(t, c, name, nil)
	dest := functionARN("eic-dest")
	queue := "arn:aws:sqs:" + region + ":" + accountID + ":eic-queue"

	type config struct {
		FunctionArn              string
		LastModified             string // the CLI prints the epoch-seconds timestamp as ISO 8601
		MaximumRetryAttempts     *int
		MaximumEventAgeInSeconds *int
		DestinationConfig        struct {
			OnSuccess struct{ Destination string }
			OnFailure struct{ Destination string }
		}
	}
	before := time.Now()
	var got config
	cli.MustJSON(&got, "lambda", "put-function-event-invoke-config", "--function-name", name,
		"--maximum-retry-attempts", "1", "--maximum-event-age-in-seconds", "3600",
		"--destination-config", `{"OnSuccess":{"Destination":"`+dest+`"},"OnFailure":{"Destination":"`+queue+`"}}`)
	if got.FunctionArn != functionARN(name)+":$LATEST" || got.MaximumRetryAttempts == nil || *got.MaximumRetryAttempts != 1 ||
		got.MaximumEventAgeInSeconds == nil || *got.MaximumEventAgeInSeconds != 3600 ||
		got.DestinationConfig.OnSuccess.Destination != dest || got.DestinationConfig.OnFailure.Destination != queue {
		t.Errorf("put-function-event-invoke-config printed %+v", got)
	}
	if lm, err := time.Parse(time.RFC3339Nano, got.LastModified); err != nil || lm.Before(before.Add(-time.Second)) || lm.After(time.Now().Add(time.Second)) {
		t.Errorf("LastModified %q (%v), want now", got.LastModified, err)
	}

	cli.MustJSON(&got, "lambda", "update-function-event-invoke-config", "--function-name", name, "--maximum-retry-attempts", "0")
	if *got.MaximumRetryAttempts != 0 || got.MaximumEventAgeInSeconds == nil || got.DestinationConfig.OnFailure.Destination != queue {
		t.Errorf("update-function-event-invoke-config printed %+v (want a merge)", got)
	}
	cli.MustJSON(&got, "lambda", "get-function-event-invoke-config", "--function-name", name, "--qualifier", "$LATEST")
	if *got.MaximumRetryAttempts != 0 {
		t.Errorf("get-function-event-invoke-config printed %+v", got)
	}
	var list struct{ FunctionEventInvokeConfigs []config }
	cli.MustJSON(&list, "lambda", "list-function-event-invoke-configs", "--function-name", name)
	if len(list.FunctionEventInvokeConfigs) != 1 {
		t.Errorf("list-function-event-invoke-configs printed %+v", list)
	}
	cli.MustFail("InvalidParameterValueException", "lambda", "put-function-event-invoke-config", "--function-name", name,
		"--destination-config", `{"OnFailure":{"Destination":"arn:aws:sns:us-east-1:000000000000:topic"}}`)
	cli.MustFail("ResourceNotFoundException", "lambda", "put-function-event-invoke-config", "--function-name", "no-such-fn",
		"--maximum-retry-attempts", "1")
	cli.MustRun("lambda", "delete-function-event-invoke-config", "--function-name", name)
	cli.MustFail("ResourceNotFoundException", "lambda", "get-function-event-invoke-config", "--function-name", name)

	// The same through aws-sdk-go-v2.
	ctx := ctxFor(t, time.Minute)
	put, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String(name), MaximumRetryAttempts: aws.Int32(2),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(dest)}},
	})
	if err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	if aws.ToString(put.FunctionArn) != functionARN(name)+":$LATEST" || aws.ToInt32(put.MaximumRetryAttempts) != 2 ||
		put.MaximumEventAgeInSeconds != nil || put.LastModified == nil ||
		aws.ToString(put.DestinationConfig.OnFailure.Destination) != dest {
		t.Errorf("PutFunctionEventInvokeConfig output %+v", put)
	}
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String(name), MaximumRetryAttempts: aws.Int32(3),
	}); err != nil {
		t.Logf("MaximumRetryAttempts 3: %v", err) // the SDK may refuse it before sending
	} else {
		t.Error("MaximumRetryAttempts 3 was accepted")
	}
	if _, err := c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(name)}); err != nil {
		t.Errorf("GetFunctionEventInvokeConfig: %v", err)
	}
	pages := lambda.NewListFunctionEventInvokeConfigsPaginator(c, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String(name)})
	n := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFunctionEventInvokeConfigs: %v", err)
		}
		n += len(p.FunctionEventInvokeConfigs)
	}
	if n != 1 {
		t.Errorf("ListFunctionEventInvokeConfigs listed %d configs, want 1", n)
	}
	if _, err := c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String(name)}); err != nil {
		t.Errorf("DeleteFunctionEventInvokeConfig: %v", err)
	}
}

// TestAsyncRetriesAndDestinations: a failing function is tried exactly
// 1 + MaximumRetryAttempts times with the configured delays, then its
// on-failure destination gets the RetriesExhausted record; a successful
// one's on-success destination gets the Success record.
func TestAsyncRetriesAndDestinations(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--async-retry-delays", "1s,2s"}})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	recorder := mustRecorder(t, c, "async-recorder")
	mustCreateFunction(t, c, "async-fails", nil)
	mustCreateFunction(t, c, "async-works", nil)
	ctx := ctxFor(t, time.Minute)
	for _, in := range []*lambda.PutFunctionEventInvokeConfigInput{
		{FunctionName: aws.String("async-fails"), MaximumRetryAttempts: aws.Int32(2),
			DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(recorder)}}},
		{FunctionName: aws.String("async-works"),
			DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(recorder)}}},
	} {
		if _, err := c.PutFunctionEventInvokeConfig(ctx, in); err != nil {
			t.Fatalf("PutFunctionEventInvokeConfig(%s): %v", aws.ToString(in.FunctionName), err)
		}
	}
	failID := invokeEvent(t, c, "async-fails", Event{Action: "error", Message: "boom"})
	okID := invokeEvent(t, c, "async-works", Event{Action: "echo", Message: "hi"})

	rec := waitRecord(t, cli, "async-recorder", okID, 30*time.Second)
	if rec.RequestContext.Condition != "Success" || rec.RequestContext.FunctionArn != functionARN("async-works")+":$LATEST" ||
		rec.RequestContext.ApproximateInvokeCount != 1 || rec.ResponseContext.StatusCode != 200 ||
		rec.ResponseContext.ExecutedVersion != "$LATEST" || rec.ResponseContext.FunctionError != nil {
		t.Errorf("on-success record %+v", rec)
	}
	if string(rec.RequestPayload) != `{"action":"echo","message":"hi"}` || string(rec.ResponsePayload) != string(rec.RequestPayload) {
		t.Errorf("on-success payloads %s / %s", rec.RequestPayload, rec.ResponsePayload)
	}

	rec = waitRecord(t, cli, "async-recorder", failID, 40*time.Second)
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.FunctionArn != functionARN("async-fails")+":$LATEST" ||
		rec.RequestContext.ApproximateInvokeCount != 3 || rec.ResponseContext.StatusCode != 200 ||
		rec.ResponseContext.FunctionError == nil || *rec.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("on-failure record %+v", rec)
	}
	var fe functionError
	if err := json.Unmarshal(rec.ResponsePayload, &fe); err != nil || fe.ErrorMessage != "boom" {
		t.Errorf("on-failure responsePayload %s", rec.ResponsePayload)
	}
	if string(rec.RequestPayload) != `{"action":"error","message":"boom"}` {
		t.Errorf("on-failure requestPayload %s", rec.RequestPayload)
	}

	attempts := starts(functionLog(t, cli, "async-fails"), failID)
	if len(attempts) != 3 {
		t.Fatalf("async-fails ran request %s %d times, want 1 + MaximumRetryAttempts (2)", failID, len(attempts))
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		gap := attempts[i+1].Time.Sub(attempts[i].Time)
		if gap < want-100*time.Millisecond || gap > want+5*time.Second {
			t.Errorf("retry %d started %v after the attempt before it, want about %v (--async-retry-delays 1s,2s)", i+1, gap, want)
		}
	}
}

// TestAsyncThrottledEventExpires: an event that cannot run because its
// function's concurrency is in use backs off until MaximumEventAgeInSeconds
// passes and then goes to on-failure with EventAgeExceeded, also while the
// function is disabled (reserved concurrency 0) and after it is enabled
// again; an event accepted while the function is disabled goes to
// on-failure at once (RetriesExhausted) without running.
func TestAsyncThrottledEventExpires(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--async-backoff-max", "4s"}})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	recorder := mustRecorder(t, c, "expiry-recorder")
	const name = "expiry-busy"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(120) })
	ctx := ctxFor(t, 3*time.Minute)
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(1),
	}); err != nil {
		t.Fatalf("PutFunctionConcurrency 1: %v", err)
	}
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String(name), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(recorder)}},
	}); err != nil {
		t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
	}
	// The sleeper holds the function's only slot for 75 s.
	sleeper := invokeEvent(t, c, name, Event{Action: "sleep", MS: 75000})
	checkFor(t, 30*time.Second, 250*time.Millisecond, func() error {
		if len(starts(functionLog(t, cli, name), sleeper)) == 0 {
			return fmt.Errorf("the sleeper has not started")
		}
		return nil
	})
	accepted := time.Now()
	waiting := invokeEvent(t, c, name, Event{Action: "echo", Message: "too late"})
	time.Sleep(3 * time.Second) // throttled a few times
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0),
	}); err != nil {
		t.Fatalf("PutFunctionConcurrency 0: %v", err)
	}
	disabled := invokeEvent(t, c, name, Event{Action: "echo", Message: "while disabled"})
	rec := waitRecord(t, cli, "expiry-recorder", disabled, 20*time.Second)
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.ResponseContext.StatusCode != 429 {
		t.Errorf("record of the event accepted while disabled: %+v", rec)
	}
	if time.Since(accepted) > 45*time.Second {
		t.Fatal("the event accepted while the function was disabled took too long to reach on-failure")
	}
	if _, ok := recordsIn(functionLog(t, cli, "expiry-recorder"))[waiting]; ok {
		t.Fatal("the waiting event went to on-failure before its MaximumEventAgeInSeconds")
	}
	time.Sleep(time.Until(accepted.Add(50 * time.Second)))
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteFunctionConcurrency: %v", err)
	}
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(1),
	}); err != nil {
		t.Fatalf("PutFunctionConcurrency 1 again: %v", err)
	}
	rec = waitRecord(t, cli, "expiry-recorder", waiting, 40*time.Second)
	if age := time.Since(accepted); age < 59*time.Second {
		t.Errorf("EventAgeExceeded after %v, before MaximumEventAgeInSeconds (60)", age)
	}
	if rec.RequestContext.Condition != "EventAgeExceeded" || rec.ResponseContext.StatusCode != 429 ||
		string(rec.RequestPayload) != `{"action":"echo","message":"too late"}` {
		t.Errorf("record of the expired event: %+v", rec)
	}
	lines := functionLog(t, cli, name)
	if n := len(starts(lines, waiting)) + len(starts(lines, disabled)); n != 0 {
		t.Errorf("events that were throttled or disabled ran %d times", n)
	}
}

// TestAsyncSurvivesKill9: 500 accepted events survive kill -9 of the
// server and all run after the restart, at least once. The function
// appends its request id to a file on the host (--sandbox=none), synced
// before it returns, so every execution is counted even if the server
// dies right after; the duplicate rate is logged.
func TestAsyncSurvivesKill9(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--sandbox=none", "--async-workers", "16", "--async-ack-wait", "3s"}})
	c := NewLambdaClient(srv.URL)
	const name, events = "kill9-fn", 500
	mustCreateFunction(t, c, name, nil)
	idsFile := filepath.Join(t.TempDir(), "executions")

	ids := make([]string, events)
	errs := make([]error, events)
	payload, _ := json.Marshal(Event{Action: "append", Path: idsFile, MS: 50})
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				out, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
					FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: payload,
				})
				if err == nil && out.StatusCode != 202 {
					err = fmt.Errorf("status %d", out.StatusCode)
				}
				if err == nil {
					ids[i], _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
				}
				errs[i] = err
			}
		})
	}
	start := time.Now()
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
	acceptTime := time.Since(start)
	for i, err := range errs {
		if err != nil || ids[i] == "" {
			t.Fatalf("Event invoke %d: %v (request id %q)", i, err, ids[i])
		}
	}
	before := readLines(t, idsFile)
	srv.kill9()
	t.Logf("accepted %d events in %v; %d executions when the server was killed (kill -9)", events, acceptTime, len(before))

	srv.start()
	counts := map[string]int{}
	checkFor(t, 90*time.Second, 500*time.Millisecond, func() error {
		counts = map[string]int{}
		for _, id := range readLines(t, idsFile) {
			counts[id]++
		}
		for _, id := range ids {
			if counts[id] == 0 {
				return fmt.Errorf("%d of %d events executed; %s has not", len(counts), events, id)
			}
		}
		return nil
	})
	dups := 0
	for _, id := range ids {
		dups += counts[id] - 1
	}
	t.Logf("after the restart all %d events executed at least once; %d duplicate executions (%.1f%%)",
		events, dups, 100*float64(dups)/events)
	if len(counts) != events {
		t.Errorf("%d distinct request ids executed, want %d", len(counts), events)
	}
}

// kill9 kills the server process with SIGKILL and waits for it to exit.
func (s *Server) kill9() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	_ = p.cmd.Process.Kill()
	<-p.done
	fmt.Fprintf(s.out, "----- kill -9 -----\n")
}

// readLines reads a file's lines ("" lines dropped; missing file: none).
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
