package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// kvCache is a node-local copy of the keys of one KV bucket that match a
// filter, kept current by a watch, with the same rules as the function
// cache (cache.go): local writes are applied at once, and watch entries
// older than what the cache holds are skipped. Values are JSON of T.
// Keys are grouped by the part before their last '.', so that the entries
// of one function (or layer) can be listed without scanning all of them.
type kvCache[T any] struct {
	bucket string
	log    *slog.Logger

	watcher jetstream.KeyWatcher
	wctx    context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the watch goroutine exits

	mu       sync.RWMutex
	groups   map[string]map[string]kvEntry[T] // mu guards groups and watchRev
	watchRev uint64
}

type kvEntry[T any] struct {
	v       *T // never handed out: callers copy
	rev     uint64
	deleted bool
}

// openKVCache starts a watch of the keys of kv matching filter (e.g.
// "v.>") and returns once the initial values are loaded.
func openKVCache[T any](ctx context.Context, kv jetstream.KeyValue, bucket, filter string, log *slog.Logger) (*kvCache[T], error) {
	c := &kvCache[T]{bucket: bucket, log: log, done: make(chan struct{}), groups: make(map[string]map[string]kvEntry[T])}
	c.wctx, c.cancel = context.WithCancel(context.Background())
	w, err := kv.Watch(c.wctx, filter)
	if err != nil {
		c.cancel()
		return nil, fmt.Errorf("watching bucket %s: %w", bucket, err)
	}
	c.watcher = w
	ready := make(chan struct{})
	go c.watch(ready)
	select {
	case <-ready:
		return c, nil
	case <-c.done:
		c.cancel()
		return nil, fmt.Errorf("loading bucket %s: watch stopped", bucket)
	case <-ctx.Done():
		c.close()
		return nil, fmt.Errorf("loading bucket %s: %w", bucket, ctx.Err())
	}
}

// close stops the watch and waits for its goroutine; safe to call twice.
func (c *kvCache[T]) close() {
	c.cancel()
	_ = c.watcher.Stop()
	<-c.done
	go func(updates <-chan jetstream.KeyValueEntry) {
		for {
			select {
			case _, ok := <-updates:
				if !ok {
					return
				}
			case <-time.After(5 * time.Second):
				return
			}
		}
	}(c.watcher.Updates())
}

func (c *kvCache[T]) watch(ready chan<- struct{}) {
	defer close(c.done)
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-c.watcher.Updates():
		case <-c.wctx.Done():
			return
		}
		if !ok {
			if c.wctx.Err() == nil {
				c.log.Error("watch stopped; cache no longer follows other nodes", "bucket", c.bucket)
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
		c.apply(e)
	}
}

func groupOf(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return ""
}

// apply brings one watch entry into the cache.
func (c *kvCache[T]) apply(e jetstream.KeyValueEntry) {
	key, rev := e.Key(), e.Revision()
	var decoded *T
	if e.Operation() == jetstream.KeyValuePut {
		decoded = new(T)
		if err := json.Unmarshal(e.Value(), decoded); err != nil {
			c.log.Error("skipping undecodable entry", "bucket", c.bucket, "key", key, "revision", rev, "err", err)
			decoded = nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.watchRev {
		c.watchRev = rev
	}
	g := groupOf(key)
	cur, ok := c.groups[g][key]
	if ok && (rev < cur.rev || rev == cur.rev && cur.deleted) {
		return // older than a local write
	}
	if e.Operation() != jetstream.KeyValuePut || decoded == nil {
		c.removeLocked(g, key)
		return
	}
	if ok && rev == cur.rev {
		return // the echo of a local write
	}
	c.setLocked(g, key, kvEntry[T]{v: decoded, rev: rev})
}

// setLocked and removeLocked change one entry; c.mu must be held.
func (c *kvCache[T]) setLocked(g, key string, e kvEntry[T]) {
	m := c.groups[g]
	if m == nil {
		m = make(map[string]kvEntry[T])
		c.groups[g] = m
	}
	m[key] = e
}

func (c *kvCache[T]) removeLocked(g, key string) {
	if m := c.groups[g]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(c.groups, g)
		}
	}
}

// storeLocal records a successful local write of v under key at rev. v
// must not be changed afterwards.
func (c *kvCache[T]) storeLocal(key string, v *T, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev <= c.watchRev {
		return // the watch has delivered it (or something newer) already
	}
	g := groupOf(key)
	if cur, ok := c.groups[g][key]; ok && cur.rev >= rev {
		return
	}
	c.setLocked(g, key, kvEntry[T]{v: v, rev: rev})
}

// deleteLocal records a successful local delete of key, whose value had
// revision rev; a tombstone hides it until the watch passes the delete.
func (c *kvCache[T]) deleteLocal(key string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := groupOf(key)
	cur, ok := c.groups[g][key]
	if ok && cur.rev > rev {
		return
	}
	if !ok && rev <= c.watchRev {
		return
	}
	c.setLocked(g, key, kvEntry[T]{v: cur.v, rev: rev, deleted: true})
}

// get returns the cached value of key (shared: callers must copy it).
func (c *kvCache[T]) get(key string) (*T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.groups[groupOf(key)][key]
	if !ok || e.deleted {
		return nil, false
	}
	return e.v, true
}

// group returns the keys and values of one group sorted by key (values
// shared: callers must copy them).
func (c *kvCache[T]) group(g string) ([]string, []*T) {
	c.mu.RLock()
	m := c.groups[g]
	keys := make([]string, 0, len(m))
	for k, e := range m {
		if !e.deleted {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([]*T, len(keys))
	for i, k := range keys {
		vals[i] = m[k].v
	}
	c.mu.RUnlock()
	return keys, vals
}

// all returns every live value (shared: callers must copy them).
func (c *kvCache[T]) all() []*T {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var vals []*T
	for _, m := range c.groups {
		for _, e := range m {
			if !e.deleted {
				vals = append(vals, e.v)
			}
		}
	}
	return vals
}
