package logs

import (
	"context"
	"strconv"
	"time"
)

const (
	maxEventsLimit = 10000
	maxPageBytes   = 1 << 20 // AWS: a page holds up to 1 MB of events
	eventOverhead  = 26      // AWS counts each event's size as message + 26 bytes
)

type getLogEventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          int64  `json:"startTime"`
	EndTime            int64  `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              int    `json:"limit"`
	StartFromHead      bool   `json:"startFromHead"`
}

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// timeWindow holds startTime (inclusive) and endTime (exclusive); zero
// means unbounded.
type timeWindow struct{ start, end int64 }

func (tw timeWindow) contains(ts int64) bool {
	return (tw.start == 0 || ts >= tw.start) && (tw.end == 0 || ts < tw.end)
}

// scanStart returns where a scan for events at or after tw.start may
// begin: that much earlier than the start, for clock skew.
func (l *Logs) scanStart(tw timeWindow) time.Time {
	if tw.start == 0 {
		return time.Time{}
	}
	return time.UnixMilli(tw.start).Add(-l.cfg.MaxClockSkew)
}

// getLogEvents reads one stream. Forward ("f/<pos>" or startFromHead) it
// returns the first events from pos; backward ("b/<pos>", the default) it
// returns the last events before pos, found by scanning forward and
// keeping the newest. At the end of the stream the token passed in is
// returned unchanged, which is how AWS clients detect the end.
func (l *Logs) getLogEvents(ctx context.Context, in *getLogEventsInput) (*getLogEventsOutput, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == "" {
		return nil, invalidParam("logStreamName must be specified.")
	}
	limit, err := checkLimit(in.Limit, maxEventsLimit, maxEventsLimit)
	if err != nil {
		return nil, err
	}
	if in.StartTime < 0 || in.EndTime < 0 {
		return nil, invalidParam("startTime and endTime must not be negative.")
	}
	dir, pos := byte('b'), uint64(0)
	if in.NextToken != "" {
		var ok bool
		if dir, pos, ok = parseToken(in.NextToken); !ok {
			return nil, invalidToken()
		}
	} else if in.StartFromHead {
		dir = 'f'
	}
	subj := subjectFor(l.cfg.SubjectPrefix, group, in.LogStreamName)
	if last, err := l.lastMsg(ctx, subj); err != nil {
		return nil, err
	} else if last == nil {
		if ok, err := l.groupExists(ctx, group); err != nil {
			return nil, err
		} else if !ok {
			return nil, groupNotFound()
		}
		return nil, streamNotFound()
	}
	tw := timeWindow{in.StartTime, in.EndTime}
	opts := scanOpts{filter: subj}
	if dir == 'f' {
		opts.from = seqOf(pos)
	} else if pos > 0 {
		opts.upTo = seqOf(pos)
	}
	if opts.from == 0 {
		opts.startTime = l.scanStart(tw)
	}
	var evs []event
	var next uint64
	switch {
	case dir == 'f':
		evs, next, err = l.readForward(ctx, opts, pos, tw, limit)
	case pos == 0 && in.NextToken != "": // "b/0": nothing lies before it
	default:
		evs, next, err = l.readBackward(ctx, opts, pos, tw, limit)
	}
	if err != nil {
		return nil, err
	}
	out := &getLogEventsOutput{Events: make([]outputLogEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, outputLogEvent{Timestamp: e.ts, Message: string(e.msg), IngestionTime: e.ingested})
	}
	switch {
	case len(evs) > 0:
		out.NextForwardToken = formatToken('f', evs[len(evs)-1].pos+1)
		out.NextBackwardToken = formatToken('b', evs[0].pos)
	case in.NextToken != "":
		out.NextForwardToken, out.NextBackwardToken = formatToken('f', pos), formatToken('b', pos)
	default:
		out.NextForwardToken, out.NextBackwardToken = formatToken('f', next<<16), formatToken('b', next<<16)
	}
	return out, nil
}

// readForward returns up to limit events at or after pos within tw, and
// the sequence where the scan ended.
func (l *Logs) readForward(ctx context.Context, o scanOpts, pos uint64, tw timeWindow, limit int) ([]event, uint64, error) {
	var evs []event
	size := 0
	next, _, err := l.scan(ctx, o, func(m *rawMsg) bool {
		full := false
		_ = decodeBatch(m.data, m.seq, m.time, func(e event) bool {
			if e.pos < pos || !tw.contains(e.ts) {
				return true
			}
			if len(evs) >= limit || size+len(e.msg)+eventOverhead > maxPageBytes {
				full = true
				return false
			}
			evs = append(evs, e)
			size += len(e.msg) + eventOverhead
			return true
		})
		return !full
	})
	return evs, next, err
}

// readBackward returns the last limit events before end (0: no end)
// within tw, and the sequence where the scan ended.
func (l *Logs) readBackward(ctx context.Context, o scanOpts, end uint64, tw timeWindow, limit int) ([]event, uint64, error) {
	ring := make([]event, 0, min(limit, 1024))
	head := 0 // index of the oldest event once the ring is full
	next, _, err := l.scan(ctx, o, func(m *rawMsg) bool {
		_ = decodeBatch(m.data, m.seq, m.time, func(e event) bool {
			if end > 0 && e.pos >= end {
				return false
			}
			if !tw.contains(e.ts) {
				return true
			}
			if len(ring) < limit {
				ring = append(ring, e)
			} else {
				ring[head] = e
				head = (head + 1) % limit
			}
			return true
		})
		return true
	})
	evs := append(ring[head:len(ring):len(ring)], ring[:head]...)
	// Keep the newest events that fit in a page.
	size, i := 0, len(evs)
	for i > 0 && size+len(evs[i-1].msg)+eventOverhead <= maxPageBytes {
		size += len(evs[i-1].msg) + eventOverhead
		i--
	}
	return evs[i:], next, err
}

// FilterLogEventsRequest is the input of FilterLogEvents (AWS's fields
// that Stratus supports; interleaved is accepted and ignored).
type FilterLogEventsRequest struct {
	LogGroupName        string   `json:"logGroupName,omitempty"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier,omitempty"`
	LogStreamNames      []string `json:"logStreamNames,omitempty"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix,omitempty"`
	StartTime           int64    `json:"startTime,omitempty"` // ms since the epoch, inclusive
	EndTime             int64    `json:"endTime,omitempty"`   // ms since the epoch, exclusive
	FilterPattern       string   `json:"filterPattern,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
	Limit               int      `json:"limit,omitempty"`
	Interleaved         bool     `json:"interleaved,omitempty"`
}

// FilteredLogEvent is one event found by FilterLogEvents.
type FilteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// FilterLogEventsResponse is the output of FilterLogEvents. NextToken is
// empty when the search is complete; a page may be empty and still have a
// NextToken when the scan budget ran out.
type FilterLogEventsResponse struct {
	Events    []FilteredLogEvent `json:"events"`
	NextToken string             `json:"nextToken,omitempty"`
}

// filterLogEvents searches a group's streams in ingestion order (close
// to, but unlike AWS not strictly, timestamp order across streams),
// reading at most Config.ScanMessages stored messages per call.
func (l *Logs) filterLogEvents(ctx context.Context, in *FilterLogEventsRequest) (*FilterLogEventsResponse, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, maxEventsLimit, maxEventsLimit)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalidParam("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalidParam("logStreamNames must have at most 100 members.")
	}
	if in.StartTime < 0 || in.EndTime < 0 {
		return nil, invalidParam("startTime and endTime must not be negative.")
	}
	pt, err := parsePattern(in.FilterPattern)
	if err != nil {
		return nil, err
	}
	var start uint64
	if in.NextToken != "" {
		dir, pos, ok := parseToken(in.NextToken)
		if !ok || dir != 'f' {
			return nil, invalidToken()
		}
		start = pos
	}
	if ok, err := l.groupExists(ctx, group); err != nil {
		return nil, err
	} else if !ok {
		return nil, groupNotFound()
	}
	tw := timeWindow{in.StartTime, in.EndTime}
	o := scanOpts{filter: groupFilter(l.cfg.SubjectPrefix, group), from: seqOf(start), max: l.cfg.ScanMessages}
	if len(in.LogStreamNames) == 1 {
		o.filter = subjectFor(l.cfg.SubjectPrefix, group, in.LogStreamNames[0])
	}
	if o.from == 0 {
		o.startTime = l.scanStart(tw)
	}
	streams := newStreamSelector(l.cfg.SubjectPrefix, in.LogStreamNames, in.LogStreamNamePrefix)
	out := &FilterLogEventsResponse{Events: []FilteredLogEvent{}}
	size, full := 0, false
	next, more, err := l.scan(ctx, o, func(m *rawMsg) bool {
		name, ok := streams.match(m.subject)
		if !ok {
			return true
		}
		_ = decodeBatch(m.data, m.seq, m.time, func(e event) bool {
			if e.pos < start || !tw.contains(e.ts) || !pt.match(e.msg) {
				return true
			}
			if len(out.Events) >= limit || size+len(e.msg)+eventOverhead > maxPageBytes {
				full = true
				out.NextToken = formatToken('f', e.pos)
				return false
			}
			size += len(e.msg) + eventOverhead
			out.Events = append(out.Events, FilteredLogEvent{LogStreamName: name, Timestamp: e.ts,
				Message: string(e.msg), IngestionTime: e.ingested, EventID: strconv.FormatUint(e.pos, 10)})
			return true
		})
		return !full
	})
	if err != nil {
		return nil, err
	}
	if more && !full {
		out.NextToken = formatToken('f', next<<16)
	}
	return out, nil
}

// streamSelector decides which subjects of a group a filter reads.
type streamSelector struct {
	prefix string            // subject prefix
	names  map[string]string // stream token -> name, for logStreamNames
	namePf string            // logStreamNamePrefix
	cache  map[string]string // stream token -> name, or "\x00" if excluded
}

func newStreamSelector(prefix string, names []string, namePrefix string) *streamSelector {
	s := &streamSelector{prefix: prefix, namePf: namePrefix, cache: make(map[string]string)}
	if len(names) > 0 {
		s.names = make(map[string]string, len(names))
		for _, n := range names {
			s.names[token(n)] = n
		}
	}
	return s
}

// match returns the stream name of subj and whether it is selected.
func (s *streamSelector) match(subj string) (string, bool) {
	_, stok, ok := splitSubject(s.prefix, subj)
	if !ok {
		return "", false
	}
	if name, ok := s.cache[stok]; ok {
		return name, name != "\x00"
	}
	name, err := untoken(stok)
	switch {
	case err != nil,
		s.names != nil && s.names[stok] == "",
		s.namePf != "" && len(name) < len(s.namePf),
		s.namePf != "" && name[:len(s.namePf)] != s.namePf:
		name = "\x00"
	}
	s.cache[stok] = name
	return name, name != "\x00"
}
