package sqs

import (
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
)

func TestMD5OfAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]stratus.MessageAttribute
		want  string
	}{
		{"none", nil, ""},
		// Vector published by another SQS implementation (sqslite) and
		// matching the Java SDK's algorithm.
		{"number and string", map[string]stratus.MessageAttribute{
			"ordinal":  {DataType: "Number", StringValue: "1"},
			"category": {DataType: "String", StringValue: "test"},
		}, "d21ae90c49061e927f57df5f5d72be1f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := md5OfAttributes(tc.attrs); got != tc.want {
				t.Fatalf("md5OfAttributes = %q, want %q", got, tc.want)
			}
		})
	}
	if md5Hex("") != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatal("md5Hex of the empty string")
	}
	bin := md5OfAttributes(map[string]stratus.MessageAttribute{"b": {DataType: "Binary", BinaryValue: []byte{0, 1}}})
	str := md5OfAttributes(map[string]stratus.MessageAttribute{"b": {DataType: "Binary", StringValue: "\x00\x01"}})
	if bin == str {
		t.Fatal("binary attributes must use transport type 2 and the binary value")
	}
}

func TestValidQueueName(t *testing.T) {
	tests := []struct {
		name string
		fifo bool
		want bool
	}{
		{"a", false, true},
		{"A-b_9", false, true},
		{strings.Repeat("x", 80), false, true},
		{strings.Repeat("x", 81), false, false},
		{"", false, false},
		{"a b", false, false},
		{"a.fifo", false, false},
		{"a.fifo", true, true},
		{".fifo", true, false},
		{strings.Repeat("x", 75) + ".fifo", true, true},
		{strings.Repeat("x", 76) + ".fifo", true, false},
		{"a", true, false},
		{"ä", false, false},
	}
	for _, tc := range tests {
		if got := validQueueName(tc.name, tc.fifo); got != tc.want {
			t.Errorf("validQueueName(%q, %v) = %v, want %v", tc.name, tc.fifo, got, tc.want)
		}
	}
}

