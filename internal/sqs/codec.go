package sqs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/stratus-dev/stratus"
)

// Messages are stored in bundles: one JetStream message on subject
// sqs.<queue id>.m holds every message of one group commit (one
// SendMessageBatch, or concurrent SendMessage calls). The header Sqs-Meta
// holds what the engine needs to rebuild its index without reading
// bodies (a headers-only scan): a JSON array with one meta per message.
// The payload holds, per message in the same order, the encoded user
// attributes and the body, each prefixed with its uvarint length.
const hdrMeta = "Sqs-Meta"

// meta is the stored description of one message; short JSON names keep
// headers small. Every string is printable ASCII (validated on send), so
// the JSON is a valid header value.
type meta struct {
	ID        string `json:"i"`
	Sent      int64  `json:"t"`           // ms since the epoch
	Delay     int    `json:"d,omitempty"` // seconds
	Group     string `json:"g,omitempty"`
	Dedup     string `json:"dd,omitempty"`
	Sender    string `json:"s,omitempty"`
	Trace     string `json:"x,omitempty"` // AWSTraceHeader
	DLQSource string `json:"q,omitempty"` // DeadLetterQueueSourceArn
	MD5Attrs  string `json:"a,omitempty"` // MD5OfMessageAttributes
	Size      int    `json:"z"`           // body + attributes, bytes
}

// payload is one message's stored content.
type payload struct {
	Body  string
	Attrs map[string]stratus.MessageAttribute
}

func encodeMetas(ms []meta) string {
	b, _ := json.Marshal(ms)
	return string(b)
}

func decodeMetas(s string) ([]meta, error) {
	var ms []meta
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return nil, fmt.Errorf("decoding bundle meta: %w", err)
	}
	return ms, nil
}

// encodePayloads appends the payloads of a bundle to buf.
func encodePayloads(buf []byte, ps []payload) []byte {
	for _, p := range ps {
		attrs := encodeAttrs(nil, p.Attrs)
		buf = binary.AppendUvarint(buf, uint64(len(attrs)))
		buf = append(buf, attrs...)
		buf = binary.AppendUvarint(buf, uint64(len(p.Body)))
		buf = append(buf, p.Body...)
	}
	return buf
}

var errCorrupt = errors.New("corrupt bundle payload")

// decodePayload returns the payload at position idx of a bundle.
func decodePayload(data []byte, idx int) (payload, error) {
	for i := 0; ; i++ {
		alen, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < alen {
			return payload{}, errCorrupt
		}
		attrs := data[n : n+int(alen)]
		data = data[n+int(alen):]
		blen, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < blen {
			return payload{}, errCorrupt
		}
		body := data[n : n+int(blen)]
		data = data[n+int(blen):]
		if i == idx {
			a, err := decodeAttrs(attrs)
			return payload{Body: string(body), Attrs: a}, err
		}
	}
}

// encodeAttrs encodes attributes sorted by name: count, then per
// attribute name, data type and value, each length-prefixed.
func encodeAttrs(buf []byte, attrs map[string]stratus.MessageAttribute) []byte {
	if len(attrs) == 0 {
		return buf
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	buf = binary.AppendUvarint(buf, uint64(len(names)))
	for _, n := range names {
		a := attrs[n]
		buf = appendString(buf, n)
		buf = appendString(buf, a.DataType)
		if isBinaryType(a.DataType) {
			buf = appendString(buf, string(a.BinaryValue))
		} else {
			buf = appendString(buf, a.StringValue)
		}
	}
	return buf
}

func decodeAttrs(b []byte) (map[string]stratus.MessageAttribute, error) {
	if len(b) == 0 {
		return nil, nil
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > maxMessageAttrs*4 {
		return nil, errCorrupt
	}
	b = b[n:]
	attrs := make(map[string]stratus.MessageAttribute, count)
	for range count {
		var name, typ, val string
		var ok bool
		if name, b, ok = readString(b); !ok {
			return nil, errCorrupt
		}
		if typ, b, ok = readString(b); !ok {
			return nil, errCorrupt
		}
		if val, b, ok = readString(b); !ok {
			return nil, errCorrupt
		}
		a := stratus.MessageAttribute{DataType: typ}
		if isBinaryType(typ) {
			a.BinaryValue = []byte(val)
		} else {
			a.StringValue = val
		}
		attrs[name] = a
	}
	return attrs, nil
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}

// The state log (subject sqs.<queue id>.s) records what happens to stored
// messages after they are sent. Each JetStream message holds a sequence
// of ops; every op sets absolute state, so replaying an op twice, or an
// older op after a newer snapshot of the same message, converges to the
// state of the last op. Deleted is terminal.
const (
	opReceive    byte = 1 // seq, idx, receives, visibleAt, firstReceive, receivedAt, nonce
	opVisibility byte = 2 // seq, idx, visibleAt
	opDelete     byte = 3 // seq, idx
)

// op is one state change of one message.
type op struct {
	kind      byte
	seq       uint64
	idx       uint16
	receives  uint32
	visibleAt int64 // ms
	firstRecv int64 // ms
	recvAt    int64 // ms: when the current receive happened
	nonce     uint64
}

func appendOp(buf []byte, o op) []byte {
	buf = append(buf, o.kind)
	buf = binary.AppendUvarint(buf, o.seq)
	buf = binary.AppendUvarint(buf, uint64(o.idx))
	switch o.kind {
	case opReceive:
		buf = binary.AppendUvarint(buf, uint64(o.receives))
		buf = binary.AppendVarint(buf, o.visibleAt)
		buf = binary.AppendVarint(buf, o.firstRecv)
		buf = binary.AppendVarint(buf, o.recvAt)
		buf = binary.BigEndian.AppendUint64(buf, o.nonce)
	case opVisibility:
		buf = binary.AppendVarint(buf, o.visibleAt)
	}
	return buf
}

// decodeOps calls fn for each op in b.
func decodeOps(b []byte, fn func(op)) error {
	for len(b) > 0 {
		var o op
		var n int
		o.kind = b[0]
		b = b[1:]
		if o.seq, n = binary.Uvarint(b); n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		idx, n := binary.Uvarint(b)
		if n <= 0 || idx > 0xffff {
			return errCorrupt
		}
		o.idx, b = uint16(idx), b[n:]
		switch o.kind {
		case opReceive:
			rc, n := binary.Uvarint(b)
			if n <= 0 {
				return errCorrupt
			}
			o.receives, b = uint32(rc), b[n:]
			for _, p := range []*int64{&o.visibleAt, &o.firstRecv, &o.recvAt} {
				if *p, n = binary.Varint(b); n <= 0 {
					return errCorrupt
				}
				b = b[n:]
			}
			if len(b) < 8 {
				return errCorrupt
			}
			o.nonce, b = binary.BigEndian.Uint64(b), b[8:]
		case opVisibility:
			if o.visibleAt, n = binary.Varint(b); n <= 0 {
				return errCorrupt
			}
			b = b[n:]
		case opDelete:
		default:
			return errCorrupt
		}
		fn(o)
	}
	return nil
}
