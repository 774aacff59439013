package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// userInitiated is the StateTransitionReason of changes users make.
const userInitiated = "USER_INITIATED"

func notFound(uuid string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: %s)", uuid)
}

// validate checks a mapping against its queue and function.
func (s *Service) validate(ctx context.Context, m *stratus.EventSourceMapping) error {
	info, err := s.deps.Queues.QueueInfo(ctx, m.EventSourceARN)
	if stratus.ErrorCode(err) == stratus.ENOTFOUND {
		return stratus.Errorf(stratus.EINVALID, "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue %s does not exist.", m.EventSourceARN)
	} else if err != nil {
		return err
	}
	if info.FIFO && m.BatchSize > 10 {
		return stratus.Errorf(stratus.EINVALID, "Batch size %d is not supported for FIFO queues: it must be between 1 and 10.", m.BatchSize)
	}
	if info.FIFO && m.MaximumBatchingWindowInSeconds > 0 {
		return stratus.Errorf(stratus.EINVALID, "MaximumBatchingWindowInSeconds is not supported for FIFO queues.")
	}
	fn, err := s.deps.Functions.Function(ctx, m.FunctionName)
	if err != nil {
		return err
	}
	if vt := int(info.VisibilityTimeout / time.Second); fn.Timeout > vt {
		return stratus.Errorf(stratus.EINVALID, "Queue visibility timeout: %d seconds is less than Function timeout: %d seconds", vt, fn.Timeout)
	}
	return nil
}

// CreateEventSourceMapping validates, stores and starts a mapping.
func (s *Service) CreateEventSourceMapping(ctx context.Context, m *stratus.EventSourceMapping) (*stratus.EventSourceMapping, error) {
	m = m.Clone()
	if err := s.validate(ctx, m); err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, e := range s.cache {
		if e.m.EventSourceARN == m.EventSourceARN && e.m.FunctionName == m.FunctionName && e.m.Qualifier == m.Qualifier {
			s.mu.Unlock()
			return nil, stratus.Errorf(stratus.ECONFLICT,
				"An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s",
				m.EventSourceARN, m.FunctionName, e.m.UUID)
		}
	}
	s.mu.Unlock()
	m.UUID = newUUID()
	m.State, m.StateTransitionReason = stratus.ESMCreating, userInitiated
	m.LastModified = s.cfg.Now().UTC()
	data, _ := json.Marshal(m)
	rev, err := s.kv.Create(ctx, m.UUID, data)
	if err != nil {
		return nil, fmt.Errorf("storing event source mapping %s: %w", m.UUID, err)
	}
	s.storeLocal(m, rev)
	s.reconcile(m, rev)
	return m.Clone(), nil
}

// EventSourceMapping returns a copy of one mapping.
func (s *Service) EventSourceMapping(_ context.Context, uuid string) (*stratus.EventSourceMapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cache[uuid]; ok {
		return e.m.Clone(), nil
	}
	return nil, notFound(uuid)
}

