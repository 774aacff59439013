package e2e

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kill9AndRestart kills the server process with SIGKILL (no shutdown at
// all) and starts it again on the same data dir; URL changes.
func (s *Server) kill9AndRestart() {
	s.t.Helper()
	p := s.proc
	if p == nil {
		s.t.Fatal("server is not running")
	}
	s.proc = nil
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	fmt.Fprintf(s.out, "----- kill -9 and restart -----\n")
	s.start()
}

// TestSQSDurability sends messages, kills the server with SIGKILL and
// restarts it on the same data dir: every message whose send succeeded is
// there, and a message received (not deleted) before the kill stays
// invisible until its visibility timeout ends, then comes back with its
// receive count.
func TestSQSDurability(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	url, code := c.CreateQueue("durable", nil)
	mustOK(t, "CreateQueue", code)

	const singles, batches = 40, 26 // 40 + 26*10 = 300 messages
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 { // concurrent senders: group commits
		wg.Go(func() {
			for i := g; i < singles; i += 4 {
				body := fmt.Sprintf("single-%03d", i)
				if _, code := c.Send(url, sendOpts{Body: body}); code != "" {
					t.Errorf("SendMessage: %s", code)
					return
				}
				mu.Lock()
				want[body] = true
				mu.Unlock()
			}
			for b := g; b < batches; b += 4 {
				var ms []sendOpts
				for i := range 10 {
					ms = append(ms, sendOpts{Body: fmt.Sprintf("batch-%02d-%d", b, i)})
				}
				ok, failed, code := c.SendBatch(url, ms)
				if code != "" || len(failed) > 0 || len(ok) != 10 {
					t.Errorf("SendMessageBatch: %s %v", code, failed)
					return
				}
				mu.Lock()
				for _, m := range ms {
					want[m.Body] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// One message is received and left in flight for 8 seconds
	// (receivedAt is taken before the call, so it is not after the
	// server's receive).
	receivedAt := time.Now()
	inflight, code := c.Receive(url, 1, 0, intp(8))
	mustOK(t, "ReceiveMessage", code)
	if len(inflight) != 1 {
		t.Fatal("no message to leave in flight")
	}

	srv.kill9AndRestart()
	c = &sdkClient{t: t, c: NewSQSClient(srv.URL)}
	url, code = c.GetQueueURL("durable")
	mustOK(t, "GetQueueUrl after the restart", code)

	got := map[string]int{}
	var back *sqsMsg // the in-flight message, once it is visible again
	var backAt time.Duration
	for {
		msgs, code := c.Receive(url, 10, 0, intp(60))
		mustOK(t, "ReceiveMessage", code)
		if len(msgs) == 0 {
			break
		}
		var handles []string
		for _, m := range msgs {
			if m.MessageId == inflight[0].MessageId {
				back, backAt = &m, time.Since(receivedAt)
			} else {
				got[m.Body]++
			}
			handles = append(handles, m.ReceiptHandle)
		}
		if failed, code := c.DeleteBatch(url, handles); code != "" || len(failed) > 0 {
			t.Fatalf("DeleteMessageBatch: %s %v", code, failed)
		}
	}
	for body := range want {
		if body != inflight[0].Body && got[body] == 0 {
			t.Errorf("message %q sent before the kill is missing after the restart", body)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if back == nil {
		msgs, code := c.Receive(url, 1, 20, nil)
		mustOK(t, "ReceiveMessage", code)
		if len(msgs) == 1 {
			back, backAt = &msgs[0], time.Since(receivedAt)
		}
	}
	if back == nil || back.MessageId != inflight[0].MessageId || back.Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after its visibility timeout got %+v, want the in-flight message %s with receive count 2", back, inflight[0].MessageId)
	}
	if backAt < 8*time.Second {
		t.Fatalf("in-flight message reappeared %v after its receive, want after its 8s visibility timeout", backAt)
	}
	t.Logf("%d messages survived kill -9; the in-flight one came back %v after its receive", len(want), backAt)
}
