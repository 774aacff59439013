package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// sendBodies sends bodies in batches of 10 from a few goroutines.
func sendBodies(t testing.TB, c sqsClient, url string, bodies []string) {
	t.Helper()
	var wg sync.WaitGroup
	const senders = 4
	for g := range senders {
		wg.Go(func() {
			for i := g * 10; i < len(bodies); i += senders * 10 {
				var ms []sendOpts
				for _, b := range bodies[i:min(i+10, len(bodies))] {
					ms = append(ms, sendOpts{Body: b})
				}
				if ok, failed, code := c.SendBatch(url, ms); code != "" || len(failed) > 0 || len(ok) != len(ms) {
					t.Errorf("SendMessageBatch: %s %v", code, failed)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// queueEmpty returns nil once the queue holds no message in any state.
func queueEmpty(c sqsClient, url string) error {
	a, code := c.GetAttributes(url, "All")
	if code != "" {
		return fmt.Errorf("GetQueueAttributes: %s", code)
	}
	if a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "0" || a["ApproximateNumberOfMessagesDelayed"] != "0" {
		return fmt.Errorf("queue still holds messages: visible %s, in flight %s, delayed %s",
			a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"])
	}
	return nil
}

func waitESMState(t testing.TB, c *lambda.Client, uuid, want string) {
	t.Helper()
	checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		out, err := c.GetEventSourceMapping(ctxFor(t, time.Minute), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err != nil {
			return err
		}
		if s := aws.ToString(out.State); s != want {
			return fmt.Errorf("State %s, want %s", s, want)
		}
		return nil
	})
}

// processedBodies returns the bodies the function logged as processed
// (the fixture prints "sqs-processed <messageId> <body>").
func processedBodies(t testing.TB, cli *AWSCLI, function string) map[string]bool {
	t.Helper()
	var out struct {
		Events []struct{ Message string } `json:"events"`
	}
	cli.MustJSON(&out, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/"+function)
	got := map[string]bool{}
	for _, e := range out.Events {
		for _, line := range strings.Split(e.Message, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "sqs-processed" {
				got[f[2]] = true
			}
		}
	}
	return got
}

// TestESMDrainsQueue drives the Go fixture function from a queue: 1,000
// messages are each processed at least once, items the function reports
// as failed (ReportBatchItemFailures) end up in the dead-letter queue
// after maxReceiveCount, and the mapping's lifecycle (states, disable,
// restart, delete) follows reference §2.8.
func TestESMDrainsQueue(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	lc := NewLambdaClient(srv.URL)
	qc := &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	const fn = "esm-fn"
	mustCreateFunction(t, lc, fn, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(3) })
	dlq, code := qc.CreateQueue("esm-dlq", nil)
	mustOK(t, "CreateQueue", code)
	policy := `{"deadLetterTargetArn":"` + queueARN("esm-dlq") + `","maxReceiveCount":2}`
	src, code := qc.CreateQueue("esm-src", map[string]string{"VisibilityTimeout": "3", "RedrivePolicy": policy})
	mustOK(t, "CreateQueue", code)

	var bodies []string
	for i := range 1000 {
		bodies = append(bodies, fmt.Sprintf("m-%04d", i))
	}
	for i := range 5 {
		bodies = append(bodies, fmt.Sprintf("fail-%d", i))
	}
	sendBodies(t, qc, src, bodies)

	ctx := ctxFor(t, time.Minute)
	created, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		EventSourceArn:        aws.String(queueARN("esm-src")),
		FunctionName:          aws.String(fn),
		BatchSize:             aws.Int32(10),
		FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig:         &types.ScalingConfig{MaximumConcurrency: aws.Int32(5)},
	})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	uuid := aws.ToString(created.UUID)
	if !uuidRE.MatchString(uuid) || aws.ToString(created.State) != "Creating" || aws.ToString(created.StateTransitionReason) != "USER_INITIATED" ||
		aws.ToString(created.FunctionArn) != functionARN(fn) || aws.ToInt32(created.BatchSize) != 10 || created.LastModified == nil {
		t.Fatalf("CreateEventSourceMapping output %+v", created)
	}
	checkRawESM(t, srv.URL, uuid)
	waitESMState(t, lc, uuid, "Enabled")

	start := time.Now()
	checkFor(t, 90*time.Second, 250*time.Millisecond, func() error { return queueEmpty(qc, src) })
	t.Logf("1,005 messages drained in %v", time.Since(start))
	if n := count(t, qc, dlq, "ApproximateNumberOfMessages"); n != "5" {
		t.Fatalf("DLQ holds %s messages, want the 5 failed ones", n)
	}
	var failed []string
	for len(failed) < 5 {
		msgs, code := qc.Receive(dlq, 10, 1, nil)
		mustOK(t, "ReceiveMessage from the DLQ", code)
		if len(msgs) == 0 {
			break
		}
		failed = append(failed, bodiesOf(msgs)...)
	}
	for _, b := range failed {
		if !strings.HasPrefix(b, "fail-") {
			t.Errorf("DLQ holds %q, want only the failed items", b)
		}
	}
	cli := MustAWSCLI(t, srv.URL)
	checkFor(t, 20*time.Second, time.Second, func() error {
		got := processedBodies(t, cli, fn)
		for _, b := range bodies[:1000] {
			if !got[b] {
				return fmt.Errorf("message %s was not processed (%d of 1000 were)", b, len(got))
			}
		}
		return nil
	})

	// A second mapping for the same queue and function conflicts.
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		EventSourceArn: aws.String(queueARN("esm-src")), FunctionName: aws.String(fn)})
	mustAPIError(t, err, 409, "ResourceConflictException")

	// Disabled, the mapping leaves messages alone.
	upd, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(false)})
	if err != nil || aws.ToString(upd.State) != "Disabling" {
		t.Fatalf("UpdateEventSourceMapping(Enabled=false): %v %+v", err, upd)
	}
	waitESMState(t, lc, uuid, "Disabled")
	sendBodies(t, qc, src, []string{"while-disabled"})
	time.Sleep(1500 * time.Millisecond)
	if n := count(t, qc, src, "ApproximateNumberOfMessages"); n != "1" {
		t.Fatalf("a disabled mapping consumed messages: %s visible, want 1", n)
	}
	if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(true)}); err != nil {
		t.Fatalf("UpdateEventSourceMapping(Enabled=true): %v", err)
	}
	waitESMState(t, lc, uuid, "Enabled")

	// The mapping survives a restart and resumes polling.
	srv.Restart()
	lc = NewLambdaClient(srv.URL)
	qc = &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	src, code = qc.GetQueueURL("esm-src")
	mustOK(t, "GetQueueUrl", code)
	sendBodies(t, qc, src, []string{"after-restart-1", "after-restart-2"})
	checkFor(t, 30*time.Second, 250*time.Millisecond, func() error { return queueEmpty(qc, src) })

	list, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(fn)})
	if err != nil || len(list.EventSourceMappings) != 1 || aws.ToString(list.EventSourceMappings[0].UUID) != uuid {
		t.Fatalf("ListEventSourceMappings: %v %+v", err, list)
	}
	del, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)})
	if err != nil || aws.ToString(del.State) != "Deleting" {
		t.Fatalf("DeleteEventSourceMapping: %v %+v", err, del)
	}
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		_, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if apiErrorCode(err) == "ResourceNotFoundException" {
			return nil
		}
		return fmt.Errorf("GetEventSourceMapping after delete: %v", err)
	})
}

