package e2e

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSQSThroughput measures the queue service through the built binary
// and aws-sdk-go-v2 (JSON protocol) on the default fsync-before-ack
// JetStream. It only runs with STRATUS_BENCH=1:
//
//	STRATUS_BENCH=1 go test ./test/e2e -run TestSQSThroughput -count=1 -v
func TestSQSThroughput(t *testing.T) {
	if os.Getenv("STRATUS_BENCH") != "1" {
		t.Skip("set STRATUS_BENCH=1 to measure throughput")
	}
	srv := MustRunServer(t, ServerOptions{})
	c := &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	url, code := c.CreateQueue("bench", nil)
	mustOK(t, "CreateQueue", code)
	body := string(make([]byte, 0)) + fmt.Sprintf("%0256d", 0) // 256 bytes

	run := func(name string, workers, perWorker, msgsPerCall int, call func() string) {
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for range perWorker {
					if code := call(); code != "" {
						t.Errorf("%s: %s", name, code)
						return
					}
					n.Add(int64(msgsPerCall))
				}
			})
		}
		wg.Wait()
		d := time.Since(start)
		t.Logf("%-40s %7d msgs in %6.2fs = %8.0f msg/s", name, n.Load(), d.Seconds(), float64(n.Load())/d.Seconds())
	}
	send := func() string { _, code := c.Send(url, sendOpts{Body: body}); return code }
	batch := make([]sendOpts, 10)
	for i := range batch {
		batch[i] = sendOpts{Body: body}
	}
	sendBatch := func() string { _, _, code := c.SendBatch(url, batch); return code }

	run("SendMessage, 1 client", 1, 2000, 1, send)
	run("SendMessage, 16 clients", 16, 500, 1, send)
	run("SendMessageBatch(10), 1 client", 1, 300, 10, sendBatch)
	run("SendMessageBatch(10), 8 clients", 8, 200, 10, sendBatch)

	drain(t, c, url, "Receive(10)+DeleteBatch, 8 clients")

	// FIFO: exact per-group exclusivity. With 100 groups, 8 consumers
	// work in parallel; with one group, a receive waits for the previous
	// batch's delete, so consumers take turns.
	for _, groups := range []int{100, 1} {
		name := fmt.Sprintf("bench%d.fifo", groups)
		furl, code := c.CreateQueue(name, map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
		mustOK(t, "CreateQueue", code)
		var seq atomic.Int64
		run(fmt.Sprintf("FIFO SendMessageBatch(10), %d groups", groups), 8, 100, 10, func() string {
			ms := make([]sendOpts, 10)
			for i := range ms {
				n := seq.Add(1)
				ms[i] = sendOpts{Body: fmt.Sprintf("%d", n), GroupID: fmt.Sprintf("g%d", n%int64(groups))}
			}
			_, _, code := c.SendBatch(furl, ms)
			return code
		})
		drain(t, c, furl, fmt.Sprintf("FIFO Receive(10)+Delete, %d groups", groups))
	}
}

// drain receives and deletes everything in the queue with 8 consumers
// and logs the rate.
func drain(t *testing.T, c *sdkClient, url, name string) {
	var received atomic.Int64
	total := count(t, c, url, "ApproximateNumberOfMessages")
	want, _ := strconv.ParseInt(total, 10, 64)
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for received.Load() < want {
				msgs, code := c.Receive(url, 10, 1, nil)
				if code != "" {
					t.Errorf("ReceiveMessage: %s", code)
					return
				}
				if len(msgs) == 0 {
					continue
				}
				handles := make([]string, len(msgs))
				for i, m := range msgs {
					handles[i] = m.ReceiptHandle
				}
				if failed, code := c.DeleteBatch(url, handles); code != "" || len(failed) > 0 {
					t.Errorf("DeleteMessageBatch: %s %v", code, failed)
					return
				}
				received.Add(int64(len(msgs)))
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	t.Logf("%-40s %7d msgs in %6.2fs = %8.0f msg/s (queue held %s)", name,
		received.Load(), d.Seconds(), float64(received.Load())/d.Seconds(), total)
}
