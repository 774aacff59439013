package e2e

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// cliClient drives /usr/bin/aws sqs (AWS CLI v2.9: the query protocol).
type cliClient struct{ cli *AWSCLI }

var (
	_ sqsClient = (*cliClient)(nil)
	_ sqsClient = (*sdkClient)(nil)
)

func (c *cliClient) Name() string { return "cli" }

func (c *cliClient) run(v any, args ...string) string {
	return cliJSON(c.cli.Run(append([]string{"sqs"}, args...)...), v)
}

// shorthand renders a map as the CLI's Key=Value,Key=Value shorthand, or
// as JSON when a value needs quoting.
func jsonArg(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (c *cliClient) CreateQueue(name string, attrs map[string]string) (string, string) {
	var out struct{ QueueUrl string }
	args := []string{"create-queue", "--queue-name", name}
	if len(attrs) > 0 {
		args = append(args, "--attributes", jsonArg(attrs))
	}
	code := c.run(&out, args...)
	return out.QueueUrl, code
}

func (c *cliClient) DeleteQueue(url string) string {
	return c.run(nil, "delete-queue", "--queue-url", url)
}

func (c *cliClient) GetQueueURL(name string) (string, string) {
	var out struct{ QueueUrl string }
	code := c.run(&out, "get-queue-url", "--queue-name", name)
	return out.QueueUrl, code
}

func (c *cliClient) ListQueues(prefix string) ([]string, string) {
	var out struct{ QueueUrls []string }
	code := c.run(&out, "list-queues", "--queue-name-prefix", prefix)
	return out.QueueUrls, code
}

func (c *cliClient) GetAttributes(url string, names ...string) (map[string]string, string) {
	var out struct{ Attributes map[string]string }
	code := c.run(&out, append([]string{"get-queue-attributes", "--queue-url", url, "--attribute-names"}, names...)...)
	return out.Attributes, code
}

func (c *cliClient) SetAttributes(url string, attrs map[string]string) string {
	return c.run(nil, "set-queue-attributes", "--queue-url", url, "--attributes", jsonArg(attrs))
}

// cliEntry is a message as the CLI's JSON input spells it.
type cliEntry struct {
	Id                     string                       `json:"Id,omitempty"`
	MessageBody            string                       `json:"MessageBody"`
	DelaySeconds           *int                         `json:"DelaySeconds,omitempty"`
	MessageGroupId         string                       `json:"MessageGroupId,omitempty"`
	MessageDeduplicationId string                       `json:"MessageDeduplicationId,omitempty"`
	MessageAttributes      map[string]map[string]string `json:"MessageAttributes,omitempty"`
}

func toCLIEntry(id string, m sendOpts) cliEntry {
	e := cliEntry{Id: id, MessageBody: m.Body, DelaySeconds: m.DelaySeconds, MessageGroupId: m.GroupID, MessageDeduplicationId: m.DedupID}
	for k, v := range m.Attrs {
		if e.MessageAttributes == nil {
			e.MessageAttributes = map[string]map[string]string{}
		}
		e.MessageAttributes[k] = map[string]string{"DataType": "String", "StringValue": v}
	}
	return e
}

type cliSendOut struct {
	Id, MessageId, MD5OfMessageBody, MD5OfMessageAttributes, SequenceNumber string
}

func (o cliSendOut) out() sendOut {
	return sendOut{o.MessageId, o.MD5OfMessageBody, o.MD5OfMessageAttributes, o.SequenceNumber}
}

func (c *cliClient) Send(url string, m sendOpts) (sendOut, string) {
	args := []string{"send-message", "--queue-url", url, "--message-body", m.Body}
	if m.DelaySeconds != nil {
		args = append(args, "--delay-seconds", strconv.Itoa(*m.DelaySeconds))
	}
	if m.GroupID != "" {
		args = append(args, "--message-group-id", m.GroupID)
	}
	if m.DedupID != "" {
		args = append(args, "--message-deduplication-id", m.DedupID)
	}
	if len(m.Attrs) > 0 {
		args = append(args, "--message-attributes", jsonArg(toCLIEntry("", m).MessageAttributes))
	}
	var out cliSendOut
	code := c.run(&out, args...)
	return out.out(), code
}

type cliBatchOut struct {
	Successful []cliSendOut
	Failed     []struct{ Id, Code string }
}

func (c *cliClient) SendBatch(url string, ms []sendOpts) (map[string]sendOut, map[string]string, string) {
	entries := []cliEntry{}
	for i, m := range ms {
		entries = append(entries, toCLIEntry(batchID(i, m), m))
	}
	var out cliBatchOut
	if code := c.run(&out, "send-message-batch", "--queue-url", url, "--entries", jsonArg(entries)); code != "" {
		return nil, nil, code
	}
	ok, failed := map[string]sendOut{}, map[string]string{}
	for _, e := range out.Successful {
		ok[e.Id] = e.out()
	}
	for _, e := range out.Failed {
		failed[e.Id] = e.Code
	}
	return ok, failed, ""
}

func (c *cliClient) Receive(url string, max, wait int, visibility *int) ([]sqsMsg, string) {
	args := []string{"receive-message", "--queue-url", url, "--max-number-of-messages", strconv.Itoa(max),
		"--wait-time-seconds", strconv.Itoa(wait), "--attribute-names", "All", "--message-attribute-names", "All"}
	if visibility != nil {
		args = append(args, "--visibility-timeout", strconv.Itoa(*visibility))
	}
	var out struct {
		Messages []struct {
			sqsMsg
			MessageAttributes map[string]struct{ StringValue, DataType string }
		}
	}
	code := c.run(&out, args...)
	var msgs []sqsMsg
	for _, m := range out.Messages {
		sm := m.sqsMsg
		sm.MessageAttributes = map[string]string{}
		for k, v := range m.MessageAttributes {
			sm.MessageAttributes[k] = v.StringValue
		}
		msgs = append(msgs, sm)
	}
	return msgs, code
}

func (c *cliClient) Delete(url, handle string) string {
	return c.run(nil, "delete-message", "--queue-url", url, "--receipt-handle", handle)
}

func (c *cliClient) DeleteBatch(url string, handles []string) (map[string]string, string) {
	entries := []map[string]string{}
	for i, h := range handles {
		entries = append(entries, map[string]string{"Id": strconv.Itoa(i), "ReceiptHandle": h})
	}
	var out cliBatchOut
	if code := c.run(&out, "delete-message-batch", "--queue-url", url, "--entries", jsonArg(entries)); code != "" {
		return nil, code
	}
	failed := map[string]string{}
	for _, e := range out.Failed {
		failed[e.Id] = e.Code
	}
	return failed, ""
}

func (c *cliClient) ChangeVisibility(url, handle string, seconds int) string {
	return c.run(nil, "change-message-visibility", "--queue-url", url, "--receipt-handle", handle,
		"--visibility-timeout", strconv.Itoa(seconds))
}

func (c *cliClient) Purge(url string) string { return c.run(nil, "purge-queue", "--queue-url", url) }

func (c *cliClient) ListDeadLetterSources(url string) ([]string, string) {
	var out struct {
		QueueUrls []string `json:"queueUrls"`
	}
	code := c.run(&out, "list-dead-letter-source-queues", "--queue-url", url)
	return out.QueueUrls, code
}

func (c *cliClient) Tag(url string, tags map[string]string) string {
	var kv []string
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return c.run(nil, "tag-queue", "--queue-url", url, "--tags", strings.Join(kv, ","))
}

func (c *cliClient) ListTags(url string) (map[string]string, string) {
	var out struct{ Tags map[string]string }
	code := c.run(&out, "list-queue-tags", "--queue-url", url)
	return out.Tags, code
}
