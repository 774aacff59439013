package sqs

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzConfig is a queue configuration for checking decoded sends.
var fuzzConfig = parseConfig(defaultAttrs(false))

// checkDecoded runs the validation an operation performs before it
// touches a queue, and checks what it accepts.
func checkDecoded(t *testing.T, in any) {
	var fields []*messageFields
	switch v := in.(type) {
	case *sendMessageInput:
		fields = append(fields, &v.messageFields)
	case *sendMessageBatchInput:
		ids := make([]string, len(v.Entries))
		for i, e := range v.Entries {
			ids[i] = e.Id
			fields = append(fields, &v.Entries[i].messageFields)
		}
		if checkBatchIDs(ids) == nil {
			if len(ids) == 0 || len(ids) > maxBatchEntries {
				t.Fatalf("accepted a batch of %d", len(ids))
			}
		}
	case *createQueueInput:
		if v.QueueName != nil {
			fifo := v.Attributes[attrFifoQueue] == "true"
			stored := defaultAttrs(fifo)
			if validQueueName(*v.QueueName, fifo) && applyAttrs(stored, v.Attributes, fifo, true) == nil {
				c := parseConfig(stored)
				if c.Visibility < 0 || c.Visibility > maxVisibility*time.Second || c.MaxSize < 1024 || c.MaxSize > maxMessageSizeLimit {
					t.Fatalf("accepted attributes %v", stored)
				}
			}
		}
		_ = checkTags(v.Tags)
	case *receiveMessageInput:
		for _, n := range v.MessageAttributeNames {
			_ = attrSelected(v.MessageAttributeNames, n)
		}
	}
	for _, f := range fields {
		si, _, err := toSendInput(f, "sender")
		if err != nil {
			continue
		}
		e := &engine{}
		for _, cfg := range []queueConfig{fuzzConfig, {FIFO: true, ContentDedup: true, MaxSize: maxMessageSizeLimit}} {
			se, err := e.newSendEntry(cfg, si)
			if err != nil {
				continue
			}
			if !utf8.ValidString(se.payload.Body) || !validMessageChars(se.payload.Body) || se.meta.Size > cfg.MaxSize {
				t.Fatalf("accepted an invalid message %q", se.payload.Body)
			}
			if _, err := json.Marshal(se.meta); err != nil {
				t.Fatalf("meta does not encode: %v", err)
			}
			if cfg.FIFO && (se.meta.Group == "" || se.meta.Dedup == "") {
				t.Fatal("accepted a FIFO message without group or de-duplication id")
			}
			data := encodePayloads(nil, []payload{se.payload})
			if pl, err := decodePayload(data, 0); err != nil || pl.Body != se.payload.Body || md5OfAttributes(pl.Attrs) != se.meta.MD5Attrs {
				t.Fatalf("stored payload does not round-trip: %v", err)
			}
		}
	}
}

func FuzzJSONRequest(f *testing.F) {
	f.Add("SendMessage", []byte(`{"QueueUrl":"http://h/000000000000/q","MessageBody":"hi","MessageAttributes":{"a":{"DataType":"String","StringValue":"v"}}}`))
	f.Add("SendMessageBatch", []byte(`{"QueueUrl":"q","Entries":[{"Id":"1","MessageBody":"x","DelaySeconds":3},{"Id":"1","MessageBody":"y"}]}`))
	f.Add("ReceiveMessage", []byte(`{"QueueUrl":"q","MaxNumberOfMessages":10,"WaitTimeSeconds":20,"MessageAttributeNames":["All","a.*"]}`))
	f.Add("CreateQueue", []byte(`{"QueueName":"q.fifo","Attributes":{"FifoQueue":"true","VisibilityTimeout":"5"},"tags":{"k":"v"}}`))
	f.Add("SendMessage", []byte(`{"MessageBody":"x","MessageAttributes":{"b":{"DataType":"Binary","BinaryValue":"AAE="}},"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1"}}}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		spec, err := lookupOp(op)
		if err != nil {
			return
		}
		in := spec.input()
		if json.Unmarshal(body, in) != nil {
			return
		}
		checkDecoded(t, in)
	})
}

func FuzzQueryRequest(f *testing.F) {
	f.Add("Action=SendMessage&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&MessageBody=hi&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v")
	f.Add("Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=1&SendMessageBatchRequestEntry.1.MessageBody=x&SendMessageBatchRequestEntry.2.Id=2&SendMessageBatchRequestEntry.2.MessageBody=y&SendMessageBatchRequestEntry.2.DelaySeconds=5")
	f.Add("Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=10&WaitTimeSeconds=20&VisibilityTimeout=0")
	f.Add("Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&Tag.1.Key=k&Tag.1.Value=v")
	f.Add("Action=ChangeMessageVisibilityBatch&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=h&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=x")
	f.Add("Action=SendMessage&MessageBody=x&MessageAttribute.1.Name=b&MessageAttribute.1.Value.DataType=Binary&MessageAttribute.1.Value.BinaryValue=%%%")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		f := form(v)
		spec, err := lookupOp(f.str("Action"))
		if err != nil {
			return
		}
		in := spec.input()
		if decodeQuery(f, in) != nil {
			return
		}
		checkDecoded(t, in)
	})
}

func FuzzStoredRecords(f *testing.F) {
	f.Add([]byte{opReceive, 1, 0, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1}, `[{"i":"id","t":1,"z":2}]`)
	f.Add(encodePayloads(nil, []payload{{Body: "x"}}), `[]`)
	f.Fuzz(func(t *testing.T, data []byte, metas string) {
		_ = decodeOps(data, func(op) {})
		_, _ = decodePayload(data, 0)
		_, _ = decodePayload(data, 3)
		_, _ = decodeMetas(metas)
		c := receiptCodec{key: []byte("k")}
		if _, ok := c.decode(string(data)); ok {
			t.Fatal("a fuzzed receipt handle verified")
		}
	})
}
