package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each SQS scenario runs twice against one server: through /usr/bin/aws
// (AWS CLI v2.9, query protocol) and through aws-sdk-go-v2 (JSON 1.0
// protocol), with queue names prefixed by the client's name.

// forEachSQSClient runs f as parallel subtests, one per client.
func forEachSQSClient(t *testing.T, f func(t *testing.T, c sqsClient, prefix string)) *Server {
	t.Helper()
	srv := MustRunServer(t, ServerOptions{})
	clients := []sqsClient{&cliClient{cli: MustAWSCLI(t, srv.URL)}, &sdkClient{t: t, c: NewSQSClient(srv.URL)}}
	for _, c := range clients {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			f(t, c, c.Name()+"-")
		})
	}
	return srv
}

func queueARN(name string) string { return "arn:aws:sqs:" + region + ":" + accountID + ":" + name }

func intp(n int) *int { return &n }

func bodiesOf(msgs []sqsMsg) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Body)
	}
	return out
}

func count(t testing.TB, c sqsClient, url, attr string) string {
	t.Helper()
	a, code := c.GetAttributes(url, attr)
	mustOK(t, "GetQueueAttributes", code)
	return a[attr]
}

func TestSQSRoundTrip(t *testing.T) {
	t.Parallel()
	forEachSQSClient(t, func(t *testing.T, c sqsClient, p string) {
		attrs := map[string]string{"VisibilityTimeout": "30", "DelaySeconds": "0"}
		url, code := c.CreateQueue(p+"rt", attrs)
		mustOK(t, "CreateQueue", code)
		if !strings.HasSuffix(url, "/"+accountID+"/"+p+"rt") || !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Fatalf("queue URL %q", url)
		}
		again, code := c.CreateQueue(p+"rt", attrs)
		mustOK(t, "CreateQueue again with the same attributes", code)
		if again != url {
			t.Fatalf("idempotent CreateQueue returned %q, want %q", again, url)
		}
		_, code = c.CreateQueue(p+"rt", map[string]string{"VisibilityTimeout": "31"})
		mustCode(t, "CreateQueue with other attributes", code, "QueueAlreadyExists")
		got, code := c.GetQueueURL(p + "rt")
		mustOK(t, "GetQueueUrl", code)
		if got != url {
			t.Fatalf("GetQueueUrl = %q, want %q", got, url)
		}
		_, code = c.GetQueueURL(p + "nope")
		mustCode(t, "GetQueueUrl of a missing queue", code, "AWS.SimpleQueueService.NonExistentQueue")

		body := "hello 🌍 <xml> & \"quotes\"\r\n\ttabbed"
		mattrs := map[string]string{"color": "blue", "n": "1"}
		out, code := c.Send(url, sendOpts{Body: body, Attrs: mattrs})
		mustOK(t, "SendMessage", code)
		if out.MD5OfMessageBody != md5Hex(body) || out.MD5OfMessageAttributes != md5OfStringAttributes(mattrs) || !uuidRE.MatchString(out.MessageId) {
			t.Fatalf("SendMessage output %+v, want MD5s %s / %s", out, md5Hex(body), md5OfStringAttributes(mattrs))
		}
		ok, failed, code := c.SendBatch(url, []sendOpts{{Body: "b0"}, {Body: "b1"}, {Body: "bad \x01"}})
		mustOK(t, "SendMessageBatch", code)
		if len(ok) != 2 || failed["2"] != "InvalidMessageContents" || ok["1"].MD5OfMessageBody != md5Hex("b1") {
			t.Fatalf("SendMessageBatch: ok %v failed %v", ok, failed)
		}
		if n := count(t, c, url, "ApproximateNumberOfMessages"); n != "3" {
			t.Fatalf("ApproximateNumberOfMessages = %s, want 3", n)
		}
		msgs, code := c.Receive(url, 10, 0, nil)
		mustOK(t, "ReceiveMessage", code)
		if len(msgs) != 3 {
			t.Fatalf("received %v, want 3 messages", bodiesOf(msgs))
		}
		i := slices.IndexFunc(msgs, func(m sqsMsg) bool { return m.MessageId == out.MessageId })
		if i < 0 {
			t.Fatalf("the first message is not among %v", bodiesOf(msgs))
		}
		m := msgs[i]
		if m.Body != body || m.MD5OfBody != md5Hex(body) || m.MessageAttributes["color"] != "blue" ||
			m.MD5OfMessageAttributes != md5OfStringAttributes(mattrs) || m.Attributes["ApproximateReceiveCount"] != "1" ||
			m.Attributes["SentTimestamp"] == "" || m.Attributes["SenderId"] == "" || m.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
			t.Fatalf("received message %+v", m)
		}
		if n := count(t, c, url, "ApproximateNumberOfMessagesNotVisible"); n != "3" {
			t.Fatalf("ApproximateNumberOfMessagesNotVisible = %s, want 3", n)
		}
		mustOK(t, "DeleteMessage", c.Delete(url, m.ReceiptHandle))
		mustOK(t, "DeleteMessage again", c.Delete(url, m.ReceiptHandle))
		rest := slices.Delete(slices.Clone(msgs), i, i+1)
		bf, code := c.DeleteBatch(url, []string{rest[0].ReceiptHandle, rest[1].ReceiptHandle, "garbage"})
		mustOK(t, "DeleteMessageBatch", code)
		if len(bf) != 1 || bf["2"] != "ReceiptHandleIsInvalid" {
			t.Fatalf("DeleteMessageBatch failures %v, want only entry 2 ReceiptHandleIsInvalid", bf)
		}
		all, code := c.GetAttributes(url, "All")
		mustOK(t, "GetQueueAttributes All", code)
		if all["ApproximateNumberOfMessages"] != "0" || all["ApproximateNumberOfMessagesNotVisible"] != "0" ||
			all["QueueArn"] != queueARN(p+"rt") || all["VisibilityTimeout"] != "30" || all["MaximumMessageSize"] != "1048576" {
			t.Fatalf("attributes %v", all)
		}
		mustOK(t, "TagQueue", c.Tag(url, map[string]string{"team": "a"}))
		tags, code := c.ListTags(url)
		mustOK(t, "ListQueueTags", code)
		if fmt.Sprint(tags) != "map[team:a]" {
			t.Fatalf("tags %v", tags)
		}
		urls, code := c.ListQueues(p + "r")
		mustOK(t, "ListQueues", code)
		if !slices.Equal(urls, []string{url}) {
			t.Fatalf("ListQueues(%sr) = %v", p, urls)
		}
		_, _, code = c.SendBatch(url, []sendOpts{{Body: "x"}, {Body: "y"}})
		mustOK(t, "SendMessageBatch", code)
		mustOK(t, "PurgeQueue", c.Purge(url))
		mustCode(t, "PurgeQueue again", c.Purge(url), "AWS.SimpleQueueService.PurgeQueueInProgress")
		if n := count(t, c, url, "ApproximateNumberOfMessages"); n != "0" {
			t.Fatalf("after PurgeQueue ApproximateNumberOfMessages = %s", n)
		}
		mustOK(t, "DeleteQueue", c.DeleteQueue(url))
		_, code = c.GetQueueURL(p + "rt")
		mustCode(t, "GetQueueUrl after DeleteQueue", code, "AWS.SimpleQueueService.NonExistentQueue")
		_, code = c.Send(url, sendOpts{Body: "late"})
		mustCode(t, "SendMessage after DeleteQueue", code, "AWS.SimpleQueueService.NonExistentQueue")
		_, code = c.CreateQueue(p+"rt", nil)
		mustCode(t, "CreateQueue right after DeleteQueue", code, "AWS.SimpleQueueService.QueueDeletedRecently")
	})
}

