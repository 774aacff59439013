package sqs

import (
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// knownAttr reports whether name is a queue attribute GetQueueAttributes
// knows.
func knownAttr(name string) bool {
	if _, ok := intAttrs[name]; ok || fifoOnlyAttrs[name] || slices.Contains(readOnlyAttrs, name) {
		return true
	}
	switch name {
	case attrPolicy, attrRedrivePolicy, attrRedriveAllowPolicy, attrKmsMasterKeyID, attrSqsManagedSseEnabled:
		return true
	}
	return false
}

// GetQueueAttributes returns the named attributes ("All" for every one)
// that the queue has. Unknown names are InvalidAttributeName.
func (s *Service) GetQueueAttributes(name string, names []string) (map[string]string, error) {
	eng, err := s.engine(name)
	if err != nil {
		return nil, err
	}
	rec, err := s.record(name)
	if err != nil {
		return nil, err
	}
	all := false
	for _, n := range names {
		if n == "All" {
			all = true
		} else if !knownAttr(n) {
			return nil, errAttrName(n)
		}
	}
	out := make(map[string]string)
	if len(names) == 0 {
		return out, nil
	}
	v, f, d := eng.counts()
	values := maps.Clone(rec.Attrs)
	values[attrApproximateNumberOfMessages] = strconv.FormatInt(v, 10)
	values[attrApproximateNumberOfMessagesNotVisible] = strconv.FormatInt(f, 10)
	values[attrApproximateNumberOfMessagesDelayed] = strconv.FormatInt(d, 10)
	values[attrCreatedTimestamp] = strconv.FormatInt(rec.Created.Unix(), 10)
	values[attrLastModifiedTimestamp] = strconv.FormatInt(rec.Modified.Unix(), 10)
	values[attrQueueArn] = s.queueARN(name)
	if all {
		return values, nil
	}
	for _, n := range names {
		if val, ok := values[n]; ok {
			out[n] = val
		}
	}
	return out, nil
}

// page is one page of a listing.
type page struct {
	Names []string
	Next  string // token of the next page, "" at the end
}

// listPage pages through sorted names. maxResults 0 returns up to 1000
// names without a token, as SQS does when MaxResults is absent.
func listPage(names []string, maxResults int, token string) (page, error) {
	slices.Sort(names)
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return page{}, errInvalidParam("Invalid NextToken value.")
		}
		start, _ = slices.BinarySearch(names, string(after)+"\x00")
	}
	names = names[start:]
	if maxResults == 0 {
		return page{Names: names[:min(len(names), maxListResults)]}, nil
	}
	if maxResults < 1 || maxResults > maxListResults {
		return page{}, errParamValue(maxResults, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
	}
	if len(names) <= maxResults {
		return page{Names: names}, nil
	}
	names = names[:maxResults]
	return page{Names: names, Next: base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))}, nil
}

// ListQueues lists live queues whose names start with prefix.
func (s *Service) ListQueues(prefix string, maxResults int, token string) (page, error) {
	var names []string
	s.mu.RLock()
	for name, qe := range s.queues {
		if qe.rec.Deleted.IsZero() && strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	s.mu.RUnlock()
	return listPage(names, maxResults, token)
}

// ListDeadLetterSourceQueues lists the queues whose redrive policy names
// queue name as their dead-letter queue.
func (s *Service) ListDeadLetterSourceQueues(name string, maxResults int, token string) (page, error) {
	if _, err := s.record(name); err != nil {
		return page{}, err
	}
	arn := s.queueARN(name)
	var names []string
	s.mu.RLock()
	for n, qe := range s.queues {
		if !qe.rec.Deleted.IsZero() {
			continue
		}
		if rp := qe.rec.Attrs[attrRedrivePolicy]; rp != "" {
			if p, err := parseRedrivePolicy(rp); err == nil && p.DeadLetterTargetArn == arn {
				names = append(names, n)
			}
		}
	}
	s.mu.RUnlock()
	return listPage(names, maxResults, token)
}

// ListQueueTags returns a queue's tags.
func (s *Service) ListQueueTags(name string) (map[string]string, error) {
	rec, err := s.record(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(rec.Tags), nil
}

// QueueExists reports whether a live queue has this name.
func (s *Service) QueueExists(name string) bool {
	_, err := s.record(name)
	return err == nil
}
