package sqs

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"
)

var (
	benchSendJSON = []byte(`{"QueueUrl":"http://127.0.0.1:4566/000000000000/orders","MessageBody":"{\"orderId\":12345,\"items\":[1,2,3],\"note\":\"deliver before noon\"}",` +
		`"MessageAttributes":{"tenant":{"DataType":"String","StringValue":"acme"},"priority":{"DataType":"Number","StringValue":"3"}}}`)
	benchReceiveJSON = []byte(`{"QueueUrl":"http://127.0.0.1:4566/000000000000/orders","MaxNumberOfMessages":10,"WaitTimeSeconds":20,` +
		`"VisibilityTimeout":30,"MessageSystemAttributeNames":["All"],"MessageAttributeNames":["All"]}`)
	benchSendQuery = url.Values{
		"Action": {"SendMessage"}, "Version": {"2012-11-05"}, "QueueUrl": {"http://127.0.0.1:4566/000000000000/orders"},
		"MessageBody":             {`{"orderId":12345,"items":[1,2,3],"note":"deliver before noon"}`},
		"MessageAttribute.1.Name": {"tenant"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"acme"},
		"MessageAttribute.2.Name": {"priority"}, "MessageAttribute.2.Value.DataType": {"Number"}, "MessageAttribute.2.Value.StringValue": {"3"},
	}.Encode()
	benchReceiveQuery = url.Values{
		"Action": {"ReceiveMessage"}, "Version": {"2012-11-05"}, "QueueUrl": {"http://127.0.0.1:4566/000000000000/orders"},
		"MaxNumberOfMessages": {"10"}, "WaitTimeSeconds": {"20"}, "VisibilityTimeout": {"30"},
		"AttributeName.1": {"All"}, "MessageAttributeName.1": {"All"},
	}.Encode()
)

// BenchmarkDecodeJSONSendMessage decodes a SendMessage body of the JSON
// protocol and validates the message, as the handler does before it
// stores anything.
func BenchmarkDecodeJSONSendMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSendJSON)))
	e := &engine{}
	for b.Loop() {
		var in sendMessageInput
		if err := json.Unmarshal(benchSendJSON, &in); err != nil {
			b.Fatal(err)
		}
		si, _, err := toSendInput(&in.messageFields, "AKID")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.newSendEntry(fuzzConfig, si); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSONReceiveMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReceiveJSON)))
	for b.Loop() {
		var in receiveMessageInput
		if err := json.Unmarshal(benchReceiveJSON, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeQuerySendMessage decodes a form-encoded SendMessage and
// validates the message.
func BenchmarkDecodeQuerySendMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSendQuery)))
	e := &engine{}
	for b.Loop() {
		v, err := url.ParseQuery(benchSendQuery)
		if err != nil {
			b.Fatal(err)
		}
		var in sendMessageInput
		if err := decodeQuery(form(v), &in); err != nil {
			b.Fatal(err)
		}
		si, _, err := toSendInput(&in.messageFields, "AKID")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.newSendEntry(fuzzConfig, si); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeQueryReceiveMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReceiveQuery)))
	for b.Loop() {
		v, err := url.ParseQuery(benchReceiveQuery)
		if err != nil {
			b.Fatal(err)
		}
		var in receiveMessageInput
		if err := decodeQuery(form(v), &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineSend stores single messages one at a time: one fsync
// each (SyncAlways).
func BenchmarkEngineSend(b *testing.B) {
	s, _ := testService(b)
	mustCreate(b, s, "bench", nil)
	b.ReportAllocs()
	for b.Loop() {
		mustSend(b, s, "bench", body("0123456789012345678901234567890123456789012345678901234567890123"))
	}
}

// BenchmarkEngineSendParallel stores single messages from many
// goroutines: group commit shares fsyncs.
func BenchmarkEngineSendParallel(b *testing.B) {
	s, _ := testService(b)
	mustCreate(b, s, "bench", nil)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mustSend(b, s, "bench", body("0123456789012345678901234567890123456789012345678901234567890123"))
		}
	})
}

// BenchmarkEngineSendBatch stores batches of 10 messages (one bundle);
// the reported time is per message.
func BenchmarkEngineSendBatch(b *testing.B) {
	s, _ := testService(b)
	mustCreate(b, s, "bench", nil)
	var batch []*sendInput
	for i := range 10 {
		batch = append(batch, body("message "+strconv.Itoa(i)+" 0123456789012345678901234567890123456789"))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%10 == 0 {
			mustSend(b, s, "bench", batch...)
		}
	}
}

// BenchmarkEngineReceiveDelete receives and deletes batches of 10; the
// reported time is per message.
func BenchmarkEngineReceiveDelete(b *testing.B) {
	s, _ := testService(b)
	mustCreate(b, s, "bench", nil)
	eng, _ := s.engine("bench")
	var batch []*sendInput
	for i := range 10 {
		batch = append(batch, body("message "+strconv.Itoa(i)))
	}
	for range b.N/10 + 1 {
		mustSend(b, s, "bench", batch...)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i += 10 {
		msgs, err := eng.receive(ctx, receiveReq{max: 10, visibility: time.Minute})
		if err != nil || len(msgs) == 0 {
			b.Fatalf("receive: %v (%d)", err, len(msgs))
		}
		handles := make([]string, len(msgs))
		for j, m := range msgs {
			handles[j] = m.ReceiptHandle
		}
		if _, err := eng.deleteMessages(ctx, handles); err != nil {
			b.Fatal(err)
		}
	}
}
