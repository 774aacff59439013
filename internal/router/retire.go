package router

import (
	"context"
	"strings"

	"github.com/stratus-dev/stratus"
)

// functionWatcher is implemented by function stores that report changes
// (store.Store, through its JetStream KV watch): local and remote
// changes alike, after the store's cache reflects them.
type functionWatcher interface {
	WatchFunctions(fn func(f *stratus.Function, deleted bool)) (cancel func())
}

// startRetiring makes configuration changes take effect in new
// environments only: when a function's $LATEST changes (on this node or
// another), its idle on-demand environments built from an older
// configuration are destroyed at once; environments busy with an
// invocation finish it on the configuration they started with and are
// retired when they are next taken (takeIdle checks the RevisionID) or
// reaped. When a function is deleted, the idle environments of all its
// versions go. Published versions never change, so only $LATEST needs
// this. Provisioned environments are their pools' business.
//
// Without a watching store, stale environments are still never reused
// (takeIdle), only kept until the keep-alive ends.
func (r *Router) startRetiring() {
	w, ok := r.fns.(functionWatcher)
	if !ok {
		return
	}
	cancel := w.WatchFunctions(r.retireStale)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		<-r.stop
		cancel()
	}()
}

// retireStale is the WatchFunctions callback. It must return quickly: it
// only unlinks environments, and destroys them in the background.
//
// Changes are compared with the configuration the store holds now, not
// with the one the callback reports: a node reads its own writes before
// the watch reports them, so an environment may already run a newer
// configuration than a late report.
func (r *Router) retireStale(f *stratus.Function, deleted bool) {
	current := f.RevisionID
	if !deleted {
		latest, err := r.fns.Function(context.Background(), f.Name) // the store's cache
		if err != nil {
			deleted = stratus.ErrorCode(err) == stratus.ENOTFOUND
			if !deleted {
				return
			}
		} else {
			current = latest.RevisionID
		}
	}
	var old []*env
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	keys := []string{f.Name + ":" + stratus.LatestVersion}
	if deleted {
		keys = keys[:0]
		for key := range r.idle {
			if strings.HasPrefix(key, f.Name+":") {
				keys = append(keys, key)
			}
		}
	}
	for _, key := range keys {
		stack, ok := r.idle[key]
		if !ok {
			continue
		}
		keep := stack[:0]
		for _, e := range stack {
			if deleted || e.revision != current {
				e.idle = false
				old = append(old, e)
			} else {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 {
			delete(r.idle, key)
		} else {
			r.idle[key] = keep
		}
	}
	r.mu.Unlock()
	for _, e := range old {
		go r.destroy(e)
	}
}
