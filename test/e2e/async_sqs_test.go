package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Asynchronous invocation with SQS targets (issue 6): the dead-letter
// queue and queue destinations receive what reference §5 says, through
// the real SQS service of the same server.

// sqsAttr is a message attribute as a client received it.
type sqsAttr struct{ DataType, StringValue string }

// queueMessage is one received message with its typed attributes.
type queueMessage struct {
	Body   string
	Attrs  map[string]sqsAttr
	Handle string // receipt handle
}

// sdkReceiveOne waits for a message on the queue at url (aws-sdk-go-v2)
// and returns it; the message stays in flight.
func sdkReceiveOne(t testing.TB, c *sqs.Client, url string, within time.Duration) queueMessage {
	t.Helper()
	var got queueMessage
	checkFor(t, within, 100*time.Millisecond, func() error {
		out, err := c.ReceiveMessage(ctxFor(t, time.Minute), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return fmt.Errorf("ReceiveMessage: %v", err)
		}
		switch len(out.Messages) {
		case 0:
			return fmt.Errorf("no message on %s yet", url)
		case 1:
		default:
			t.Fatalf("%d messages on %s, want 1", len(out.Messages), url)
		}
		m := out.Messages[0]
		got = queueMessage{Body: aws.ToString(m.Body), Attrs: map[string]sqsAttr{}, Handle: aws.ToString(m.ReceiptHandle)}
		for k, v := range m.MessageAttributes {
			got.Attrs[k] = sqsAttr{DataType: aws.ToString(v.DataType), StringValue: aws.ToString(v.StringValue)}
		}
		return nil
	})
	return got
}

// cliReceiveOne waits for a message on the queue at url (aws sqs
// receive-message --message-attribute-names All) and returns it; the
// message stays in flight.
func cliReceiveOne(t testing.TB, cli *AWSCLI, url string, within time.Duration) queueMessage {
	t.Helper()
	var got queueMessage
	checkFor(t, within, 100*time.Millisecond, func() error {
		var out struct {
			Messages []struct {
				Body              string
				MessageAttributes map[string]sqsAttr
			}
		}
		if code := cliJSON(cli.Run("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
			"--wait-time-seconds", "2", "--message-attribute-names", "All"), &out); code != "" {
			return fmt.Errorf("aws sqs receive-message: %s", code)
		}
		switch len(out.Messages) {
		case 0:
			return fmt.Errorf("no message on %s yet", url)
		case 1:
		default:
			t.Fatalf("%d messages on %s, want 1", len(out.Messages), url)
		}
		got = queueMessage{Body: out.Messages[0].Body, Attrs: out.Messages[0].MessageAttributes}
		if got.Attrs == nil {
			got.Attrs = map[string]sqsAttr{}
		}
		return nil
	})
	return got
}

