package esm

import (
	"bytes"
	"encoding/json"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/jsonv"
)

// record is one message of the SQS event (reference §6.3): lower-camel
// keys, unlike the SQS API.
type record struct {
	MessageID              string                      `json:"messageId"`
	ReceiptHandle          string                      `json:"receiptHandle"`
	Body                   string                      `json:"body"`
	Attributes             map[string]string           `json:"attributes"`
	MessageAttributes      map[string]messageAttribute `json:"messageAttributes"`
	MD5OfBody              string                      `json:"md5OfBody"`
	MD5OfMessageAttributes *string                     `json:"md5OfMessageAttributes"`
	EventSource            string                      `json:"eventSource"`
	EventSourceARN         string                      `json:"eventSourceARN"`
	AWSRegion              string                      `json:"awsRegion"`
}

type messageAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// eventAttributes are the system attributes an SQS event carries.
var eventAttributes = []string{
	"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
	"SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
}

// newRecord renders a received message as an event record.
func newRecord(m *stratus.ReceivedMessage, arn, region string) record {
	r := record{
		MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body, MD5OfBody: m.MD5OfBody,
		Attributes:        map[string]string{},
		MessageAttributes: map[string]messageAttribute{},
		EventSource:       "aws:sqs", EventSourceARN: arn, AWSRegion: region,
	}
	for _, k := range eventAttributes {
		if v, ok := m.SystemAttributes[k]; ok {
			r.Attributes[k] = v
		}
	}
	for k, a := range m.Attributes {
		ma := messageAttribute{DataType: a.DataType, StringListValues: []string{}, BinaryListValues: [][]byte{}}
		if a.BinaryValue != nil {
			ma.BinaryValue = a.BinaryValue
		} else {
			s := a.StringValue
			ma.StringValue = &s
		}
		r.MessageAttributes[k] = ma
	}
	if m.MD5OfMessageAttributes != "" {
		s := m.MD5OfMessageAttributes
		r.MD5OfMessageAttributes = &s
	}
	return r
}

// encodeEvent renders {"Records":[...]}.
func encodeEvent(records []record) ([]byte, error) {
	return json.Marshal(struct {
		Records []record `json:"Records"`
	}{records})
}

// batchFailures interprets a function's response under
// ReportBatchItemFailures (reference §6.3). It returns the ids of the
// messages that failed, or all=true when the whole batch counts as
// failed: invalid JSON, an empty or unknown itemIdentifier, a wrong key.
// An empty or null response, or an empty or null list, is success.
func batchFailures(payload []byte, inBatch map[string]bool) (failed map[string]bool, all bool) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || bytes.Equal(payload, []byte("null")) {
		return nil, false
	}
	if !jsonv.Valid(payload) {
		return nil, true
	}
	if payload[0] != '{' {
		return nil, false
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, true
	}
	raw, ok := resp["batchItemFailures"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, true
	}
	failed = make(map[string]bool, len(items))
	for _, it := range items {
		var id string
		v, ok := it["itemIdentifier"]
		if !ok || json.Unmarshal(v, &id) != nil || id == "" || !inBatch[id] {
			return nil, true
		}
		failed[id] = true
	}
	return failed, false
}
