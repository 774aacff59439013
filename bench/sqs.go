package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// benchSQS measures the queue service with aws-sdk-go-v2 (JSON protocol):
// SendMessage/s, messages/s with SendMessageBatch, receive+delete/s, and
// queue → function throughput through an event source mapping.
func benchSQS(dir string, n int) error {
	s, err := deployNoop(dir, "noop", benchMemory)
	if err != nil {
		return err
	}
	defer s.stop()
	ctx := context.Background()
	c := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   s.http,
	})
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench")})
	if err != nil {
		return err
	}
	url := q.QueueUrl
	body := aws.String(strings.Repeat("x", 256))
	// run starts workers that each call op until total messages are done.
	run := func(label string, workers, total, perCall int, op func() error) error {
		var next atomic.Int64
		var failed atomic.Int64
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(int64(perCall)) <= int64(total) {
					if err := op(); err != nil {
						failed.Add(1)
						once.Do(func() { firstErr = err })
					}
				}
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		fmt.Printf("sqs %-36s %.0f msg/s (n=%d, %d errors)\n", label+":", float64(total)/d.Seconds(), total, failed.Load())
		return firstErr
	}
	send := func() error {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: body})
		return err
	}
	entries := make([]types.SendMessageBatchRequestEntry, 10)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: body}
	}
	sendBatch := func() error {
		_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
		return err
	}
	recvDelete := func() error {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) == 0 {
			return err
		}
		del := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			del[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		_, err = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: del})
		return err
	}
	for _, step := range []struct {
		label            string
		workers, perCall int
		op               func() error
	}{
		{"SendMessage, 1 client", 1, 1, send},
		{"SendMessage, 16 clients", 16, 1, send},
		{"SendMessageBatch(10), 1 client", 1, 10, sendBatch},
		{"SendMessageBatch(10), 16 clients", 16, 10, sendBatch},
		{"ReceiveMessage(10)+DeleteBatch, 8 clients", 8, 10, recvDelete},
	} {
		total := n
		if step.perCall == 10 {
			total = 10 * n
		}
		if err := run(step.label, step.workers, total, step.perCall, step.op); err != nil {
			return err
		}
	}
	return benchESM(ctx, s, c, n)
}

// benchESM sends n messages, then maps the queue to the no-op function and
// measures how fast the mapping drains it.
func benchESM(ctx context.Context, s *server, c *sqs.Client, n int) error {
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("esm")})
	if err != nil {
		return err
	}
	for i := 0; i < n; i += 10 {
		entries := make([]types.SendMessageBatchRequestEntry, 10)
		for j := range entries {
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(`{"n":` + strconv.Itoa(i+j) + `}`)}
		}
		if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
			return err
		}
	}
	total := n / 10 * 10
	body := `{"EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:esm","FunctionName":"noop","BatchSize":10,"ScalingConfig":{"MaximumConcurrency":16}}`
	resp, err := s.http.Post(s.url+"/2015-03-31/event-source-mappings", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return fmt.Errorf("CreateEventSourceMapping: %s", resp.Status)
	}
	t0 := time.Now()
	for time.Since(t0) < 5*time.Minute {
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			return err
		}
		if a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			d := time.Since(t0)
			fmt.Printf("sqs %-36s %.0f msg/s (n=%d drained in %s, BatchSize 10, MaximumConcurrency 16)\n",
				"queue → function (ESM):", float64(total)/d.Seconds(), total, d.Round(time.Millisecond))
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("event source mapping did not drain %d messages in 5 minutes", total)
}
