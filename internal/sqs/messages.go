package sqs

import (
	"context"
	"fmt"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// sendInput is one message of a SendMessage or SendMessageBatch request.
type sendInput struct {
	stratus.QueueMessage
	Trace  string // AWSTraceHeader system attribute
	Sender string // SenderId
}

// config returns a copy of the engine's configuration.
func (e *engine) config() queueConfig {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// newSendEntry validates a message against the queue's configuration and
// returns what to store. Nothing is stored for an invalid message.
func (e *engine) newSendEntry(cfg queueConfig, in *sendInput) (*sendEntry, error) {
	if in.Body == "" {
		return nil, errMissing("MessageBody")
	}
	if !validMessageChars(in.Body) {
		return nil, sqsErr(stratus.EINVALID, "InvalidMessageContents",
			"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	attrSize, err := checkMessageAttributes(in.Attributes)
	if err != nil {
		return nil, err
	}
	if size := len(in.Body) + attrSize; size > cfg.MaxSize {
		return nil, errInvalidParam("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", cfg.MaxSize)
	}
	md := meta{ID: awsapi.NewRequestID(), Sender: in.Sender, Trace: in.Trace, MD5Attrs: md5OfAttributes(in.Attributes),
		Size: len(in.Body) + attrSize, Delay: int(cfg.Delay / time.Second)}
	if in.Trace != "" && (!validPunctuatedTrace(in.Trace)) {
		return nil, errInvalidParam("The message system attribute AWSTraceHeader is invalid.")
	}
	if in.DelaySeconds != nil {
		d := *in.DelaySeconds
		if cfg.FIFO {
			return nil, errParamValue(d, "DelaySeconds", "The request include parameter that is not valid for this queue type")
		}
		if d < 0 || d > maxDelaySeconds {
			return nil, errParamValue(d, "DelaySeconds", fmt.Sprintf("DelaySeconds must be >= 0 and <= %d", maxDelaySeconds))
		}
		md.Delay = d
	}
	se := &sendEntry{meta: md, payload: payload{Body: in.Body, Attrs: in.Attributes}}
	if in.GroupID != "" && !validPunctuatedID(in.GroupID) {
		return nil, errParamValue(in.GroupID, "MessageGroupId", "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
	}
	if !cfg.FIFO {
		if in.DeduplicationID != "" {
			return nil, errParamValue(in.DeduplicationID, "MessageDeduplicationId", "The request include parameter that is not valid for this queue type")
		}
		se.meta.Group = in.GroupID
		return se, nil
	}
	if in.GroupID == "" {
		return nil, errMissing("MessageGroupId")
	}
	dedup := in.DeduplicationID
	switch {
	case dedup != "":
		if !validPunctuatedID(dedup) {
			return nil, errParamValue(dedup, "MessageDeduplicationId", "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
		}
	case cfg.ContentDedup:
		dedup = contentDedupID(in.Body)
	default:
		return nil, errInvalidParam("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	}
	se.meta.Group, se.meta.Dedup = in.GroupID, dedup
	se.dedupKey = dedupKeyFor(cfg.DedupPerGroup, in.GroupID, dedup)
	return se, nil
}

// validPunctuatedTrace accepts X-Ray trace headers: printable ASCII.
func validPunctuatedTrace(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sendResult is the outcome of one message of a send.
type sendResult struct {
	MessageID, MD5Body, MD5Attrs, SequenceNumber string
	Err                                          error
}

// send validates and stores messages of one request in one bundle;
// results[i] is the outcome of ins[i]. Invalid messages fail alone.
func (s *Service) send(ctx context.Context, name string, ins []*sendInput) ([]sendResult, error) {
	eng, err := s.engine(name)
	if err != nil {
		return nil, err
	}
	cfg := eng.config()
	now := s.now()
	results := make([]sendResult, len(ins))
	entries := make([]*sendEntry, 0, len(ins))
	pos := make([]int, 0, len(ins))
	for i, in := range ins {
		se, err := eng.newSendEntry(cfg, in)
		if err != nil {
			results[i].Err = err
			continue
		}
		se.meta.Sent = now
		entries = append(entries, se)
		pos = append(pos, i)
	}
	if len(entries) > 0 {
		if err := eng.send(ctx, entries); err != nil {
			return nil, err
		}
	}
	for j, se := range entries {
		i := pos[j]
		results[i] = sendResult{MessageID: se.msgID, MD5Body: md5Hex(se.payload.Body), MD5Attrs: se.meta.MD5Attrs, SequenceNumber: se.seqNum}
	}
	return results, nil
}

// SendMessage implements stratus.Queues.
func (s *Service) SendMessage(ctx context.Context, queueARN string, msg *stratus.QueueMessage) (string, error) {
	name := s.nameFromARN(queueARN)
	if name == "" {
		return "", errNoQueue()
	}
	res, err := s.send(ctx, name, []*sendInput{{QueueMessage: *msg, Sender: s.cfg.AccountID}})
	if err != nil {
		return "", err
	}
	return res[0].MessageID, res[0].Err
}

// QueueInfo implements stratus.QueueConsumer.
func (s *Service) QueueInfo(_ context.Context, queueARN string) (*stratus.QueueInfo, error) {
	eng, err := s.engineByARN(queueARN)
	if err != nil {
		return nil, err
	}
	cfg := eng.config()
	v, f, d := eng.counts()
	return &stratus.QueueInfo{
		ARN: eng.arn, URL: "/" + s.cfg.AccountID + "/" + eng.name, FIFO: cfg.FIFO, VisibilityTimeout: cfg.Visibility,
		Visible: v, InFlight: f, Delayed: d,
	}, nil
}

// ReceiveMessages implements stratus.QueueConsumer.
func (s *Service) ReceiveMessages(ctx context.Context, queueARN string, maxMessages int, wait time.Duration) ([]*stratus.ReceivedMessage, error) {
	eng, err := s.engineByARN(queueARN)
	if err != nil {
		return nil, err
	}
	maxMessages = min(max(maxMessages, 1), maxReceiveMessages)
	wait = min(max(wait, 0), maxWaitSeconds*time.Second)
	return eng.receive(ctx, receiveReq{max: maxMessages, wait: wait, visibility: eng.config().Visibility})
}

// DeleteMessages implements stratus.QueueConsumer. Handles of messages
// that are already gone are not an error.
func (s *Service) DeleteMessages(ctx context.Context, queueARN string, handles []string) error {
	eng, err := s.engineByARN(queueARN)
	if err != nil {
		return err
	}
	errs, err := eng.deleteMessages(ctx, handles)
	if err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
