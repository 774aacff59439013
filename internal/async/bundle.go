package async

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// A bundle is the body of a queued message: one or more events of one
// function, so that a group of concurrent InvokeAsync calls costs one
// JetStream write and one fsync. Version 1, integers as varints:
//
//	bundle = 0x01 count:uvarint event{count}
//	event  = flags:uvarint requestID function qualifier traceID
//	         enqueued:varint (unix nanoseconds)
//	         attempts invokes lastStatus throttles:uvarint
//	         payload
//	string, payload = length:uvarint bytes
//	flags  = bit 0: disabled
//
// A new field or meaning takes a new version byte; decodeBundle refuses
// versions and flags it does not know.
const bundleV1 = 0x01

const (
	flagDisabled = 1 << 0
	knownFlags   = flagDisabled
)

// minEventBytes is the smallest encoded event (every field empty or zero),
// which bounds the count a bundle of a given length can claim.
const minEventBytes = 11

// maxEventOverhead bounds what encoding adds to an event's strings and
// payload: the flags, nine lengths and numbers of at most 10 bytes each.
const maxEventOverhead = 1 + 9*binary.MaxVarintLen64

// encodedSize bounds the bytes ev takes in a bundle.
func (ev *event) encodedSize() int {
	return len(ev.RequestID) + len(ev.Function) + len(ev.Qualifier) + len(ev.TraceID) + len(ev.Payload) + maxEventOverhead
}

// encodeBundle encodes events as a bundle.
func encodeBundle(events []*event) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, ev := range events {
		n += ev.encodedSize()
	}
	b := make([]byte, 0, n)
	b = append(b, bundleV1)
	b = binary.AppendUvarint(b, uint64(len(events)))
	for _, ev := range events {
		var flags uint64
		if ev.Disabled {
			flags |= flagDisabled
		}
		b = binary.AppendUvarint(b, flags)
		for _, s := range []string{ev.RequestID, ev.Function, ev.Qualifier, ev.TraceID} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendVarint(b, ev.Enqueued.UnixNano())
		for _, v := range []int{ev.Attempts, ev.Invokes, ev.LastStatus, ev.Throttles} {
			b = binary.AppendUvarint(b, uint64(v))
		}
		b = binary.AppendUvarint(b, uint64(len(ev.Payload)))
		b = append(b, ev.Payload...)
	}
	return b
}

var errShortBundle = errors.New("bundle ends early")

// decodeBundle decodes a bundle. The events' payloads share data's
// memory. It returns an error, never panics, on any malformed input.
func decodeBundle(data []byte) ([]*event, error) {
	if len(data) == 0 {
		return nil, errShortBundle
	}
	if data[0] != bundleV1 {
		return nil, fmt.Errorf("unknown bundle format %#02x", data[0])
	}
	r := bundleReader{b: data[1:]}
	count := r.uvarint()
	if r.err == nil && (count == 0 || count > uint64(len(r.b)/minEventBytes)) {
		return nil, fmt.Errorf("bundle of %d bytes cannot hold %d events", len(data), count)
	}
	events := make([]*event, 0, count)
	for i := uint64(0); i < count && r.err == nil; i++ {
		ev := &event{}
		flags := r.uvarint()
		if flags&^knownFlags != 0 {
			return nil, fmt.Errorf("event %d of the bundle has unknown flags %#x", i, flags)
		}
		ev.Disabled = flags&flagDisabled != 0
		ev.RequestID = string(r.bytes())
		ev.Function = string(r.bytes())
		ev.Qualifier = string(r.bytes())
		ev.TraceID = string(r.bytes())
		ev.Enqueued = time.Unix(0, r.varint())
		ev.Attempts = r.int()
		ev.Invokes = r.int()
		ev.LastStatus = r.int()
		ev.Throttles = r.int()
		if p := r.bytes(); len(p) > 0 {
			ev.Payload = p[:len(p):len(p)]
		}
		if r.err == nil && (ev.Function == "" || ev.RequestID == "") {
			return nil, fmt.Errorf("event %d of the bundle has no function or request id", i)
		}
		events = append(events, ev)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) > 0 {
		return nil, fmt.Errorf("bundle has %d bytes after its %d events", len(r.b), count)
	}
	return events, nil
}

// bundleReader reads a bundle's fields; after the first error every read
// returns zero and err keeps that error.
type bundleReader struct {
	b   []byte
	err error
}

func (r *bundleReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortBundle
		if n < 0 {
			r.err = errors.New("bundle has a number out of range")
		}
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *bundleReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortBundle
		if n < 0 {
			r.err = errors.New("bundle has a number out of range")
		}
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a count or a status: a non-negative int32.
func (r *bundleReader) int() int {
	v := r.uvarint()
	if v > math.MaxInt32 {
		r.err = fmt.Errorf("bundle has a count %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *bundleReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShortBundle
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}