// TestSQSBadInput sends malformed requests: each gets SQS's error code and
// nothing is stored.
func TestSQSBadInput(t *testing.T) {
	t.Parallel()
	forEachSQSClient(t, func(t *testing.T, c sqsClient, p string) {
		_, code := c.CreateQueue(p+"bad name", nil)
		mustCode(t, "CreateQueue with a bad name", code, "InvalidParameterValue")
		_, code = c.CreateQueue(strings.Repeat("x", 81), nil)
		mustCode(t, "CreateQueue with an 81-character name", code, "InvalidParameterValue")
		_, code = c.CreateQueue(p+"v", map[string]string{"VisibilityTimeout": "43201"})
		mustCode(t, "CreateQueue with VisibilityTimeout 43201", code, "InvalidAttributeValue")
		_, code = c.CreateQueue(p+"v", map[string]string{"Bogus": "1"})
		mustCode(t, "CreateQueue with an unknown attribute", code, "InvalidAttributeName")
		_, code = c.CreateQueue(p+"v.fifo", nil)
		mustCode(t, "CreateQueue of a .fifo name without FifoQueue", code, "InvalidParameterValue")
		if urls, _ := c.ListQueues(p + "v"); len(urls) != 0 {
			t.Fatalf("failed creates left queues: %v", urls)
		}

		url, code := c.CreateQueue(p+"small", map[string]string{"MaximumMessageSize": "1024"})
		mustOK(t, "CreateQueue", code)
		_, code = c.Send(url, sendOpts{Body: strings.Repeat("x", 1025)})
		mustCode(t, "SendMessage over MaximumMessageSize", code, "InvalidParameterValue")
		_, code = c.Send(url, sendOpts{Body: "ctl \x01"})
		mustCode(t, "SendMessage with a control character", code, "InvalidMessageContents")
		_, code = c.Send(url, sendOpts{Body: "x", DelaySeconds: intp(901)})
		mustCode(t, "SendMessage with DelaySeconds 901", code, "InvalidParameterValue")
		_, code = c.Send(url, sendOpts{Body: "x", DedupID: "d"})
		mustCode(t, "SendMessage with a deduplication id on a standard queue", code, "InvalidParameterValue")
		var eleven []sendOpts
		for range 11 {
			eleven = append(eleven, sendOpts{Body: "x"})
		}
		_, _, code = c.SendBatch(url, eleven)
		mustCode(t, "SendMessageBatch of 11", code, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")
		_, _, code = c.SendBatch(url, []sendOpts{{ID: "a", Body: "x"}, {ID: "a", Body: "y"}})
		mustCode(t, "SendMessageBatch with repeated ids", code, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
		_, _, code = c.SendBatch(url, []sendOpts{{ID: "a b", Body: "x"}})
		mustCode(t, "SendMessageBatch with a bad id", code, "AWS.SimpleQueueService.InvalidBatchEntryId")
		_, _, code = c.SendBatch(url, []sendOpts{{Body: strings.Repeat("x", 600)}, {Body: strings.Repeat("y", 600)}})
		mustCode(t, "SendMessageBatch over MaximumMessageSize in total", code, "AWS.SimpleQueueService.BatchRequestTooLong")
		_, _, code = c.SendBatch(url, []sendOpts{})
		mustCode(t, "SendMessageBatch without entries", code, "AWS.SimpleQueueService.EmptyBatchRequest")
		_, code = c.Receive(url, 11, 0, nil)
		mustCode(t, "ReceiveMessage of 11", code, "InvalidParameterValue")
		mustCode(t, "ChangeMessageVisibility with a bad handle", c.ChangeVisibility(url, "garbage", 5), "ReceiptHandleIsInvalid")
		mustCode(t, "DeleteMessage with a bad handle", c.Delete(url, "AQEBgarbage"), "ReceiptHandleIsInvalid")
		mustCode(t, "SetQueueAttributes with DelaySeconds 901", c.SetAttributes(url, map[string]string{"DelaySeconds": "901"}), "InvalidAttributeValue")
		mustCode(t, "SetQueueAttributes with a redrive policy to a missing queue",
			c.SetAttributes(url, map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + queueARN(p+"none") + `","maxReceiveCount":3}`}),
			"InvalidParameterValue")
		a, code := c.GetAttributes(url, "All")
		mustOK(t, "GetQueueAttributes", code)
		if a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesDelayed"] != "0" || a["DelaySeconds"] != "0" || a["RedrivePolicy"] != "" {
			t.Fatalf("bad input changed the queue: %v", a)
		}

		fifo, code := c.CreateQueue(p+"bad.fifo", map[string]string{"FifoQueue": "true"})
		mustOK(t, "CreateQueue FIFO", code)
		_, code = c.Send(fifo, sendOpts{Body: "x", DedupID: "d"})
		mustCode(t, "FIFO SendMessage without MessageGroupId", code, "MissingParameter")
		_, code = c.Send(fifo, sendOpts{Body: "x", GroupID: "g"})
		mustCode(t, "FIFO SendMessage without deduplication", code, "InvalidParameterValue")
		_, code = c.Send(fifo, sendOpts{Body: "x", GroupID: "g", DedupID: "d", DelaySeconds: intp(1)})
		mustCode(t, "FIFO SendMessage with DelaySeconds", code, "InvalidParameterValue")
		if n := count(t, c, fifo, "ApproximateNumberOfMessages"); n != "0" {
			t.Fatalf("bad FIFO sends stored %s messages", n)
		}
	})
}

