package store

import (
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// entry is the cached state of one key. A tombstone (deleted true) is left
// by a local delete until the watch has passed the deleted revision, so
// that a late watch delivery of that revision cannot resurrect it.
type entry struct {
	fn      *stratus.Function // never handed out: callers get clones
	rev     uint64            // KV revision of fn, or of the deleted value
	deleted bool
}

// watch applies the KV watch to the cache until the watcher stops. It
// closes ready after the initial values and s.done when it returns.
func (s *Store) watch(ready chan<- struct{}) {
	defer close(s.done)
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-s.watcher.Updates():
		case <-s.wctx.Done():
			return
		}
		if !ok {
			if s.wctx.Err() == nil {
				s.log.Error("function watch stopped; cache no longer follows other nodes",
					"bucket", s.cfg.FunctionsBucket)
			}
			return
		}
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		fn, deleted, notify := s.apply(e)
		if notify && ready == nil {
			s.notify(fn, deleted)
		}
	}
}

// apply brings one watch entry into the cache. It reports whether
// subscribers should hear about it: not for entries older than the cache.
func (s *Store) apply(e jetstream.KeyValueEntry) (fn *stratus.Function, deleted, notify bool) {
	name, rev := e.Key(), e.Revision()
	var decoded *stratus.Function
	if e.Operation() == jetstream.KeyValuePut {
		decoded = new(stratus.Function)
		if err := json.Unmarshal(e.Value(), decoded); err != nil {
			s.log.Error("skipping undecodable function", "bucket", s.cfg.FunctionsBucket,
				"key", name, "revision", rev, "err", err)
			decoded = nil
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.watchRev {
		s.watchRev = rev
	}
	cur, ok := s.cache[name]
	if ok && (rev < cur.rev || rev == cur.rev && cur.deleted) {
		return nil, false, false // older than a local write
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.cache, name)
		if ok && cur.fn != nil {
			return cur.fn, true, true
		}
		return &stratus.Function{Name: name, Version: stratus.LatestVersion}, true, true
	}
	if ok && rev == cur.rev {
		return cur.fn, false, true // the echo of a local write
	}
	if decoded == nil {
		return nil, false, false
	}
	s.cache[name] = entry{fn: decoded, rev: rev}
	return decoded, false, true
}

// storeLocal records a successful local write of fn at rev.
func (s *Store) storeLocal(fn *stratus.Function, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.watchRev {
		return // the watch has delivered it (or something newer) already
	}
	if cur, ok := s.cache[fn.Name]; ok && cur.rev >= rev {
		return
	}
	s.cache[fn.Name] = entry{fn: fn, rev: rev}
}

// deleteLocal records a successful local delete of name, whose value had
// revision rev when it was deleted.
func (s *Store) deleteLocal(name string, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.cache[name]
	if ok && cur.rev > rev {
		return // a newer value, written after the delete, is cached
	}
	if !ok && rev <= s.watchRev {
		return // the watch has applied the delete marker already
	}
	// The tombstone hides the value now and is removed when the watch
	// delivers the delete marker (a revision above rev).
	s.cache[name] = entry{fn: cur.fn, rev: rev, deleted: true}
}

// lookup returns the cached function or nil.
func (s *Store) lookup(name string) *stratus.Function {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.cache[name]; ok && !e.deleted {
		return e.fn
	}
	return nil
}

// WatchFunctions registers fn to be told about every change of a function
// after the cache reflects it: fn(f, false) for a create or update,
// fn(f, true) for a delete (f is the last known configuration, or just the
// name). Local and remote changes are reported alike, once per revision
// that is not already superseded in the cache, from the single watch
// goroutine and in revision order; changes that exist before the call are
// not replayed. fn must return quickly (it delays the cache for everyone)
// and gets its own copy of the function. The returned func unsubscribes.
func (s *Store) WatchFunctions(fn func(f *stratus.Function, deleted bool)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

func (s *Store) notify(fn *stratus.Function, deleted bool) {
	s.subMu.Lock()
	subs := make([]func(*stratus.Function, bool), 0, len(s.subs))
	for _, f := range s.subs {
		subs = append(subs, f)
	}
	s.subMu.Unlock()
	for _, f := range subs {
		f(fn.Clone(), deleted)
	}
}
