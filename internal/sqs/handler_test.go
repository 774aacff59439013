package sqs

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	form := "application/x-www-form-urlencoded; charset=utf-8"
	signed := func(svc string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/" + svc + "/aws4_request, SignedHeaders=host, Signature=x"
	}
	tests := []struct {
		name, method, target, ctype, auth, body string
		want                                    bool
	}{
		{"json target", "POST", "/", "application/x-amz-json-1.0", "", `{}`, true},
		{"logs target", "POST", "/", "application/x-amz-json-1.1", "", `{}`, false},
		{"signed sqs query", "POST", "/", form, signed("sqs"), "Action=ListQueues", true},
		{"signed sns query", "POST", "/", form, signed("sns"), "Action=ListQueues", false},
		{"unsigned form", "POST", "/", form, "", "Version=2012-11-05&Action=SendMessage", true},
		{"unsigned form to queue url", "POST", "/000000000000/q1", form, "", "Action=ReceiveMessage", true},
		{"unsigned sns action", "POST", "/", form, "", "Action=Publish", false},
		{"get with action", "GET", "/?Action=ListQueues", "", "", "", true},
		{"lambda path", "GET", "/2015-03-31/functions", "", signed("sqs"), "", false},
		{"health", "GET", "/_stratus/health", "", "", "", false},
		{"no action", "GET", "/", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.name == "json target" {
				r.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
			}
			if tc.name == "logs target" {
				r.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if got := Match(r); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
			if tc.body != "" {
				rest, _ := io.ReadAll(r.Body)
				if string(rest) != tc.body {
					t.Fatalf("Match consumed the body: %q left", rest)
				}
			}
		})
	}
}

// serve runs one request against h.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func jsonReq(op, body string) *http.Request {
	r := httptest.NewRequest("POST", "http://edge.test:4566/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", "AmazonSQS."+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	return r
}

