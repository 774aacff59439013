package e2e

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// NewSQSClient returns an aws-sdk-go-v2 SQS client (JSON protocol) for
// endpoint; it validates MD5OfMessageBody as the SDK does by default and
// does not retry.
func NewSQSClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:           region,
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

// sqsMsg is a received message, as either client reports it.
type sqsMsg struct {
	MessageId              string
	ReceiptHandle          string
	Body                   string
	MD5OfBody              string
	MD5OfMessageAttributes string
	Attributes             map[string]string
	MessageAttributes      map[string]string // name -> StringValue
}

// sendOpts is one message to send.
type sendOpts struct {
	ID           string // batch entry id; "" means the entry's index
	Body         string
	DelaySeconds *int
	GroupID      string
	DedupID      string
	Attrs        map[string]string // String attributes
}

// sendOut is the outcome of one send.
type sendOut struct {
	MessageId, MD5OfMessageBody, MD5OfMessageAttributes, SequenceNumber string
}

// sqsClient is one way of calling SQS: the AWS CLI (query protocol) or
// aws-sdk-go-v2 (JSON protocol). Every method returns the AWS error code
// of a failed call, "" on success.
type sqsClient interface {
	Name() string
	CreateQueue(name string, attrs map[string]string) (url, code string)
	DeleteQueue(url string) string
	GetQueueURL(name string) (url, code string)
	ListQueues(prefix string) ([]string, string)
	GetAttributes(url string, names ...string) (map[string]string, string)
	SetAttributes(url string, attrs map[string]string) string
	Send(url string, m sendOpts) (sendOut, string)
	// SendBatch sends entries with ids "0", "1", ...; it returns the
	// successful ids' outcomes and the failed ids' codes.
	SendBatch(url string, ms []sendOpts) (map[string]sendOut, map[string]string, string)
	Receive(url string, max, wait int, visibility *int) ([]sqsMsg, string)
	Delete(url, handle string) string
	// DeleteBatch deletes by handle; ids "0", "1", ...; it returns the
	// failed ids' codes.
	DeleteBatch(url string, handles []string) (map[string]string, string)
	ChangeVisibility(url, handle string, seconds int) string
	Purge(url string) string
	ListDeadLetterSources(url string) ([]string, string)
	Tag(url string, tags map[string]string) string
	ListTags(url string) (map[string]string, string)
}

// mustOK fails the test unless code is "".
func mustOK(t testing.TB, what, code string) {
	t.Helper()
	if code != "" {
		t.Fatalf("%s failed with %s", what, code)
	}
}

// mustCode fails the test unless code is want.
func mustCode(t testing.TB, what, code, want string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: error code %q, want %q", what, code, want)
	}
}

// md5Hex and md5OfAttributes compute SQS's checksums independently of the
// server (reference §7.2), for String attributes.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func md5OfStringAttributes(attrs map[string]string) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf []byte
	put := func(s string) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	for _, n := range names {
		put(n)
		put("String")
		buf = append(buf, 1)
		put(attrs[n])
	}
	sum := md5.Sum(buf)
	return hex.EncodeToString(sum[:])
}

// sdkClient drives aws-sdk-go-v2.
type sdkClient struct {
	t testing.TB
	c *sqs.Client
}

func (s *sdkClient) Name() string { return "sdk" }

func (s *sdkClient) ctx(wait int) context.Context {
	return ctxFor(s.t, time.Duration(wait)*time.Second+time.Minute)
}

func (s *sdkClient) CreateQueue(name string, attrs map[string]string) (string, string) {
	out, err := s.c.CreateQueue(s.ctx(0), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", apiErrorCode(err)
	}
	return aws.ToString(out.QueueUrl), ""
}

func (s *sdkClient) DeleteQueue(url string) string {
	_, err := s.c.DeleteQueue(s.ctx(0), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	return apiErrorCode(err)
}

func (s *sdkClient) GetQueueURL(name string) (string, string) {
	out, err := s.c.GetQueueUrl(s.ctx(0), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", apiErrorCode(err)
	}
	return aws.ToString(out.QueueUrl), ""
}

func (s *sdkClient) ListQueues(prefix string) ([]string, string) {
	out, err := s.c.ListQueues(s.ctx(0), &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix)})
	if err != nil {
		return nil, apiErrorCode(err)
	}
	return out.QueueUrls, ""
}

func (s *sdkClient) GetAttributes(url string, names ...string) (map[string]string, string) {
	in := &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url)}
	for _, n := range names {
		in.AttributeNames = append(in.AttributeNames, types.QueueAttributeName(n))
	}
	out, err := s.c.GetQueueAttributes(s.ctx(0), in)
	if err != nil {
		return nil, apiErrorCode(err)
	}
	return out.Attributes, ""
}

func (s *sdkClient) SetAttributes(url string, attrs map[string]string) string {
	_, err := s.c.SetQueueAttributes(s.ctx(0), &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: attrs})
	return apiErrorCode(err)
}