// EventSourceMappings lists mappings, filtered when the filters are set.
func (s *Service) EventSourceMappings(_ context.Context, arn, function string) ([]*stratus.EventSourceMapping, error) {
	s.mu.Lock()
	var out []*stratus.EventSourceMapping
	for _, e := range s.cache {
		if (arn == "" || e.m.EventSourceARN == arn) && (function == "" || e.m.FunctionName == function) {
			out = append(out, e.m.Clone())
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return out, nil
}

// UpdateEventSourceMapping changes a mapping; the result is in state
// Enabling, Disabling or Updating until the reconciler settles it.
func (s *Service) UpdateEventSourceMapping(ctx context.Context, uuid string, update func(*stratus.EventSourceMapping) error) (*stratus.EventSourceMapping, error) {
	for attempt := 0; attempt < 20; attempt++ {
		s.mu.Lock()
		cur, ok := s.cache[uuid]
		s.mu.Unlock()
		if !ok {
			return nil, notFound(uuid)
		}
		if cur.m.State == stratus.ESMDeleting {
			return nil, stratus.Errorf(stratus.ECONFLICT, "Cannot update the event source mapping %s because it is being deleted.", uuid)
		}
		m := cur.m.Clone()
		if err := update(m); err != nil {
			return nil, err
		}
		m.UUID, m.EventSourceARN = uuid, cur.m.EventSourceARN
		if err := s.validate(ctx, m); err != nil {
			return nil, err
		}
		switch {
		case m.Enabled && !cur.m.Enabled:
			m.State = stratus.ESMEnabling
		case !m.Enabled && cur.m.Enabled:
			m.State = stratus.ESMDisabling
		case m.Enabled:
			m.State = stratus.ESMUpdating
		default:
			m.State = stratus.ESMDisabled
		}
		m.StateTransitionReason = userInitiated
		m.LastModified = s.cfg.Now().UTC()
		data, _ := json.Marshal(m)
		rev, err := s.kv.Update(ctx, uuid, data, cur.rev)
		if isConflict(err) {
			s.refresh(ctx, uuid)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("updating event source mapping %s: %w", uuid, err)
		}
		s.storeLocal(m, rev)
		s.reconcile(m, rev)
		return m.Clone(), nil
	}
	return nil, stratus.Errorf(stratus.EUNAVAILABLE, "The event source mapping %s is changing concurrently; retry.", uuid)
}

// DeleteEventSourceMapping marks a mapping Deleting; the reconciler stops
// its pollers and removes it.
func (s *Service) DeleteEventSourceMapping(ctx context.Context, uuid string) (*stratus.EventSourceMapping, error) {
	for attempt := 0; attempt < 20; attempt++ {
		s.mu.Lock()
		cur, ok := s.cache[uuid]
		s.mu.Unlock()
		if !ok {
			return nil, notFound(uuid)
		}
		m := cur.m.Clone()
		m.State, m.StateTransitionReason = stratus.ESMDeleting, userInitiated
		data, _ := json.Marshal(m)
		rev, err := s.kv.Update(ctx, uuid, data, cur.rev)
		if isConflict(err) {
			s.refresh(ctx, uuid)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("deleting event source mapping %s: %w", uuid, err)
		}
		s.storeLocal(m, rev)
		s.reconcile(m, rev)
		return m.Clone(), nil
	}
	return nil, stratus.Errorf(stratus.EUNAVAILABLE, "The event source mapping %s is changing concurrently; retry.", uuid)
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// refresh reloads one mapping from the bucket after a lost race.
func (s *Service) refresh(ctx context.Context, uuid string) {
	e, err := s.kv.Get(ctx, uuid)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			s.mu.Lock()
			delete(s.cache, uuid)
			s.mu.Unlock()
		}
		return
	}
	m := new(stratus.EventSourceMapping)
	if json.Unmarshal(e.Value(), m) == nil {
		s.storeLocal(m, e.Revision())
	}
}

// storeLocal caches m at rev unless something newer is cached.
func (s *Service) storeLocal(m *stratus.EventSourceMapping, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.cache[m.UUID]; !ok || cur.rev < rev {
		s.cache[m.UUID] = entry{m: m.Clone(), rev: rev}
	}
}

// watch follows the bucket; it closes ready after the initial values.
func (s *Service) watch(ready chan struct{}) {
	defer close(s.done)
	for e := range s.watcher.Updates() {
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		uuid := e.Key()
		s.mu.Lock()
		cur, ok := s.cache[uuid]
		stale := ok && cur.rev >= e.Revision()
		s.mu.Unlock()
		if stale {
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			s.mu.Lock()
			delete(s.cache, uuid)
			r := s.runners[uuid]
			delete(s.runners, uuid)
			s.mu.Unlock()
			if r != nil {
				r.stop()
			}
			continue
		}
		m := new(stratus.EventSourceMapping)
		if err := json.Unmarshal(e.Value(), m); err != nil {
			s.log.Error("skipping an undecodable event source mapping", "uuid", uuid, "err", err)
			continue
		}
		s.storeLocal(m, e.Revision())
		if ready == nil {
			s.reconcile(m, e.Revision())
		}
	}
	if ready != nil {
		close(ready)
	}
}

// reconcile makes the pollers match m and settles a transitional state.
func (s *Service) reconcile(m *stratus.EventSourceMapping, rev uint64) {
	run := m.Enabled && m.State != stratus.ESMDeleting
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	old := s.runners[m.UUID]
	var started *runner
	if run && (old == nil || old.differs(m)) {
		started = s.newRunner(m)
		s.runners[m.UUID] = started
	} else if !run {
		delete(s.runners, m.UUID)
	}
	s.mu.Unlock()
	if old != nil && (started != nil || !run) {
		old.stop()
	}
	if started != nil {
		started.start()
	}
	switch m.State {
	case stratus.ESMCreating, stratus.ESMEnabling, stratus.ESMUpdating, stratus.ESMDisabling:
		target := stratus.ESMDisabled
		if m.Enabled {
			target = stratus.ESMEnabled
		}
		go s.settle(m.UUID, rev, target)
	case stratus.ESMDeleting:
		go func() {
			ctx, cancel := context.WithTimeout(s.hard, 10*time.Second)
			defer cancel()
			if err := s.kv.Delete(ctx, m.UUID, jetstream.LastRevision(rev)); err == nil {
				s.mu.Lock()
				delete(s.cache, m.UUID)
				s.mu.Unlock()
			}
		}()
	}
}

// settle moves a mapping from a transitional state to target, unless it
// changed meanwhile.
func (s *Service) settle(uuid string, rev uint64, target string) {
	ctx, cancel := context.WithTimeout(s.hard, 10*time.Second)
	defer cancel()
	s.mu.Lock()
	cur, ok := s.cache[uuid]
	s.mu.Unlock()
	if !ok || cur.rev != rev {
		return
	}
	m := cur.m.Clone()
	m.State = target
	data, _ := json.Marshal(m)
	if nrev, err := s.kv.Update(ctx, uuid, data, rev); err == nil {
		s.storeLocal(m, nrev)
	}
}