func TestSQSVisibilityAndRedrive(t *testing.T) {
	t.Parallel()
	forEachSQSClient(t, func(t *testing.T, c sqsClient, p string) {
		dlq, code := c.CreateQueue(p+"dlq", nil)
		mustOK(t, "CreateQueue DLQ", code)
		policy := `{"deadLetterTargetArn":"` + queueARN(p+"dlq") + `","maxReceiveCount":"2"}`
		// 4s: the CLI takes a second or more per call under load.
		src, code := c.CreateQueue(p+"src", map[string]string{"VisibilityTimeout": "4", "RedrivePolicy": policy})
		mustOK(t, "CreateQueue source", code)
		sent, code := c.Send(src, sendOpts{Body: "poison"})
		mustOK(t, "SendMessage", code)

		// The second receive long-polls from the moment the first
		// returned; it cannot get the message before its 4s visibility
		// timeout ends (bounds use call start and end times, so that a
		// slow client cannot make the test flaky).
		before := time.Now()
		first, code := c.Receive(src, 1, 0, nil)
		mustOK(t, "ReceiveMessage", code)
		if len(first) != 1 {
			t.Fatal("no message")
		}
		second, code := c.Receive(src, 1, 15, intp(60))
		mustOK(t, "ReceiveMessage", code)
		waited := time.Since(before)
		if len(second) != 1 || second[0].MessageId != sent.MessageId || second[0].Attributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("after the visibility timeout got %+v, want the message with receive count 2", second)
		}
		if waited < 3500*time.Millisecond {
			t.Fatalf("message reappeared %v after the first receive began, before its 4s visibility timeout", waited)
		}
		mustCode(t, "ChangeMessageVisibility with the stale handle", c.ChangeVisibility(src, first[0].ReceiptHandle, 0),
			"AWS.SimpleQueueService.MessageNotInflight")
		mustOK(t, "ChangeMessageVisibility 0", c.ChangeVisibility(src, second[0].ReceiptHandle, 0))
		// The third receive would exceed maxReceiveCount 2: the message
		// moves to the dead-letter queue instead.
		if third, _ := c.Receive(src, 1, 2, nil); len(third) != 0 {
			t.Fatalf("third receive got %+v, want nothing (moved to the DLQ)", third)
		}
		moved, code := c.Receive(dlq, 1, 2, nil)
		mustOK(t, "ReceiveMessage from the DLQ", code)
		if len(moved) != 1 || moved[0].Body != "poison" || moved[0].MessageId != sent.MessageId ||
			moved[0].Attributes["DeadLetterQueueSourceArn"] != queueARN(p+"src") {
			t.Fatalf("DLQ holds %+v", moved)
		}
		sources, code := c.ListDeadLetterSources(dlq)
		mustOK(t, "ListDeadLetterSourceQueues", code)
		if !slices.Equal(sources, []string{src}) {
			t.Fatalf("dead-letter sources %v, want [%s]", sources, src)
		}
		// ChangeMessageVisibility counts from the call: a message received
		// for 60s and changed to 2s comes back about 2s after the change.
		_, code = c.Send(src, sendOpts{Body: "slow"})
		mustOK(t, "SendMessage", code)
		slow, _ := c.Receive(src, 1, 0, intp(60))
		if len(slow) != 1 {
			t.Fatal("no message")
		}
		changeStart := time.Now()
		mustOK(t, "ChangeMessageVisibility 2", c.ChangeVisibility(src, slow[0].ReceiptHandle, 2))
		back, code := c.Receive(src, 1, 20, intp(60))
		mustOK(t, "ReceiveMessage", code)
		if d := time.Since(changeStart); len(back) != 1 || d < 1500*time.Millisecond || d > 15*time.Second {
			t.Fatalf("after ChangeMessageVisibility 2 got %v after %v, want the message about 2s after the change", bodiesOf(back), d)
		}
	})
}