func sdkAttrs(attrs map[string]string) map[string]types.MessageAttributeValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (s *sdkClient) Send(url string, m sendOpts) (sendOut, string) {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(m.Body), MessageAttributes: sdkAttrs(m.Attrs),
		MessageGroupId: optString(m.GroupID), MessageDeduplicationId: optString(m.DedupID)}
	if m.DelaySeconds != nil {
		in.DelaySeconds = int32(*m.DelaySeconds)
	}
	out, err := s.c.SendMessage(s.ctx(0), in)
	if err != nil {
		return sendOut{}, apiErrorCode(err)
	}
	return sendOut{aws.ToString(out.MessageId), aws.ToString(out.MD5OfMessageBody), aws.ToString(out.MD5OfMessageAttributes), aws.ToString(out.SequenceNumber)}, ""
}

func (s *sdkClient) SendBatch(url string, ms []sendOpts) (map[string]sendOut, map[string]string, string) {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{}}
	for i, m := range ms {
		e := types.SendMessageBatchRequestEntry{Id: aws.String(batchID(i, m)), MessageBody: aws.String(m.Body),
			MessageAttributes: sdkAttrs(m.Attrs), MessageGroupId: optString(m.GroupID), MessageDeduplicationId: optString(m.DedupID)}
		if m.DelaySeconds != nil {
			e.DelaySeconds = int32(*m.DelaySeconds)
		}
		in.Entries = append(in.Entries, e)
	}
	out, err := s.c.SendMessageBatch(s.ctx(0), in)
	if err != nil {
		return nil, nil, apiErrorCode(err)
	}
	ok, failed := map[string]sendOut{}, map[string]string{}
	for _, e := range out.Successful {
		ok[aws.ToString(e.Id)] = sendOut{aws.ToString(e.MessageId), aws.ToString(e.MD5OfMessageBody), aws.ToString(e.MD5OfMessageAttributes), aws.ToString(e.SequenceNumber)}
	}
	for _, e := range out.Failed {
		failed[aws.ToString(e.Id)] = aws.ToString(e.Code)
	}
	return ok, failed, ""
}

func (s *sdkClient) Receive(url string, max, wait int, visibility *int) ([]sqsMsg, string) {
	in := &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: int32(max), WaitTimeSeconds: int32(wait),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	if visibility != nil {
		// The SDK cannot send 0: it omits zero values.
		in.VisibilityTimeout = int32(*visibility)
	}
	out, err := s.c.ReceiveMessage(s.ctx(wait), in)
	if err != nil {
		return nil, apiErrorCode(err)
	}
	var msgs []sqsMsg
	for _, m := range out.Messages {
		sm := sqsMsg{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			MD5OfBody: aws.ToString(m.MD5OfBody), MD5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes: m.Attributes, MessageAttributes: map[string]string{}}
		for k, v := range m.MessageAttributes {
			sm.MessageAttributes[k] = aws.ToString(v.StringValue)
		}
		msgs = append(msgs, sm)
	}
	return msgs, ""
}

func (s *sdkClient) Delete(url, handle string) string {
	_, err := s.c.DeleteMessage(s.ctx(0), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(handle)})
	return apiErrorCode(err)
}

func (s *sdkClient) DeleteBatch(url string, handles []string) (map[string]string, string) {
	in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{}}
	for i, h := range handles {
		in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)})
	}
	out, err := s.c.DeleteMessageBatch(s.ctx(0), in)
	if err != nil {
		return nil, apiErrorCode(err)
	}
	failed := map[string]string{}
	for _, e := range out.Failed {
		failed[aws.ToString(e.Id)] = aws.ToString(e.Code)
	}
	return failed, ""
}

func (s *sdkClient) ChangeVisibility(url, handle string, seconds int) string {
	_, err := s.c.ChangeMessageVisibility(s.ctx(0), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
		ReceiptHandle: aws.String(handle), VisibilityTimeout: int32(seconds)})
	return apiErrorCode(err)
}

func (s *sdkClient) Purge(url string) string {
	_, err := s.c.PurgeQueue(s.ctx(0), &sqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	return apiErrorCode(err)
}

func (s *sdkClient) ListDeadLetterSources(url string) ([]string, string) {
	out, err := s.c.ListDeadLetterSourceQueues(s.ctx(0), &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(url)})
	if err != nil {
		return nil, apiErrorCode(err)
	}
	return out.QueueUrls, ""
}

func (s *sdkClient) Tag(url string, tags map[string]string) string {
	_, err := s.c.TagQueue(s.ctx(0), &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: tags})
	return apiErrorCode(err)
}

func (s *sdkClient) ListTags(url string) (map[string]string, string) {
	out, err := s.c.ListQueueTags(s.ctx(0), &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil {
		return nil, apiErrorCode(err)
	}
	return out.Tags, ""
}

// cliJSON decodes a CLI run's output into v, or returns its error code.
func cliJSON(r CLIResult, v any) string {
	if r.ExitCode != 0 {
		if c := r.ErrorCode(); c != "" {
			return c
		}
		return "CLIError: " + r.Stderr
	}
	if v != nil && r.Stdout != "" {
		if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
			return "BadCLIOutput: " + err.Error()
		}
	}
	return ""
}

// batchID is the id of batch entry i.
func batchID(i int, m sendOpts) string {
	if m.ID != "" {
		return m.ID
	}
	return strconv.Itoa(i)
}