// checkRawESM checks the wire form of GetEventSourceMapping: LastModified
// is a number of epoch seconds (reference §2.12).
func checkRawESM(t testing.TB, endpoint, uuid string) {
	t.Helper()
	resp, err := http.Get(endpoint + "/2015-03-31/event-source-mappings/" + uuid)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET event source mapping: %d %s", resp.StatusCode, body)
	}
	lm, ok := raw["LastModified"].(float64)
	if !ok || lm < float64(time.Now().Add(-time.Hour).Unix()) || lm > float64(time.Now().Add(time.Minute).Unix()) {
		t.Fatalf("LastModified = %v (%T), want epoch seconds as a number: %s", raw["LastModified"], raw["LastModified"], body)
	}
}

// TestESMValidation checks the errors of CreateEventSourceMapping.
func TestESMValidation(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	lc := NewLambdaClient(srv.URL)
	qc := &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	mustCreateFunction(t, lc, "esm-v", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(60) })
	mustCreateFunction(t, lc, "esm-short", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(3) })
	_, code := qc.CreateQueue("v-std", nil)
	mustOK(t, "CreateQueue", code)
	_, code = qc.CreateQueue("v.fifo", map[string]string{"FifoQueue": "true"})
	mustOK(t, "CreateQueue", code)
	ctx := ctxFor(t, time.Minute)
	create := func(in *lambda.CreateEventSourceMappingInput) error {
		_, err := lc.CreateEventSourceMapping(ctx, in)
		return err
	}
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("esm-v")}),
		400, "InvalidParameterValueException") // visibility 30s < timeout 60s
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("none")), FunctionName: aws.String("esm-short")}),
		400, "InvalidParameterValueException")
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("missing")}),
		404, "ResourceNotFoundException")
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("esm-short"),
		BatchSize: aws.Int32(11)}), 400, "InvalidParameterValueException") // > 10 needs a batching window
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v.fifo")), FunctionName: aws.String("esm-short"),
		BatchSize: aws.Int32(11), MaximumBatchingWindowInSeconds: aws.Int32(1)}), 400, "InvalidParameterValueException")
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("esm-short"),
		ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(1)}}), 400, "ValidationException")
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("esm-short"),
		BatchSize: aws.Int32(10001)}), 400, "ValidationException")
	mustAPIError(t, create(&lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")), FunctionName: aws.String("esm-short"),
		StartingPosition: types.EventSourcePositionLatest}), 400, "InvalidParameterValueException")
	list, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	if err != nil || len(list.EventSourceMappings) != 0 {
		t.Fatalf("failed creates left mappings: %v %+v", err, list)
	}
	ok, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(queueARN("v-std")),
		FunctionName: aws.String("esm-short"), BatchSize: aws.Int32(100), MaximumBatchingWindowInSeconds: aws.Int32(2), Enabled: aws.Bool(false)})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping with a batching window: %v", err)
	}
	waitESMState(t, lc, aws.ToString(ok.UUID), "Disabled")
}
