package sqs

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
)

// testService opens a service on a fresh JetStream.
func testService(t testing.TB) (*Service, *natsd.Server) {
	t.Helper()
	ns := natsdtest.Run(t)
	return openTestService(t, ns), ns
}

func openTestService(t testing.TB, ns *natsd.Server) *Service {
	t.Helper()
	return openTestServiceAt(t, ns, time.Now)
}

// openTestServiceAt opens a service whose clock is now.
func openTestServiceAt(t testing.TB, ns *natsd.Server, now func() time.Time) *Service {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Now = now
	cfg.DeletedNameBlock = time.Second
	s, err := Open(context.Background(), ns.JetStream(), cfg)
	if err != nil {
		t.Fatalf("opening the service: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t testing.TB, s *Service, name string, attrs map[string]string) string {
	t.Helper()
	if err := s.CreateQueue(context.Background(), name, attrs, nil); err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return s.queueARN(name)
}

func mustSend(t testing.TB, s *Service, name string, ins ...*sendInput) []sendResult {
	t.Helper()
	res, err := s.send(context.Background(), name, ins)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("send entry %d: %v", i, r.Err)
		}
	}
	return res
}

func body(b string) *sendInput { return &sendInput{QueueMessage: stratus.QueueMessage{Body: b}} }

func fifoMsg(b, group, dedup string) *sendInput {
	return &sendInput{QueueMessage: stratus.QueueMessage{Body: b, GroupID: group, DeduplicationID: dedup}}
}

func mustReceive(t testing.TB, s *Service, name string, r receiveReq) []*stratus.ReceivedMessage {
	t.Helper()
	eng, err := s.engine(name)
	if err != nil {
		t.Fatal(err)
	}
	if r.max == 0 {
		r.max = 10
	}
	msgs, err := eng.receive(context.Background(), r)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return msgs
}

func bodies(msgs []*stratus.ReceivedMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Body)
	}
	return out
}

func mustDelete(t testing.TB, s *Service, name string, msgs ...*stratus.ReceivedMessage) {
	t.Helper()
	var hs []string
	for _, m := range msgs {
		hs = append(hs, m.ReceiptHandle)
	}
	if err := s.DeleteMessages(context.Background(), s.queueARN(name), hs); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func counts(t testing.TB, s *Service, name string) [3]int64 {
	t.Helper()
	eng, err := s.engine(name)
	if err != nil {
		t.Fatal(err)
	}
	v, f, d := eng.counts()
	return [3]int64{v, f, d}
}

func TestStandardRoundTrip(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "q1", nil)
	res := mustSend(t, s, "q1", body("a"), body("b"), body("c"))
	if res[0].MD5Body != md5Hex("a") || res[0].MessageID == "" {
		t.Fatalf("result %+v", res[0])
	}
	if c := counts(t, s, "q1"); c != [3]int64{3, 0, 0} {
		t.Fatalf("counts %v, want 3 visible", c)
	}
	msgs := mustReceive(t, s, "q1", receiveReq{max: 2, visibility: time.Minute})
	if got := fmt.Sprint(bodies(msgs)); got != "[a b]" {
		t.Fatalf("received %s, want [a b]", got)
	}
	if msgs[0].SystemAttributes["ApproximateReceiveCount"] != "1" || msgs[0].MD5OfBody != md5Hex("a") {
		t.Fatalf("attributes %+v", msgs[0])
	}
	if c := counts(t, s, "q1"); c != [3]int64{1, 2, 0} {
		t.Fatalf("counts %v, want 1 visible 2 in flight", c)
	}
	mustDelete(t, s, "q1", msgs...)
	rest := mustReceive(t, s, "q1", receiveReq{max: 10, visibility: time.Minute})
	if got := fmt.Sprint(bodies(rest)); got != "[c]" {
		t.Fatalf("received %s, want [c]", got)
	}
	mustDelete(t, s, "q1", rest...)
	if c := counts(t, s, "q1"); c != [3]int64{0, 0, 0} {
		t.Fatalf("counts %v, want none", c)
	}
}

