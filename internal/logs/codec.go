package logs

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Storage format. One JetStream message holds a batch of events of one log
// stream, so that one fsync covers many events:
//
//	subject: <prefix>.<token(group)>.<token(stream)>
//	data:    0x01 { varint(timestamp ms) uvarint(len) message }...
//
// token is base64.RawURLEncoding of the name; the message's stream time is
// the ingestion time. An event's position is seq<<16 | index within the
// message; it orders events and makes event ids and page tokens.

const formatV1 = 0x01

// maxEventsPerMsg keeps an event's index within the 16 bits of a position.
const maxEventsPerMsg = 10000

// token encodes a group or stream name as one subject token.
func token(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func untoken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err
}

// subjectFor returns the subject of a log stream.
func subjectFor(prefix, group, stream string) string {
	return prefix + "." + token(group) + "." + token(stream)
}

// groupFilter returns the subject filter matching every stream of group.
func groupFilter(prefix, group string) string { return prefix + "." + token(group) + ".*" }

// splitSubject returns the group and stream tokens of a subject.
func splitSubject(prefix, subj string) (groupTok, streamTok string, ok bool) {
	rest, found := strings.CutPrefix(subj, prefix+".")
	if !found {
		return "", "", false
	}
	groupTok, streamTok, ok = strings.Cut(rest, ".")
	return groupTok, streamTok, ok && groupTok != "" && streamTok != "" && !strings.Contains(streamTok, ".")
}

// event is one decoded log event.
type event struct {
	pos      uint64 // seq<<16 | index
	ts       int64  // ms since the epoch
	msg      []byte // aliases the stored message
	ingested int64  // ingestion time, ms since the epoch
}

func appendEvent(b []byte, ts int64, msg string) []byte {
	b = binary.AppendVarint(b, ts)
	b = binary.AppendUvarint(b, uint64(len(msg)))
	return append(b, msg...)
}

var errCorrupt = errors.New("corrupt log batch")

// decodeBatch calls fn for each event of a stored message; fn returns
// false to stop.
func decodeBatch(data []byte, seq uint64, ingested time.Time, fn func(e event) bool) error {
	if len(data) == 0 || data[0] != formatV1 {
		return errCorrupt
	}
	ing := ingested.UnixMilli()
	data = data[1:]
	for i := uint64(0); len(data) > 0; i++ {
		ts, n := binary.Varint(data)
		if n <= 0 {
			return errCorrupt
		}
		data = data[n:]
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return errCorrupt
		}
		msg := data[n : n+int(l) : n+int(l)]
		data = data[n+int(l):]
		if !fn(event{pos: seq<<16 | i, ts: ts, msg: msg, ingested: ing}) {
			return nil
		}
	}
	return nil
}

// batchTimes returns the first and the largest timestamp in a message.
func batchTimes(data []byte) (first, last int64, err error) {
	n := 0
	err = decodeBatch(data, 0, time.Time{}, func(e event) bool {
		if n == 0 {
			first, last = e.ts, e.ts
		}
		last = max(last, e.ts)
		n++
		return true
	})
	return first, last, err
}

func seqOf(pos uint64) uint64 { return pos >> 16 }

// Page tokens: "f/<pos>" reads forward from pos (inclusive), "b/<pos>"
// reads backward from pos (exclusive); FilterLogEvents uses "<pos>".
func formatToken(dir byte, pos uint64) string {
	return string([]byte{dir, '/'}) + strconv.FormatUint(pos, 10)
}

func parseToken(tok string) (dir byte, pos uint64, ok bool) {
	if len(tok) < 3 || tok[1] != '/' || (tok[0] != 'f' && tok[0] != 'b') {
		return 0, 0, false
	}
	pos, err := strconv.ParseUint(tok[2:], 10, 64)
	return tok[0], pos, err == nil
}
