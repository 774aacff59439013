package async

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func testEvents() []*event {
	return []*event{
		{Function: "fn", RequestID: "11111111-2222-4333-8444-555555555555", Enqueued: time.Unix(1700000000, 123456789),
			Payload: []byte(`{"hello":"world"}`)},
		{Function: "fn", Qualifier: "live", RequestID: "r2", TraceID: "Root=1-abc", Enqueued: time.Unix(0, -5),
			Attempts: 2, Invokes: 3, Throttles: 4, LastStatus: 200, Disabled: true, Payload: bytes.Repeat([]byte{0, 0xff}, 300)},
		{Function: "other", RequestID: "r3", Enqueued: time.Unix(0, 0)},
	}
}

// sameEvents compares events field by field (times by instant, an empty
// payload equal to none).
func sameEvents(t *testing.T, got, want []*event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := *got[i], *want[i]
		if !g.Enqueued.Equal(w.Enqueued) {
			t.Errorf("event %d enqueued %v, want %v", i, g.Enqueued, w.Enqueued)
		}
		if !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("event %d payload %q, want %q", i, g.Payload, w.Payload)
		}
		g.Enqueued, w.Enqueued, g.Payload, w.Payload = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestBundleRoundTrip(t *testing.T) {
	want := testEvents()
	b := encodeBundle(want)
	max := 1 + 10
	for _, ev := range want {
		max += ev.encodedSize()
	}
	if len(b) > max {
		t.Errorf("bundle of %d bytes, more than the %d encodedSize allows", len(b), max)
	}
	got, err := decodeBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, want)
	// A payload must not reach into the next event's bytes.
	if p := got[0].Payload; cap(p) != len(p) {
		t.Errorf("payload capacity %d beyond its length %d", cap(p), len(p))
	}
}

func TestDecodeBundleRejects(t *testing.T) {
	good := encodeBundle(testEvents()[:1])
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "ends early"},
		{"unknown version", append([]byte{2}, good[1:]...), "unknown bundle format"},
		{"no events", []byte{bundleV1, 0}, "cannot hold 0 events"},
		{"count beyond length", []byte{bundleV1, 200, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "cannot hold"},
		{"truncated", good[:len(good)-3], "ends early"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "after its 1 events"},
		{"unknown flags", append([]byte{bundleV1, 1, 2}, good[3:]...), "unknown flags"},
		{"no function", encodeBundle([]*event{{RequestID: "r"}}), "no function"},
		{"count out of range", encodeBundle([]*event{{Function: "f", RequestID: "r", Attempts: 1 << 40}}), "out of range"},
		{"overlong varint", []byte{bundleV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeBundle(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestDecodeEventsReadsLegacyHeaders(t *testing.T) {
	h := nats.Header{
		hdrLegacyFunction: {"fn"}, hdrLegacyRequestID: {"r1"}, hdrLegacyEnqueued: {"1700000000000000000"},
		hdrLegacyAttempts: {"1"}, hdrLegacyInvokes: {"2"}, hdrLegacyLastStatus: {"200"}, hdrLegacyDisabled: {"1"},
		hdrLegacyQualifier: {"3"},
	}
	got, err := decodeEvents(h, []byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, []*event{{Function: "fn", Qualifier: "3", RequestID: "r1", Enqueued: time.Unix(1700000000, 0),
		Attempts: 1, Invokes: 2, LastStatus: 200, Disabled: true, Payload: []byte(`"x"`)}})
	if _, err := decodeEvents(nats.Header{hdrLegacyFunction: {"fn"}}, nil); err == nil {
		t.Error("a legacy event without a request id decoded")
	}
}

// FuzzDecodeBundle: decoding never panics, and what decodes encodes to
// a bundle that decodes to the same events.
func FuzzDecodeBundle(f *testing.F) {
	f.Add(encodeBundle(testEvents()))
	f.Add(encodeBundle(testEvents()[:1]))
	f.Add([]byte{bundleV1, 1, 0, 1, 'r', 1, 'f', 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := decodeBundle(data)
		if err != nil {
			return
		}
		again, err := decodeBundle(encodeBundle(events))
		if err != nil {
			t.Fatalf("re-encoded bundle does not decode: %v", err)
		}
		sameEvents(t, again, events)
	})
}
