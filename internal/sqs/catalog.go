package sqs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// queueRecord is a queue as the catalog bucket stores it (JSON under
// "q.<name>"). A deleted queue leaves a tombstone (Deleted set) that
// blocks its name for Config.DeletedNameBlock.
type queueRecord struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"` // 16 hex digits: the stream is SQS_<id>
	Created  time.Time         `json:"created"`
	Modified time.Time         `json:"modified"`
	Attrs    map[string]string `json:"attrs"`
	Tags     map[string]string `json:"tags,omitempty"`
	Deleted  time.Time         `json:"deleted,omitzero"`
}

func (r *queueRecord) idBytes() ([8]byte, error) {
	var id [8]byte
	b, err := hex.DecodeString(r.ID)
	if err != nil || len(b) != 8 {
		return id, fmt.Errorf("queue %s has an invalid id %q", r.Name, r.ID)
	}
	copy(id[:], b)
	return id, nil
}

func (r *queueRecord) clone() *queueRecord {
	c := *r
	c.Attrs = maps.Clone(r.Attrs)
	c.Tags = maps.Clone(r.Tags)
	return &c
}

func (r *queueRecord) fifo() bool { return r.Attrs[attrFifoQueue] == "true" }

// watch applies catalog changes to the cache until the watcher stops. It
// closes ready once the initial values are loaded, and s.done when it
// returns. Changes made by this node are already cached and are skipped.
func (s *Service) watch(ready chan<- struct{}) {
	defer close(s.done)
	for e := range s.watcher.Updates() {
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		s.apply(e, ready == nil)
	}
}

// apply brings one catalog entry into the cache; after the initial load
// (live) it also opens, reconfigures or closes engines for changes made
// by other nodes.
func (s *Service) apply(e jetstream.KeyValueEntry, live bool) {
	name := strings.TrimPrefix(e.Key(), queueKeyPrefix)
	var rec *queueRecord
	if e.Operation() == jetstream.KeyValuePut {
		rec = new(queueRecord)
		if err := json.Unmarshal(e.Value(), rec); err != nil {
			s.log.Error("skipping an undecodable queue record", "key", e.Key(), "err", err)
			return
		}
	}
	s.mu.Lock()
	cur := s.queues[name]
	if cur != nil && cur.rev >= e.Revision() {
		s.mu.Unlock()
		return
	}
	var old *engine
	if cur != nil {
		old = cur.eng
	}
	if rec == nil {
		delete(s.queues, name)
	} else {
		s.queues[name] = &queueEntry{rec: rec, rev: e.Revision(), eng: old}
	}
	s.mu.Unlock()
	if !live {
		return
	}
	// Another node changed the queue.
	switch {
	case old != nil && (rec == nil || !rec.Deleted.IsZero() || rec.ID != cur.rec.ID):
		old.close()
		s.mu.Lock()
		if qe := s.queues[name]; qe != nil && qe.eng == old {
			qe.eng = nil
		}
		s.mu.Unlock()
		if rec != nil && rec.Deleted.IsZero() {
			s.openRemote(rec)
		}
	case old != nil:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := old.setConfig(ctx, parseConfig(rec.Attrs)); err != nil {
			s.log.Error("applying changed queue attributes", "queue", name, "err", err)
		}
		cancel()
	case rec != nil && rec.Deleted.IsZero():
		s.openRemote(rec)
	}
}

// openRemote opens the engine of a queue created by another node.
func (s *Service) openRemote(rec *queueRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := s.openEngine(ctx, rec)
	if err != nil {
		s.log.Error("opening a queue created elsewhere", "queue", rec.Name, "err", err)
		return
	}
	s.mu.Lock()
	qe := s.queues[rec.Name]
	if qe != nil && qe.rec.ID == rec.ID && qe.eng == nil && qe.rec.Deleted.IsZero() {
		qe.eng, eng = eng, nil
	}
	s.mu.Unlock()
	if eng != nil {
		eng.close()
	}
}

