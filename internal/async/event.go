package async

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Headers of queued messages. A message's body is a bundle (bundle.go);
// JetStream's headers steer de-duplication and message schedules.
const (
	hdrMsgID          = "Nats-Msg-Id"
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTarget = "Nats-Schedule-Target"
)

// event is one queued asynchronous invocation.
type event struct {
	Function  string
	Qualifier string // "" means $LATEST
	RequestID string
	TraceID   string
	Enqueued  time.Time
	Attempts  int // function-error attempts made before this delivery
	Invokes   int // invocations made before this delivery
	// Throttles counts the throttles and platform errors since the last
	// function error: the backoff doubles with each.
	Throttles int
	// LastStatus is the status code of the last failed attempt, 0 if none.
	LastStatus int
	// Disabled: accepted while the function had reserved concurrency 0.
	Disabled bool
	Payload  []byte
}

// eventSubject is where a bundle of n events of function fn is queued:
// <prefix>.ev.<function>.<n>. The count in the subject lets Backlog count
// events from the stream's per-subject totals without reading messages.
func (c Config) eventSubject(fn string, n int) string {
	return c.Subject + ".ev." + fn + "." + strconv.Itoa(n)
}

// scheduleSubject holds the pending retry (or backoff) of one event.
func (c Config) scheduleSubject(fn, requestID string) string {
	return c.Subject + ".sched." + fn + "." + requestID
}

// backlogOf returns the function and the number of events of a message on
// subj, "" if subj holds no events.
func (c Config) backlogOf(subj string) (fn string, n int) {
	evPrefix, schedPrefix := c.Subject+".ev.", c.Subject+".sched."
	switch {
	case strings.HasPrefix(subj, evPrefix):
		fn, count, ok := strings.Cut(subj[len(evPrefix):], ".")
		if n, err := strconv.Atoi(count); ok && err == nil && n > 0 {
			return fn, n
		}
		return fn, 1 // a message queued before bundles: one event
	case strings.HasPrefix(subj, schedPrefix):
		fn, _, _ := strings.Cut(subj[len(schedPrefix):], ".")
		return fn, 1
	}
	return "", 0
}

// continuationID is the Nats-Msg-Id of the message that carries ev on to
// its next attempt: a worker that dies after publishing it and before
// acknowledging its own message publishes the same continuation again,
// and the id makes that a no-op.
func (ev *event) continuationID() string {
	id := ev.RequestID + "-retry-" + strconv.Itoa(ev.Attempts)
	if ev.Throttles > 0 {
		id += "-backoff-" + strconv.Itoa(ev.Throttles)
	}
	return id
}

// decodeEvents returns the events of a queued message: a bundle, or one
// event in the headers of a message queued before bundles existed
// (a retry scheduled then may fire long after an upgrade).
func decodeEvents(h nats.Header, data []byte) ([]*event, error) {
	if _, ok := h[hdrLegacyFunction]; ok {
		ev, err := decodeLegacyEvent(h, data)
		if err != nil {
			return nil, err
		}
		return []*event{ev}, nil
	}
	return decodeBundle(data)
}

// Headers of an event queued before bundles: the body was the payload.
const (
	hdrLegacyFunction   = "Stratus-Function"
	hdrLegacyQualifier  = "Stratus-Qualifier"
	hdrLegacyRequestID  = "Stratus-Request-Id"
	hdrLegacyTraceID    = "Stratus-Trace-Id"
	hdrLegacyEnqueued   = "Stratus-Enqueued" // unix nanoseconds of acceptance
	hdrLegacyAttempts   = "Stratus-Attempts"
	hdrLegacyInvokes    = "Stratus-Invokes"
	hdrLegacyLastStatus = "Stratus-Last-Status"
	hdrLegacyDisabled   = "Stratus-Disabled"
)

// decodeLegacyEvent reads an event from a message's headers and body.
func decodeLegacyEvent(h nats.Header, data []byte) (*event, error) {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ev := &event{
		Function:  get(hdrLegacyFunction),
		Qualifier: get(hdrLegacyQualifier),
		RequestID: get(hdrLegacyRequestID),
		TraceID:   get(hdrLegacyTraceID),
		Disabled:  get(hdrLegacyDisabled) == "1",
		Payload:   data,
	}
	if ev.Function == "" || ev.RequestID == "" {
		return nil, fmt.Errorf("event without %s or %s header", hdrLegacyFunction, hdrLegacyRequestID)
	}
	ns, err := strconv.ParseInt(get(hdrLegacyEnqueued), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("event %s: bad %s header: %w", ev.RequestID, hdrLegacyEnqueued, err)
	}
	ev.Enqueued = time.Unix(0, ns)
	for _, f := range []struct {
		key string
		dst *int
	}{{hdrLegacyAttempts, &ev.Attempts}, {hdrLegacyInvokes, &ev.Invokes}, {hdrLegacyLastStatus, &ev.LastStatus}} {
		if v := get(f.key); v != "" {
			if *f.dst, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("event %s: bad %s header: %w", ev.RequestID, f.key, err)
			}
		}
	}
	return ev, nil
}
