package async

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Headers of a queued event. The body is the event payload, unchanged.
const (
	hdrMsgID     = "Nats-Msg-Id"
	hdrFunction  = "Stratus-Function"
	hdrQualifier = "Stratus-Qualifier"
	hdrRequestID = "Stratus-Request-Id"
	hdrTraceID   = "Stratus-Trace-Id"
	hdrEnqueued  = "Stratus-Enqueued" // unix nanoseconds of acceptance
	hdrAttempts  = "Stratus-Attempts" // function-error attempts so far
	hdrInvokes   = "Stratus-Invokes"  // invocations so far (approximateInvokeCount)
	// hdrLastStatus is the status of the last failed attempt (200 for a
	// function error), for the record of an event that expires later.
	hdrLastStatus = "Stratus-Last-Status"
	// hdrDisabled marks an event accepted while its function had reserved
	// concurrency 0: it goes straight to the DLQ / on-failure destination
	// if the function is still disabled when it is attempted.
	hdrDisabled = "Stratus-Disabled"

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
	// LastStatus is the status code of the last failed attempt, 0 if none.
	LastStatus int
	// Disabled: accepted while the function had reserved concurrency 0.
	Disabled bool
	Payload  []byte
}

// eventSubject is where events of function fn are queued.
func (s *Service) eventSubject(fn string) string { return s.cfg.Subject + ".ev." + fn }

// scheduleSubject holds the pending retry of one event.
func (s *Service) scheduleSubject(fn, requestID string) string {
	return s.cfg.Subject + ".sched." + fn + "." + requestID
}

// message encodes ev for publishing on subject.
func (ev *event) message(subject string) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: ev.Payload, Header: make(nats.Header, 10)}
	h := m.Header
	h[hdrFunction] = []string{ev.Function}
	if ev.Qualifier != "" {
		h[hdrQualifier] = []string{ev.Qualifier}
	}
	h[hdrRequestID] = []string{ev.RequestID}
	if ev.TraceID != "" {
		h[hdrTraceID] = []string{ev.TraceID}
	}
	h[hdrEnqueued] = []string{strconv.FormatInt(ev.Enqueued.UnixNano(), 10)}
	if ev.Attempts > 0 {
		h[hdrAttempts] = []string{strconv.Itoa(ev.Attempts)}
	}
	if ev.Invokes > 0 {
		h[hdrInvokes] = []string{strconv.Itoa(ev.Invokes)}
	}
	if ev.LastStatus > 0 {
		h[hdrLastStatus] = []string{strconv.Itoa(ev.LastStatus)}
	}
	if ev.Disabled {
		h[hdrDisabled] = []string{"1"}
	}
	return m
}

// decodeEvent reads an event from a message's headers and body.
func decodeEvent(h nats.Header, data []byte) (*event, error) {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ev := &event{
		Function:  get(hdrFunction),
		Qualifier: get(hdrQualifier),
		RequestID: get(hdrRequestID),
		TraceID:   get(hdrTraceID),
		Disabled:  get(hdrDisabled) == "1",
		Payload:   data,
	}
	if ev.Function == "" || ev.RequestID == "" {
		return nil, fmt.Errorf("event without %s or %s header", hdrFunction, hdrRequestID)
	}
	ns, err := strconv.ParseInt(get(hdrEnqueued), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("event %s: bad %s header: %w", ev.RequestID, hdrEnqueued, err)
	}
	ev.Enqueued = time.Unix(0, ns)
	for _, f := range []struct {
		key string
		dst *int
	}{{hdrAttempts, &ev.Attempts}, {hdrInvokes, &ev.Invokes}, {hdrLastStatus, &ev.LastStatus}} {
		if v := get(f.key); v != "" {
			if *f.dst, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("event %s: bad %s header: %w", ev.RequestID, f.key, err)
			}
		}
	}
	return ev, nil
}