func newQueueID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateQueue creates a queue, or does nothing if a queue of that name
// exists and every given attribute has the value it has there
// (QueueNameExists otherwise). A name deleted less than
// Config.DeletedNameBlock ago is QueueDeletedRecently.
func (s *Service) CreateQueue(ctx context.Context, name string, attrs, tags map[string]string) error {
	fifo := false
	if v, ok := attrs[attrFifoQueue]; ok && strings.EqualFold(v, "true") {
		fifo = true
	}
	if !validQueueName(name, fifo) {
		if fifo {
			return errInvalidParam("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
		}
		return errInvalidParam("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	stored := defaultAttrs(fifo)
	if err := applyAttrs(stored, attrs, fifo, true); err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	if err := s.checkRedrive(name, fifo, stored); err != nil {
		return err
	}
	s.mu.RLock()
	cur := s.queues[name]
	s.mu.RUnlock()
	var prevRev uint64
	if cur != nil {
		if cur.rec.Deleted.IsZero() {
			return sameAttributes(cur.rec, stored, attrs)
		}
		if s.cfg.Now().Sub(cur.rec.Deleted) < s.cfg.DeletedNameBlock {
			return sqsErr(stratus.EINVALID, "QueueDeletedRecently",
				"You must wait 60 seconds after deleting a queue before you can create another with the same name.")
		}
		prevRev = cur.rev
	}
	now := s.cfg.Now().UTC()
	rec := &queueRecord{Name: name, ID: newQueueID(), Created: now, Modified: now, Attrs: stored, Tags: tags}
	if len(rec.Tags) == 0 {
		rec.Tags = nil
	}
	eng, err := s.openEngine(ctx, rec)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(rec)
	var rev uint64
	if prevRev == 0 {
		rev, err = s.kv.Create(ctx, queueKeyPrefix+name, data)
	} else {
		rev, err = s.kv.Update(ctx, queueKeyPrefix+name, data, prevRev)
	}
	if err != nil {
		eng.close()
		s.dropStream(ctx, rec)
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongRevision(err) {
			// Created concurrently: answer as if it had been there.
			if cur, err := s.reload(ctx, name); err == nil && cur.Deleted.IsZero() {
				return sameAttributes(cur, stored, attrs)
			}
			return sqsErr(stratus.EUNAVAILABLE, "ServiceUnavailable", "The queue %s is being changed concurrently; retry the request.", name)
		}
		return fmt.Errorf("storing queue %s: %w", name, err)
	}
	s.mu.Lock()
	old := s.queues[name]
	s.queues[name] = &queueEntry{rec: rec, rev: rev, eng: eng}
	s.mu.Unlock()
	if old != nil && old.eng != nil {
		old.eng.close()
	}
	return nil
}

// sameAttributes answers CreateQueue for an existing queue.
func sameAttributes(cur *queueRecord, stored, given map[string]string) error {
	for name := range given {
		if name == attrFifoQueue && !cur.fifo() && !strings.EqualFold(given[name], "true") {
			continue
		}
		if cur.Attrs[name] != stored[name] {
			return sqsErr(stratus.ECONFLICT, "QueueNameExists",
				"A queue already exists with the same name and a different value for attribute %s", name)
		}
	}
	return nil
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// reload reads a queue record from the bucket into the cache.
func (s *Service) reload(ctx context.Context, name string) (*queueRecord, error) {
	e, err := s.kv.Get(ctx, queueKeyPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading queue %s: %w", name, err)
	}
	rec := new(queueRecord)
	if err := json.Unmarshal(e.Value(), rec); err != nil {
		return nil, fmt.Errorf("decoding queue %s: %w", name, err)
	}
	return rec, nil
}

// dropStream deletes a queue's stream (after a deletion, or a failed
// create).
func (s *Service) dropStream(ctx context.Context, rec *queueRecord) {
	id, err := rec.idBytes()
	if err != nil {
		return
	}
	if err := s.js.DeleteStream(ctx, streamName(id)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.log.Warn("deleting the stream of a deleted queue", "queue", rec.Name, "err", err)
	}
}

// DeleteQueue deletes a queue and its messages.
func (s *Service) DeleteQueue(ctx context.Context, name string) error {
	s.mu.RLock()
	cur := s.queues[name]
	s.mu.RUnlock()
	if cur == nil || !cur.rec.Deleted.IsZero() {
		return errNoQueue()
	}
	tomb := cur.rec.clone()
	tomb.Deleted = s.cfg.Now().UTC()
	data, _ := json.Marshal(tomb)
	rev, err := s.kv.Update(ctx, queueKeyPrefix+name, data, cur.rev)
	if err != nil {
		if isWrongRevision(err) {
			return sqsErr(stratus.EUNAVAILABLE, "ServiceUnavailable", "The queue %s is being changed concurrently; retry the request.", name)
		}
		return fmt.Errorf("deleting queue %s: %w", name, err)
	}
	s.mu.Lock()
	var eng *engine
	if qe := s.queues[name]; qe != nil {
		eng = qe.eng
	}
	s.queues[name] = &queueEntry{rec: tomb, rev: rev}
	s.mu.Unlock()
	if eng != nil {
		eng.close()
	}
	s.dropStream(ctx, tomb)
	return nil
}

// update applies change to a copy of a live queue's record and stores it
// with compare-and-swap, retrying after races with other nodes.
func (s *Service) update(ctx context.Context, name string, change func(*queueRecord) error) (*queueRecord, error) {
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		cur := s.queues[name]
		s.mu.RUnlock()
		if cur == nil || !cur.rec.Deleted.IsZero() {
			return nil, errNoQueue()
		}
		rec := cur.rec.clone()
		if err := change(rec); err != nil {
			return nil, err
		}
		data, _ := json.Marshal(rec)
		rev, err := s.kv.Update(ctx, queueKeyPrefix+name, data, cur.rev)
		if isWrongRevision(err) && attempt < 10 {
			if fresh, err := s.reload(ctx, name); err == nil {
				s.mu.Lock()
				if qe := s.queues[name]; qe != nil && qe.rev <= cur.rev {
					qe.rec = fresh
				}
				s.mu.Unlock()
			}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("updating queue %s: %w", name, err)
		}
		s.mu.Lock()
		if qe := s.queues[name]; qe != nil {
			qe.rec, qe.rev = rec, rev
		}
		s.mu.Unlock()
		return rec, nil
	}
}

// SetQueueAttributes changes attributes of a queue; they take effect at
// once (visibility and delay for messages received or sent from now on,
// retention for every stored message).
func (s *Service) SetQueueAttributes(ctx context.Context, name string, attrs map[string]string) error {
	rec, err := s.update(ctx, name, func(r *queueRecord) error {
		if err := applyAttrs(r.Attrs, attrs, r.fifo(), false); err != nil {
			return err
		}
		if err := s.checkRedrive(name, r.fifo(), r.Attrs); err != nil {
			return err
		}
		r.Modified = s.cfg.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	eng, err := s.engine(name)
	if err != nil {
		return err
	}
	return eng.setConfig(ctx, parseConfig(rec.Attrs))
}

// checkRedrive validates a queue's RedrivePolicy against its dead-letter
// queue: it must exist, be of the same type, not be the queue itself and
// allow this queue in its RedriveAllowPolicy.
func (s *Service) checkRedrive(name string, fifo bool, attrs map[string]string) error {
	v := attrs[attrRedrivePolicy]
	if v == "" {
		return nil
	}
	p, err := parseRedrivePolicy(v)
	if err != nil {
		return err
	}
	dlqName := s.nameFromARN(p.DeadLetterTargetArn)
	if dlqName == name {
		return errParamValue(v, attrRedrivePolicy, "Dead letter target can't be the queue itself.")
	}
	dlq, err := s.record(dlqName)
	if dlqName == "" || err != nil {
		return errParamValue(v, attrRedrivePolicy, "Dead letter target does not exist.")
	}
	if dlq.fifo() != fifo {
		return errParamValue(v, attrRedrivePolicy, "Dead-letter target must be of the same type (FIFO or standard) as the source queue.")
	}
	if ap := dlq.Attrs[attrRedriveAllowPolicy]; ap != "" {
		if pol, err := parseRedriveAllowPolicy(ap); err == nil && !pol.allows(s.queueARN(name)) {
			return errParamValue(v, attrRedrivePolicy, "The dead-letter queue's RedriveAllowPolicy does not allow this queue as a source.")
		}
	}
	return nil
}

// TagQueue adds or replaces tags.
func (s *Service) TagQueue(ctx context.Context, name string, tags map[string]string) error {
	_, err := s.update(ctx, name, func(r *queueRecord) error {
		merged := maps.Clone(r.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if err := checkTags(merged); err != nil {
			return err
		}
		r.Tags = merged
		return nil
	})
	return err
}

// UntagQueue removes tags by key.
func (s *Service) UntagQueue(ctx context.Context, name string, keys []string) error {
	_, err := s.update(ctx, name, func(r *queueRecord) error {
		for _, k := range keys {
			delete(r.Tags, k)
		}
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		return nil
	})
	return err
}