func queryReq(path string, v url.Values) *http.Request {
	r := httptest.NewRequest("POST", "http://edge.test:4566"+path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestJSONProtocol(t *testing.T) {
	s, _ := testService(t)
	h := s.Handler()
	w := serve(h, jsonReq("CreateQueue", `{"QueueName":"j1","Attributes":{"VisibilityTimeout":"5"},"tags":{"a":"b"}}`))
	if w.Code != 200 || w.Body.String() != `{"QueueUrl":"http://edge.test:4566/000000000000/j1"}` {
		t.Fatalf("CreateQueue: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Fatalf("Content-Type %q", ct)
	}
	w = serve(h, jsonReq("SendMessage", `{"QueueUrl":"http://x/000000000000/j1","MessageBody":"hi",
		"MessageAttributes":{"n":{"DataType":"Number","StringValue":"1"},"b":{"DataType":"Binary","BinaryValue":"AAE="}}}`))
	var sent sendMessageOutput
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &sent) != nil || sent.MD5OfMessageBody != md5Hex("hi") || sent.MD5OfMessageAttributes == "" {
		t.Fatalf("SendMessage: %d %s", w.Code, w.Body)
	}
	w = serve(h, jsonReq("ReceiveMessage", `{"QueueUrl":"http://x/000000000000/j1","MessageAttributeNames":["All"],"MessageSystemAttributeNames":["SentTimestamp"]}`))
	var got receiveMessageOutput
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || len(got.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %d %s", w.Code, w.Body)
	}
	m := got.Messages[0]
	if m.Body != "hi" || len(m.Attributes) != 1 || m.Attributes["SentTimestamp"] == "" || string(m.MessageAttributes["b"].BinaryValue) != "\x00\x01" ||
		m.MD5OfMessageAttributes != sent.MD5OfMessageAttributes {
		t.Fatalf("received %+v", m)
	}

	errorCases := []struct {
		op, body, typ, query string
		status               int
	}{
		{"GetQueueUrl", `{"QueueName":"nope"}`, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender", 400},
		{"CreateQueue", `{"QueueName":"j1","Attributes":{"VisibilityTimeout":"6"}}`, "QueueNameExists", "QueueAlreadyExists;Sender", 400},
		{"DeleteMessage", `{"QueueUrl":"http://x/000000000000/j1","ReceiptHandle":"x"}`, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid;Sender", 404},
		{"SendMessage", `{"QueueUrl":"http://x/000000000000/j1","MessageBody":5}`, "SerializationException", "SerializationException;Sender", 400},
		{"SendMessageBatch", `{"QueueUrl":"http://x/000000000000/j1","Entries":[]}`, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest;Sender", 400},
		{"Bogus", `{}`, "InvalidAction", "InvalidAction;Sender", 400},
		{"AddPermission", `{}`, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation;Sender", 400},
		{"SendMessage", `{"QueueUrl":"http://x/000000000000/j1"}`, "MissingParameter", "MissingParameter;Sender", 400},
	}
	for _, tc := range errorCases {
		w := serve(h, jsonReq(tc.op, tc.body))
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if w.Code != tc.status || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Type != "com.amazonaws.sqs#"+tc.typ ||
			w.Header().Get("X-Amzn-Query-Error") != tc.query || e.Message == "" {
			t.Errorf("%s %s: %d %s %v", tc.op, tc.body, w.Code, w.Body, w.Header())
		}
	}
}

func TestQueryProtocol(t *testing.T) {
	s, _ := testService(t)
	h := s.Handler()
	w := serve(h, queryReq("/", url.Values{"Action": {"CreateQueue"}, "QueueName": {"x1"},
		"Attribute.1.Name": {"DelaySeconds"}, "Attribute.1.Value": {"0"}}))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<QueueUrl>http://edge.test:4566/000000000000/x1</QueueUrl>") {
		t.Fatalf("CreateQueue: %d %s", w.Code, w.Body)
	}
	// Posting to the queue URL names the queue.
	w = serve(h, queryReq("/000000000000/x1", url.Values{"Action": {"SendMessage"}, "MessageBody": {"a\r\nb <&>"},
		"MessageAttribute.1.Name": {"k"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"v"}}))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<MD5OfMessageBody>"+md5Hex("a\r\nb <&>")+"</MD5OfMessageBody>") {
		t.Fatalf("SendMessage: %d %s", w.Code, w.Body)
	}
	w = serve(h, queryReq("/", url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {"http://q/000000000000/x1"},
		"AttributeName.1": {"All"}, "MessageAttributeName.1": {"All"}}))
	var doc struct {
		Result struct {
			Messages []struct {
				Body       string
				Attributes []struct{ Name, Value string } `xml:"Attribute"`
				MsgAttrs   []struct {
					Name  string
					Value struct{ StringValue, DataType string }
				} `xml:"MessageAttribute"`
			} `xml:"Message"`
		} `xml:"ReceiveMessageResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if w.Code != 200 || xml.Unmarshal(w.Body.Bytes(), &doc) != nil || len(doc.Result.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %d %s", w.Code, w.Body)
	}
	m := doc.Result.Messages[0]
	if m.Body != "a\r\nb <&>" || len(m.Attributes) < 4 || len(m.MsgAttrs) != 1 || m.MsgAttrs[0].Value.StringValue != "v" || doc.RequestID == "" {
		t.Fatalf("received %+v", doc)
	}
	w = serve(h, httptest.NewRequest("GET", "http://edge.test/?Action=GetQueueUrl&QueueName=none", nil))
	var e struct {
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	if w.Code != 400 || xml.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code != "AWS.SimpleQueueService.NonExistentQueue" ||
		e.Error.Type != "Sender" || e.RequestID == "" || w.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("GetQueueUrl error: %d %s", w.Code, w.Body)
	}
	w = serve(h, queryReq("/", url.Values{"Action": {"SendMessageBatch"}, "QueueUrl": {"http://q/000000000000/x1"},
		"SendMessageBatchRequestEntry.1.Id": {"a"}, "SendMessageBatchRequestEntry.1.MessageBody": {"ok"},
		"SendMessageBatchRequestEntry.2.Id": {"b"}, "SendMessageBatchRequestEntry.2.MessageBody": {"bad\x02"}}))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<SendMessageBatchResultEntry><Id>a</Id>") ||
		!strings.Contains(w.Body.String(), "<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>InvalidMessageContents</Code>") {
		t.Fatalf("SendMessageBatch: %d %s", w.Code, w.Body)
	}
}