// sdkQueueCounts returns a queue's visible and in-flight message counts.
func sdkQueueCounts(t testing.TB, c *sqs.Client, url string) (visible, inFlight string) {
	t.Helper()
	out, err := c.GetQueueAttributes(ctxFor(t, time.Minute), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []stypes.QueueAttributeName{
			stypes.QueueAttributeNameApproximateNumberOfMessages, stypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

// checkRecordShape decodes an invocation record from an SQS message body
// and checks the fields every record has (reference §5): the exact set of
// keys, version, a millisecond UTC timestamp between from and to,
// statusCode 200 and executedVersion $LATEST. It returns the record and
// its responseContext's keys.
func checkRecordShape(t testing.TB, body string, from, to time.Time) (asyncRecord, []string) {
	t.Helper()
	var rec asyncRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatalf("the message body is not an invocation record: %v\n%s", err, body)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal([]byte(body), &raw)
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{
		"requestContext", "requestPayload", "responseContext", "responsePayload", "timestamp", "version",
	}) {
		t.Errorf("record keys %v\n%s", keys, body)
	}
	var rc map[string]json.RawMessage
	_ = json.Unmarshal(raw["responseContext"], &rc)
	if rec.Version != "1.0" {
		t.Errorf("record version %q, want 1.0", rec.Version)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp); err != nil {
		t.Errorf("record timestamp %q: %v", rec.Timestamp, err)
	} else if ts.Before(from.Add(-time.Second)) || ts.After(to.Add(time.Second)) {
		t.Errorf("record timestamp %s is not between %s and %s", rec.Timestamp, from.UTC(), to.UTC())
	}
	if rec.ResponseContext.StatusCode != 200 || rec.ResponseContext.ExecutedVersion != "$LATEST" {
		t.Errorf("responseContext statusCode %d, executedVersion %q; want 200, $LATEST",
			rec.ResponseContext.StatusCode, rec.ResponseContext.ExecutedVersion)
	}
	return rec, slices.Sorted(maps.Keys(rc))
}

// cliRequestIDRE finds the x-amzn-RequestId response header in `aws
// --debug` output.
var cliRequestIDRE = regexp.MustCompile(`(?i)'x-amzn-RequestId': '([0-9a-f-]{36})'`)

// TestAsyncSQSTargets: through the built binary, with test-scaled retry
// delays, a function that keeps failing is tried 1 + MaximumRetryAttempts
// times with the configured delays, then its event lands in the
// dead-letter SQS queue (the original event with RequestID, ErrorCode and
// ErrorMessage attributes) and its invocation record in the on-failure
// SQS queue (aws-sdk-go-v2); a succeeding function's record reaches its
// on-success SQS queue (AWS CLI).
func TestAsyncSQSTargets(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--async-retry-delays", "1s,2s"}})

	t.Run("sdk-dlq-and-on-failure", func(t *testing.T) {
		t.Parallel()
		c := NewLambdaClient(srv.URL)
		q := NewSQSClient(srv.URL)
		cli := MustAWSCLI(t, srv.URL)
		ctx := ctxFor(t, 2*time.Minute)
		urls := map[string]string{}
		for _, name := range []string{"async-dlq", "async-on-failure"} {
			out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
			if err != nil {
				t.Fatalf("CreateQueue %s: %v", name, err)
			}
			urls[name] = aws.ToString(out.QueueUrl)
		}
		const name = "async-sqs-fails"
		mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
			in.DeadLetterConfig = &ltypes.DeadLetterConfig{TargetArn: aws.String(queueARN("async-dlq"))}
		})
		if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
			FunctionName: aws.String(name), MaximumRetryAttempts: aws.Int32(2),
			DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(queueARN("async-on-failure"))}},
		}); err != nil {
			t.Fatalf("PutFunctionEventInvokeConfig: %v", err)
		}

		event := Event{Action: "error", Message: "boom via sqs"}
		wantEvent, _ := json.Marshal(event)
		invoked := time.Now()
		id := invokeEvent(t, c, name, event)

		dlq := sdkReceiveOne(t, q, urls["async-dlq"], 60*time.Second)
		onFailure := sdkReceiveOne(t, q, urls["async-on-failure"], 30*time.Second)
		received := time.Now()

		// Tried exactly 1 + MaximumRetryAttempts times, with the
		// configured delays between the attempts.
		attempts := starts(functionLog(t, cli, name), id)
		if len(attempts) != 3 {
			t.Fatalf("%s ran request %s %d times, want 1 + MaximumRetryAttempts (2) = 3", name, id, len(attempts))
		}
		for i, want := range []time.Duration{time.Second, 2 * time.Second} {
			if gap := attempts[i+1].Time.Sub(attempts[i].Time); gap < want-100*time.Millisecond {
				t.Errorf("retry %d started %v after the attempt before it, want at least %v (--async-retry-delays 1s,2s)", i+1, gap, want)
			}
		}

		// Dead-letter queue: the original event, with RequestID,
		// ErrorCode and ErrorMessage.
		if dlq.Body != string(wantEvent) {
			t.Errorf("DLQ message body %q, want the original event %s", dlq.Body, wantEvent)
		}
		wantAttrs := map[string]sqsAttr{
			"RequestID":    {DataType: "String", StringValue: id},
			"ErrorCode":    {DataType: "Number", StringValue: "200"},
			"ErrorMessage": {DataType: "String", StringValue: "boom via sqs"},
		}
		if !maps.Equal(dlq.Attrs, wantAttrs) {
			t.Errorf("DLQ message attributes %+v, want %+v", dlq.Attrs, wantAttrs)
		}
		// The same message as the AWS CLI (query protocol) sees it.
		if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(urls["async-dlq"]), ReceiptHandle: aws.String(dlq.Handle), VisibilityTimeout: 0,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility: %v", err)
		}
		if again := cliReceiveOne(t, cli, urls["async-dlq"], 30*time.Second); again.Body != string(wantEvent) || !maps.Equal(again.Attrs, wantAttrs) {
			t.Errorf("aws sqs receive-message --message-attribute-names All got body %q, attributes %+v; want %s, %+v",
				again.Body, again.Attrs, wantEvent, wantAttrs)
		}

		// On-failure queue: the RetriesExhausted record.
		rec, rcKeys := checkRecordShape(t, onFailure.Body, invoked, received)
		if len(onFailure.Attrs) != 0 {
			t.Errorf("on-failure message attributes %+v, want none", onFailure.Attrs)
		}
		if rec.RequestContext.RequestID != id {
			t.Errorf("requestContext.requestId %q, want %q", rec.RequestContext.RequestID, id)
		}
		if want := functionARN(name) + ":$LATEST"; rec.RequestContext.FunctionArn != want {
			t.Errorf("requestContext.functionArn %q, want %q", rec.RequestContext.FunctionArn, want)
		}
		if rec.RequestContext.Condition != "RetriesExhausted" {
			t.Errorf("requestContext.condition %q, want RetriesExhausted", rec.RequestContext.Condition)
		}
		if rec.RequestContext.ApproximateInvokeCount != 3 {
			t.Errorf("requestContext.approximateInvokeCount %d, want 3", rec.RequestContext.ApproximateInvokeCount)
		}
		if string(rec.RequestPayload) != string(wantEvent) {
			t.Errorf("requestPayload %s, want the event %s", rec.RequestPayload, wantEvent)
		}
		if fe := rec.ResponseContext.FunctionError; fe == nil || *fe != "Unhandled" {
			t.Errorf("responseContext.functionError %v, want Unhandled", fe)
		}
		if !slices.Equal(rcKeys, []string{"executedVersion", "functionError", "statusCode"}) {
			t.Errorf("responseContext keys %v", rcKeys)
		}
		var fe functionError
		if err := json.Unmarshal(rec.ResponsePayload, &fe); err != nil || fe.ErrorMessage != "boom via sqs" || fe.ErrorType != "errorString" {
			t.Errorf("responsePayload %s, want errorMessage %q and errorType errorString", rec.ResponsePayload, "boom via sqs")
		}
		if a := starts(functionLog(t, cli, name), id); !rec.notBefore(a[len(a)-1].Time) {
			t.Errorf("record timestamp %s is before the last attempt started (%s)", rec.Timestamp, a[len(a)-1].Time.UTC())
		}

		// Exactly one message on each queue: the one received, in flight.
		for _, url := range urls {
			if visible, inFlight := sdkQueueCounts(t, q, url); visible != "0" || inFlight != "1" {
				t.Errorf("%s: %s visible and %s in-flight messages, want 0 and 1", url, visible, inFlight)
			}
		}
	})

	t.Run("cli-on-success", func(t *testing.T) {
		t.Parallel()
		c := NewLambdaClient(srv.URL)
		cli := MustAWSCLI(t, srv.URL)
		const name = "async-sqs-works"
		mustCreateFunction(t, c, name, nil)
		var qout struct{ QueueUrl string }
		cli.MustJSON(&qout, "sqs", "create-queue", "--queue-name", "async-on-success")
		var conf struct {
			MaximumRetryAttempts *int
			DestinationConfig    struct{ OnSuccess struct{ Destination string } }
		}
		cli.MustJSON(&conf, "lambda", "put-function-event-invoke-config", "--function-name", name,
			"--maximum-retry-attempts", "0",
			"--destination-config", `{"OnSuccess":{"Destination":"`+queueARN("async-on-success")+`"}}`)
		if conf.DestinationConfig.OnSuccess.Destination != queueARN("async-on-success") {
			t.Fatalf("put-function-event-invoke-config printed %+v", conf)
		}

		const event = `{"action":"echo","message":"hi via sqs"}`
		invoked := time.Now()
		r := cli.MustRun("--debug", "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
			"--cli-binary-format", "raw-in-base64-out", "--payload", event, filepath.Join(t.TempDir(), "out.json"))
		var out cliInvokeOutput
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.StatusCode != 202 {
			t.Fatalf("aws lambda invoke --invocation-type Event printed %q (%v), want StatusCode 202", r.Stdout, err)
		}
		m := cliRequestIDRE.FindStringSubmatch(r.Stderr)
		if m == nil {
			t.Fatalf("no x-amzn-RequestId in the --debug output of aws lambda invoke:\n%s", r.Stderr)
		}
		id := m[1]

		msg := cliReceiveOne(t, cli, qout.QueueUrl, 30*time.Second)
		rec, rcKeys := checkRecordShape(t, msg.Body, invoked, time.Now())
		if len(msg.Attrs) != 0 {
			t.Errorf("on-success message attributes %+v, want none", msg.Attrs)
		}
		if rec.RequestContext.RequestID != id {
			t.Errorf("requestContext.requestId %q, want %q (the invoke's x-amzn-RequestId)", rec.RequestContext.RequestID, id)
		}
		if want := functionARN(name) + ":$LATEST"; rec.RequestContext.FunctionArn != want {
			t.Errorf("requestContext.functionArn %q, want %q", rec.RequestContext.FunctionArn, want)
		}
		if rec.RequestContext.Condition != "Success" || rec.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("requestContext condition %q, approximateInvokeCount %d; want Success, 1",
				rec.RequestContext.Condition, rec.RequestContext.ApproximateInvokeCount)
		}
		if !slices.Equal(rcKeys, []string{"executedVersion", "statusCode"}) {
			t.Errorf("responseContext keys %v, want no functionError", rcKeys)
		}
		if string(rec.RequestPayload) != event {
			t.Errorf("requestPayload %s, want %s", rec.RequestPayload, event)
		}
		if string(rec.ResponsePayload) != event { // the echo function returns its event
			t.Errorf("responsePayload %s, want the function's result %s", rec.ResponsePayload, event)
		}
		if n := len(starts(functionLog(t, cli, name), id)); n != 1 {
			t.Errorf("%s ran request %s %d times, want 1", name, id, n)
		}
	})
}

// notBefore reports whether the record's timestamp is not before t
// (at millisecond precision).
func (r asyncRecord) notBefore(t time.Time) bool {
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp)
	return err == nil && !ts.Before(t.Truncate(time.Millisecond))
}
