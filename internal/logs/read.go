package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawMsg is a stored message as a scan returns it.
type rawMsg struct {
	subject string
	seq     uint64
	time    time.Time
	data    []byte
}

// scanOpts selects the messages of a scan.
type scanOpts struct {
	filter    string    // subject filter, may contain wildcards
	from      uint64    // first sequence; 0 means the start of the stream
	startTime time.Time // if from is 0: begin at the first message stored at or after it
	upTo      uint64    // last sequence to read; 0 means the end
	max       int       // messages to read at most; 0 means no limit
}

// directGetRequest is JetStream's direct get request with batch support
// (nats-server 2.11+; nats.go does not expose batches).
type directGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
}

// Headers of direct get replies.
const (
	hdrSubject    = "Nats-Subject"
	hdrSequence   = "Nats-Sequence"
	hdrTimeStamp  = "Nats-Time-Stamp"
	hdrNumPending = "Nats-Num-Pending"
)

const (
	scanBatch    = 256
	scanMaxBytes = 8 << 20
	scanTimeout  = 10 * time.Second
)

var errStopped = errors.New("scan stopped")

// scan calls fn for the stored messages selected by o, in sequence order,
// until fn returns false. It returns the sequence after the last message
// read and whether more messages remain (the scan hit o.max or fn
// stopped it).
func (l *Logs) scan(ctx context.Context, o scanOpts, fn func(m *rawMsg) bool) (next uint64, more bool, err error) {
	sub, err := l.nc.SubscribeSync(l.nc.NewRespInbox())
	if err != nil {
		return 0, false, fmt.Errorf("subscribing for a scan: %w", err)
	}
	defer sub.Unsubscribe()
	subject := "$JS.API.DIRECT.GET." + l.cfg.Stream
	next, read := o.from, 0
	for {
		req := directGetRequest{Seq: next, NextFor: o.filter, Batch: scanBatch, MaxBytes: scanMaxBytes}
		if next == 0 && !o.startTime.IsZero() {
			t := o.startTime.UTC()
			req.StartTime = &t
		}
		if o.max > 0 {
			req.Batch = min(req.Batch, o.max-read)
		}
		body, _ := json.Marshal(req)
		if err := l.nc.PublishRequest(subject, sub.Subject, body); err != nil {
			return next, false, fmt.Errorf("requesting messages of %s: %w", o.filter, err)
		}
		pending, err := l.readBatch(ctx, sub, func(m *rawMsg) bool {
			if o.upTo > 0 && m.seq > o.upTo {
				return false
			}
			next = m.seq + 1
			read++
			return fn(m)
		})
		if errors.Is(err, errStopped) {
			return next, true, nil
		} else if err != nil {
			return next, false, err
		}
		if pending == 0 || (o.upTo > 0 && next > o.upTo) {
			return next, false, nil
		}
		if o.max > 0 && read >= o.max {
			return next, true, nil
		}
	}
}

// readBatch reads one batch of direct get replies; it returns the number
// of matching messages still pending after the batch.
func (l *Logs) readBatch(ctx context.Context, sub *nats.Subscription, fn func(m *rawMsg) bool) (pending uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, scanTimeout)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, fmt.Errorf("reading messages: %w", err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of batch
			n, _ := strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			return n, nil
		case "404":
			return 0, nil
		default:
			return 0, fmt.Errorf("reading messages: status %s %s", status, m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading messages: bad sequence header: %w", err)
		}
		ts, err := time.Parse(time.RFC3339Nano, m.Header.Get(hdrTimeStamp))
		if err != nil {
			return 0, fmt.Errorf("reading messages: bad time stamp header: %w", err)
		}
		raw := rawMsg{subject: m.Header.Get(hdrSubject), seq: seq, time: ts, data: m.Data}
		if !fn(&raw) {
			return 0, errStopped
		}
	}
}

// subjects returns the subjects matching filter with their message counts.
func (l *Logs) subjects(ctx context.Context, filter string) (map[string]uint64, error) {
	info, err := l.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("listing subjects %s: %w", filter, err)
	}
	return info.State.Subjects, nil
}

// firstMsg returns the first stored message matching filter, or nil.
func (l *Logs) firstMsg(ctx context.Context, filter string) (*jetstream.RawStreamMsg, error) {
	m, err := l.stream.GetMsg(ctx, 0, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading first message of %s: %w", filter, err)
	}
	return m, nil
}

// lastMsg returns the last stored message of a literal subject, or nil.
func (l *Logs) lastMsg(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := l.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading last message of %s: %w", subject, err)
	}
	return m, nil
}

// streamInfo describes one log stream.
type streamInfo struct {
	name                                           string
	creation, firstEvent, lastEvent, lastIngestion int64 // ms since the epoch
}

// describeStream reads the first and last message of a log stream.
func (l *Logs) describeStream(ctx context.Context, group, name string) (streamInfo, error) {
	subj := subjectFor(l.cfg.SubjectPrefix, group, name)
	si := streamInfo{name: name}
	first, err := l.firstMsg(ctx, subj)
	if err != nil || first == nil {
		return si, err
	}
	last, err := l.lastMsg(ctx, subj)
	if err != nil || last == nil {
		return si, err
	}
	si.creation, si.lastIngestion = first.Time.UnixMilli(), last.Time.UnixMilli()
	si.firstEvent, _, _ = batchTimes(first.Data)
	_, si.lastEvent, _ = batchTimes(last.Data)
	return si, nil
}