func TestVisibilityTimeoutAndChange(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "vq", nil)
	mustSend(t, s, "vq", body("x"))
	first := mustReceive(t, s, "vq", receiveReq{visibility: 300 * time.Millisecond})
	if len(first) != 1 {
		t.Fatal("no message")
	}
	if got := mustReceive(t, s, "vq", receiveReq{}); len(got) != 0 {
		t.Fatalf("received an in-flight message: %v", bodies(got))
	}
	start := time.Now()
	again := mustReceive(t, s, "vq", receiveReq{wait: 5 * time.Second, visibility: time.Minute})
	if len(again) != 1 || again[0].SystemAttributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("want the message again with receive count 2, got %+v", again)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("message reappeared after %v, want about 300ms", d)
	}
	// The stale handle deletes nothing, but succeeds.
	mustDelete(t, s, "vq", first[0])
	if c := counts(t, s, "vq"); c[1] != 1 {
		t.Fatalf("stale handle deleted the message: counts %v", c)
	}
	eng, _ := s.engine("vq")
	errs, err := eng.changeVisibility(context.Background(), []string{first[0].ReceiptHandle}, []time.Duration{0})
	if err != nil || stratus.ErrorCode(errs[0]) == "" {
		t.Fatalf("changing visibility with a stale handle: %v %v", errs, err)
	}
	errs, err = eng.changeVisibility(context.Background(), []string{again[0].ReceiptHandle}, []time.Duration{0})
	if err != nil || errs[0] != nil {
		t.Fatalf("changing visibility to 0: %v %v", errs, err)
	}
	if got := mustReceive(t, s, "vq", receiveReq{visibility: time.Minute}); len(got) != 1 {
		t.Fatal("message not visible after ChangeMessageVisibility 0")
	}
	// Tampered handles are invalid.
	bad := again[0].ReceiptHandle[:len(again[0].ReceiptHandle)-2] + "AA"
	errs, _ = eng.deleteMessages(context.Background(), []string{bad, "garbage"})
	for _, e := range errs {
		if we, _ := lookupError(e); we.Shape != "ReceiptHandleIsInvalid" {
			t.Fatalf("tampered handle: %v", e)
		}
	}
}

func TestDelay(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "dq", map[string]string{"DelaySeconds": "1"})
	d0 := 0
	mustSend(t, s, "dq", body("late"), &sendInput{QueueMessage: stratus.QueueMessage{Body: "now", DelaySeconds: &d0}})
	if c := counts(t, s, "dq"); c != [3]int64{1, 0, 1} {
		t.Fatalf("counts %v, want 1 visible 1 delayed", c)
	}
	got := mustReceive(t, s, "dq", receiveReq{visibility: time.Minute})
	if fmt.Sprint(bodies(got)) != "[now]" {
		t.Fatalf("got %v", bodies(got))
	}
	start := time.Now()
	got = mustReceive(t, s, "dq", receiveReq{wait: 5 * time.Second, visibility: time.Minute})
	if fmt.Sprint(bodies(got)) != "[late]" || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("got %v after %v", bodies(got), time.Since(start))
	}
}

func TestLongPollReturnsOnSend(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "lp", nil)
	go func() {
		time.Sleep(300 * time.Millisecond)
		mustSend(t, s, "lp", body("wake"))
	}()
	start := time.Now()
	got := mustReceive(t, s, "lp", receiveReq{wait: 20 * time.Second, visibility: time.Minute})
	if len(got) != 1 || time.Since(start) > 3*time.Second {
		t.Fatalf("long poll got %v after %v", bodies(got), time.Since(start))
	}
}