func TestValidMessageChars(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"plain", true},
		{"\t\n\r", true},
		{"\x00", false},
		{"\x1f", false},
		{"\u00e9\u4e16\U0001F600", true},
		{"\ud7ff", true},
		{"\ufffd", true},
		{"\xef\xbf\xbe", false}, // U+FFFE
		{"\xed\xa0\x80", false}, // a surrogate, invalid UTF-8
		{"\xff", false},
	}
	for _, tc := range tests {
		if got := validMessageChars(tc.s); got != tc.want {
			t.Errorf("validMessageChars(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestCheckMessageAttributes(t *testing.T) {
	s := func(v string) stratus.MessageAttribute {
		return stratus.MessageAttribute{DataType: "String", StringValue: v}
	}
	tests := []struct {
		name  string
		attrs map[string]stratus.MessageAttribute
		ok    bool
	}{
		{"ok", map[string]stratus.MessageAttribute{"a.b-c_d": s("v")}, true},
		{"custom type", map[string]stratus.MessageAttribute{"n": {DataType: "Number.int", StringValue: "-1.5e3"}}, true},
		{"reserved prefix", map[string]stratus.MessageAttribute{"AWS.x": s("v")}, false},
		{"leading period", map[string]stratus.MessageAttribute{".x": s("v")}, false},
		{"double period", map[string]stratus.MessageAttribute{"a..b": s("v")}, false},
		{"empty value", map[string]stratus.MessageAttribute{"a": s("")}, false},
		{"bad number", map[string]stratus.MessageAttribute{"n": {DataType: "Number", StringValue: "1x"}}, false},
		{"number too precise", map[string]stratus.MessageAttribute{"n": {DataType: "Number", StringValue: strings.Repeat("1", 39)}}, false},
		{"unknown type", map[string]stratus.MessageAttribute{"n": {DataType: "Float", StringValue: "1"}}, false},
		{"binary without bytes", map[string]stratus.MessageAttribute{"b": {DataType: "Binary"}}, false},
		{"bad characters", map[string]stratus.MessageAttribute{"a": s("\x00")}, false},
		{"eleven", func() map[string]stratus.MessageAttribute {
			m := map[string]stratus.MessageAttribute{}
			for _, k := range strings.Split("a b c d e f g h i j k", " ") {
				m[k] = s("v")
			}
			return m
		}(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkMessageAttributes(tc.attrs)
			if (err == nil) != tc.ok {
				t.Fatalf("checkMessageAttributes: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestQueueAttributes(t *testing.T) {
	tests := []struct {
		name, value string
		fifo        bool
		reason      string // "" for valid
	}{
		{"VisibilityTimeout", "43200", false, ""},
		{"VisibilityTimeout", "43201", false, "InvalidAttributeValue"},
		{"VisibilityTimeout", "x", false, "InvalidAttributeValue"},
		{"MessageRetentionPeriod", "59", false, "InvalidAttributeValue"},
		{"MaximumMessageSize", "1048576", false, ""},
		{"MaximumMessageSize", "1048577", false, "InvalidAttributeValue"},
		{"ContentBasedDeduplication", "true", false, "InvalidAttributeName"},
		{"ContentBasedDeduplication", "true", true, ""},
		{"DeduplicationScope", "x", true, "InvalidAttributeValue"},
		{"RedrivePolicy", `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d","maxReceiveCount":1001}`, false, "InvalidParameterValue"},
		{"RedrivePolicy", `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d","maxReceiveCount":"5"}`, false, ""},
		{"RedriveAllowPolicy", `{"redrivePermission":"byQueue"}`, false, "InvalidParameterValue"},
		{"KmsMasterKeyId", "alias/aws/sqs", false, "UnsupportedOperation"},
		{"Policy", "{", false, "InvalidAttributeValue"},
		{"Nope", "1", false, "InvalidAttributeName"},
	}
	for _, tc := range tests {
		_, err := normalizeAttr(tc.name, tc.value, tc.fifo, true)
		reason := ""
		if err != nil {
			we, _ := lookupError(err)
			reason = we.Shape
		}
		if reason != tc.reason {
			t.Errorf("%s=%q (fifo %v): %v, want %q", tc.name, tc.value, tc.fifo, err, tc.reason)
		}
	}
}

func TestErrorTable(t *testing.T) {
	for name, we := range errorTable {
		if we.Shape != name || we.Query == "" || we.Status < 400 || we.Status > 599 || we.Sender != (we.Status < 500) {
			t.Errorf("error %s: %+v", name, we)
		}
	}
	for _, code := range []string{stratus.EINTERNAL, stratus.ENOTFOUND, stratus.ECONFLICT, stratus.EINVALID, stratus.EBADREQUEST,
		stratus.ETOOLARGE, stratus.EPRECONDITION, stratus.ETHROTTLED, stratus.EUNSUPPORTED, stratus.EUNAVAILABLE, stratus.EVALIDATION} {
		if _, ok := errorTable[codeTable[code]]; !ok {
			t.Errorf("domain code %s has no SQS error", code)
		}
	}
	we, msg := lookupError(errNoQueue())
	if we.Query != "AWS.SimpleQueueService.NonExistentQueue" || we.Status != 400 || msg == "" {
		t.Errorf("QueueDoesNotExist: %+v %q", we, msg)
	}
}

func TestReceiptHandles(t *testing.T) {
	c := receiptCodec{key: []byte("0123456789abcdef0123456789abcdef")}
	r := receipt{queueID: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, seq: 1 << 40, idx: 9, nonce: 42}
	h := c.encode(r)
	got, ok := c.decode(h)
	if !ok || got != r {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for i := range h {
		b := []byte(h)
		b[i] ^= 1
		if _, ok := c.decode(string(b)); ok {
			t.Fatalf("a handle with byte %d changed is valid", i)
		}
	}
	other := receiptCodec{key: []byte("another key, another deployment")}
	if _, ok := other.decode(h); ok {
		t.Fatal("a handle is valid under another key")
	}
}

func TestCodecRoundTrip(t *testing.T) {
	ps := []payload{
		{Body: "one", Attrs: map[string]stratus.MessageAttribute{"b": {DataType: "Binary", BinaryValue: []byte{0, 255}}, "s": {DataType: "String", StringValue: "v"}}},
		{Body: "two"},
	}
	data := encodePayloads(nil, ps)
	for i, want := range ps {
		got, err := decodePayload(data, i)
		if err != nil || got.Body != want.Body || len(got.Attrs) != len(want.Attrs) || md5OfAttributes(got.Attrs) != md5OfAttributes(want.Attrs) {
			t.Fatalf("payload %d: %+v %v", i, got, err)
		}
	}
	if _, err := decodePayload(data, 2); err == nil {
		t.Fatal("decoding past the end succeeded")
	}
	ops := []op{{kind: opReceive, seq: 7, idx: 1, receives: 3, visibleAt: 1e12, firstRecv: 5, recvAt: 6, nonce: 99},
		{kind: opVisibility, seq: 8, visibleAt: -1}, {kind: opDelete, seq: 9, idx: 65535}}
	var buf []byte
	for _, o := range ops {
		buf = appendOp(buf, o)
	}
	var got []op
	if err := decodeOps(buf, func(o op) { got = append(got, o) }); err != nil || len(got) != 3 || got[0] != ops[0] || got[1] != ops[1] || got[2] != ops[2] {
		t.Fatalf("ops %+v %v", got, err)
	}
}