func TestSQSFIFO(t *testing.T) {
	t.Parallel()
	forEachSQSClient(t, func(t *testing.T, c sqsClient, p string) {
		url, code := c.CreateQueue(p+"order.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
		mustOK(t, "CreateQueue", code)
		ok, failed, code := c.SendBatch(url, []sendOpts{
			{Body: "A1", GroupID: "A"}, {Body: "A2", GroupID: "A"}, {Body: "B1", GroupID: "B"},
			{Body: "A3", GroupID: "A"}, {Body: "B2", GroupID: "B"},
		})
		mustOK(t, "SendMessageBatch", code)
		if len(ok) != 5 || len(failed) != 0 {
			t.Fatalf("SendMessageBatch ok %v failed %v", ok, failed)
		}
		for i := 1; i < 5; i++ {
			if prev, cur := ok[fmt.Sprint(i-1)].SequenceNumber, ok[fmt.Sprint(i)].SequenceNumber; cur == "" || cur <= prev {
				t.Fatalf("sequence numbers not increasing: %q then %q", prev, cur)
			}
		}
		dup, code := c.Send(url, sendOpts{Body: "A1", GroupID: "A"})
		mustOK(t, "SendMessage duplicate", code)
		if dup.MessageId != ok["0"].MessageId {
			t.Fatalf("content-deduplicated send got MessageId %s, want %s", dup.MessageId, ok["0"].MessageId)
		}
		x1, _ := c.Send(url, sendOpts{Body: "X", GroupID: "C", DedupID: "d1"})
		x2, code := c.Send(url, sendOpts{Body: "Y", GroupID: "C", DedupID: "d1"})
		mustOK(t, "SendMessage duplicate id", code)
		if x1.MessageId != x2.MessageId {
			t.Fatal("explicit MessageDeduplicationId did not de-duplicate")
		}
		if n := count(t, c, url, "ApproximateNumberOfMessages"); n != "6" {
			t.Fatalf("ApproximateNumberOfMessages = %s, want 6 (duplicates not stored)", n)
		}

		r1, _ := c.Receive(url, 2, 0, nil)
		if got := fmt.Sprint(bodiesOf(r1)); got != "[A1 A2]" {
			t.Fatalf("first receive %s, want [A1 A2]", got)
		}
		if r1[0].Attributes["MessageGroupId"] != "A" || r1[0].Attributes["SequenceNumber"] != ok["0"].SequenceNumber ||
			r1[0].Attributes["MessageDeduplicationId"] == "" {
			t.Fatalf("FIFO attributes %v", r1[0].Attributes)
		}
		r2, _ := c.Receive(url, 10, 0, nil)
		if got := fmt.Sprint(bodiesOf(r2)); got != "[B1 B2 X]" {
			t.Fatalf("second receive %s, want [B1 B2 X]: group A is in flight", got)
		}
		if r3, _ := c.Receive(url, 10, 0, nil); len(r3) != 0 {
			t.Fatalf("third receive %v, want nothing: every group is in flight", bodiesOf(r3))
		}
		mustOK(t, "DeleteMessage A1", c.Delete(url, r1[0].ReceiptHandle))
		if r4, _ := c.Receive(url, 10, 0, nil); len(r4) != 0 {
			t.Fatalf("receive %v while A2 is in flight, want nothing", bodiesOf(r4))
		}
		mustOK(t, "DeleteMessage A2", c.Delete(url, r1[1].ReceiptHandle))
		if r5, _ := c.Receive(url, 10, 0, nil); fmt.Sprint(bodiesOf(r5)) != "[A3]" {
			t.Fatalf("receive after A1, A2 were deleted: %v, want [A3]", bodiesOf(r5))
		}
	})
}

func TestSQSLongPoll(t *testing.T) {
	t.Parallel()
	var srv *Server
	srv = forEachSQSClient(t, func(t *testing.T, c sqsClient, p string) {
		url, code := c.CreateQueue(p+"lp", nil)
		mustOK(t, "CreateQueue", code)
		// The message is sent with the SDK (fast) long after the receive
		// started: the CLI needs a few seconds to start under load.
		sender := NewSQSClient(srv.URL)
		sent := make(chan time.Time, 1)
		go func() {
			time.Sleep(5 * time.Second)
			_, code := (&sdkClient{t: t, c: sender}).Send(url, sendOpts{Body: "wake up"})
			if code != "" {
				t.Errorf("SendMessage: %s", code)
			}
			sent <- time.Now()
		}()
		start := time.Now()
		msgs, code := c.Receive(url, 10, 20, nil)
		returned := time.Now()
		mustOK(t, "ReceiveMessage", code)
		sentAt := <-sent
		if len(msgs) != 1 || msgs[0].Body != "wake up" {
			t.Fatalf("long poll returned %v after %v, want the message", bodiesOf(msgs), returned.Sub(start))
		}
		if d := returned.Sub(sentAt); d > 3*time.Second || returned.Sub(start) > 15*time.Second {
			t.Fatalf("long poll returned %v after the send (%v after it started), want soon after the send, not at the end of the 20s wait",
				d, returned.Sub(start))
		}
		t.Logf("long poll returned %v after the send", returned.Sub(sentAt))
	})
}