func TestRedrive(t *testing.T) {
	s, _ := testService(t)
	dlqARN := mustCreate(t, s, "dead", nil)
	mustCreate(t, s, "src", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"2"}`})
	res := mustSend(t, s, "src", body("poison"))
	for i := 0; i < 2; i++ {
		got := mustReceive(t, s, "src", receiveReq{visibility: 0})
		if len(got) != 1 {
			t.Fatalf("receive %d: %v", i, bodies(got))
		}
	}
	if got := mustReceive(t, s, "src", receiveReq{visibility: time.Minute}); len(got) != 0 {
		t.Fatalf("third receive got %v, want the message moved", bodies(got))
	}
	got := mustReceive(t, s, "dead", receiveReq{visibility: time.Minute})
	if len(got) != 1 || got[0].MessageID != res[0].MessageID || got[0].SystemAttributes["DeadLetterQueueSourceArn"] != s.queueARN("src") {
		t.Fatalf("DLQ got %+v", got)
	}
	p, err := s.ListDeadLetterSourceQueues("dead", 0, "")
	if err != nil || fmt.Sprint(p.Names) != "[src]" {
		t.Fatalf("ListDeadLetterSourceQueues: %v %v", p, err)
	}
}

func TestFIFOOrderAndGroups(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "f.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	var ins []*sendInput
	for i := 0; i < 4; i++ {
		ins = append(ins, fifoMsg("a"+strconv.Itoa(i), "A", ""), fifoMsg("b"+strconv.Itoa(i), "B", ""))
	}
	res := mustSend(t, s, "f.fifo", ins...)
	if res[0].SequenceNumber == "" || res[0].SequenceNumber >= res[1].SequenceNumber {
		t.Fatalf("sequence numbers %q %q", res[0].SequenceNumber, res[1].SequenceNumber)
	}
	// One receive of 3 takes A's first three (the oldest group first).
	got := mustReceive(t, s, "f.fifo", receiveReq{max: 3, visibility: time.Minute})
	if fmt.Sprint(bodies(got)) != "[a0 a1 a2]" {
		t.Fatalf("got %v", bodies(got))
	}
	// A is in flight: only B is served, even though a3 is waiting.
	got2 := mustReceive(t, s, "f.fifo", receiveReq{max: 10, visibility: time.Minute})
	if fmt.Sprint(bodies(got2)) != "[b0 b1 b2 b3]" {
		t.Fatalf("got %v", bodies(got2))
	}
	if got3 := mustReceive(t, s, "f.fifo", receiveReq{max: 10}); len(got3) != 0 {
		t.Fatalf("groups in flight, got %v", bodies(got3))
	}
	mustDelete(t, s, "f.fifo", got[:2]...)
	if got3 := mustReceive(t, s, "f.fifo", receiveReq{max: 10}); len(got3) != 0 {
		t.Fatalf("a2 still in flight, got %v", bodies(got3))
	}
	mustDelete(t, s, "f.fifo", got[2])
	if got3 := mustReceive(t, s, "f.fifo", receiveReq{max: 10, visibility: time.Minute}); fmt.Sprint(bodies(got3)) != "[a3]" {
		t.Fatalf("got %v, want [a3]", bodies(got3))
	}
}

func TestFIFODedup(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "d.fifo", map[string]string{"FifoQueue": "true"})
	r1 := mustSend(t, s, "d.fifo", fifoMsg("one", "g", "id1"))
	r2 := mustSend(t, s, "d.fifo", fifoMsg("other body", "g", "id1"), fifoMsg("two", "g", "id2"), fifoMsg("two again", "g", "id2"))
	if r2[0].MessageID != r1[0].MessageID || r2[2].MessageID != r2[1].MessageID {
		t.Fatalf("duplicates got new ids: %+v %+v", r1, r2)
	}
	got := mustReceive(t, s, "d.fifo", receiveReq{max: 10, visibility: time.Minute})
	if fmt.Sprint(bodies(got)) != "[one two]" {
		t.Fatalf("got %v", bodies(got))
	}
	mustDelete(t, s, "d.fifo", got...)
	// Still de-duplicated after the delete.
	r3 := mustSend(t, s, "d.fifo", fifoMsg("one", "g", "id1"))
	if r3[0].MessageID != r1[0].MessageID {
		t.Fatal("de-duplication forgot a deleted message")
	}
	if c := counts(t, s, "d.fifo"); c != [3]int64{} {
		t.Fatalf("counts %v", c)
	}
}

func TestRecoveryAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ns := natsdtest.RunDir(t, dir)
	s := openTestService(t, ns)
	mustCreate(t, s, "r", nil)
	mustCreate(t, s, "r.fifo", map[string]string{"FifoQueue": "true"})
	var ins []*sendInput
	for i := 0; i < 20; i++ {
		ins = append(ins, body(strconv.Itoa(i)))
	}
	mustSend(t, s, "r", ins...)
	mustSend(t, s, "r.fifo", fifoMsg("f1", "g", "1"), fifoMsg("f2", "g", "2"))
	got := mustReceive(t, s, "r", receiveReq{max: 5, visibility: time.Minute})
	mustDelete(t, s, "r", got[:3]...)
	inflight := got[3:]
	short := mustReceive(t, s, "r", receiveReq{max: 1, visibility: time.Second})
	fgot := mustReceive(t, s, "r.fifo", receiveReq{max: 1, visibility: time.Minute})
	s.Close()
	ns.Shutdown()

	ns2 := natsdtest.RunDir(t, dir)
	s2 := openTestService(t, ns2)
	if c := counts(t, s2, "r"); c != [3]int64{14, 3, 0} {
		t.Fatalf("after restart counts %v, want 14 visible 3 in flight", c)
	}
	// In-flight handles still work after the restart.
	mustDelete(t, s2, "r", inflight...)
	time.Sleep(1100 * time.Millisecond)
	all := mustReceive(t, s2, "r", receiveReq{max: 10, visibility: time.Minute})
	all = append(all, mustReceive(t, s2, "r", receiveReq{max: 10, visibility: time.Minute})...)
	if len(all) != 15 {
		t.Fatalf("received %d after restart, want 15", len(all))
	}
	for _, m := range all {
		if m.Body == short[0].Body && m.SystemAttributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("receive count not recovered: %+v", m.SystemAttributes)
		}
	}
	// FIFO: the group stays locked while f1 is in flight; dedupe survives.
	if got := mustReceive(t, s2, "r.fifo", receiveReq{max: 10}); len(got) != 0 {
		t.Fatalf("FIFO group not locked after restart: %v", bodies(got))
	}
	r := mustSend(t, s2, "r.fifo", fifoMsg("f1 again", "g", "1"))
	if r[0].MessageID != fgot[0].MessageID {
		t.Fatal("FIFO de-duplication lost across restart")
	}
}

func TestConcurrentSendsGroupCommit(t *testing.T) {
	s, _ := testService(t)
	mustCreate(t, s, "gc", nil)
	const senders, each = 16, 50
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		wg.Go(func() {
			for j := 0; j < each; j++ {
				mustSend(t, s, "gc", body(fmt.Sprintf("%d-%d", i, j)))
			}
		})
	}
	wg.Wait()
	if c := counts(t, s, "gc"); c[0] != senders*each {
		t.Fatalf("counts %v", c)
	}
	eng, _ := s.engine("gc")
	eng.mu.Lock()
	bundles := len(eng.idx.bundles)
	eng.mu.Unlock()
	t.Logf("%d messages in %d bundles", senders*each, bundles)
}

func TestPurgeAndCompaction(t *testing.T) {
	dir := t.TempDir()
	ns := natsdtest.RunDir(t, dir)
	s := openTestService(t, ns)
	mustCreate(t, s, "p", nil)
	mustSend(t, s, "p", body("1"), body("2"))
	eng, _ := s.engine("p")
	if err := eng.purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := eng.purge(context.Background()); stratus.ErrorCode(err) == "" {
		t.Fatal("second purge within 60s succeeded")
	}
	mustSend(t, s, "p", body("after"))
	if c := counts(t, s, "p"); c != [3]int64{1, 0, 0} {
		t.Fatalf("counts after purge %v", c)
	}
	// Force compactions: many receives with visibility 0.
	eng.mu.Lock()
	eng.snapSize = 0
	eng.mu.Unlock()
	for i := 0; i < 50; i++ {
		mustReceive(t, s, "p", receiveReq{max: 1, visibility: 0})
	}
	eng.mu.Lock()
	eng.opsSince = compactMinOps
	eng.mu.Unlock()
	mustReceive(t, s, "p", receiveReq{max: 1, visibility: 0})
	s.Close()
	ns.Shutdown()
	ns2 := natsdtest.RunDir(t, dir)
	s2 := openTestService(t, ns2)
	got := mustReceive(t, s2, "p", receiveReq{max: 10, visibility: time.Minute})
	if fmt.Sprint(bodies(got)) != "[after]" || got[0].SystemAttributes["ApproximateReceiveCount"] != "52" {
		t.Fatalf("after compaction and restart: %v %v", bodies(got), got[0].SystemAttributes)
	}
}

func TestRetentionAndAttributes(t *testing.T) {
	var skew atomic.Int64
	s := openTestServiceAt(t, natsdtest.Run(t), func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	mustCreate(t, s, "short", map[string]string{"MessageRetentionPeriod": "60"})
	mustSend(t, s, "short", body("x"))
	if err := s.SetQueueAttributes(context.Background(), "short", map[string]string{"MessageRetentionPeriod": "1209600", "VisibilityTimeout": "7"}); err != nil {
		t.Fatalf("SetQueueAttributes: %v", err)
	}
	a, err := s.GetQueueAttributes("short", []string{"MessageRetentionPeriod", "VisibilityTimeout", "ApproximateNumberOfMessages"})
	if err != nil || a["MessageRetentionPeriod"] != "1209600" || a["VisibilityTimeout"] != "7" || a["ApproximateNumberOfMessages"] != "1" {
		t.Fatalf("attributes %v %v", a, err)
	}
	// Messages older than the retention period are gone.
	skew.Store(int64(15 * 24 * time.Hour))
	if c := counts(t, s, "short"); c != [3]int64{} {
		t.Fatalf("counts after the retention period %v, want none", c)
	}
	if got := mustReceive(t, s, "short", receiveReq{visibility: time.Minute}); len(got) != 0 {
		t.Fatalf("received an expired message: %v", bodies(got))
	}
}
