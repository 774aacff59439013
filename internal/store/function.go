package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// Function returns a copy of the named function from the cache.
func (s *Store) Function(_ context.Context, name string) (*stratus.Function, error) {
	if fn := s.lookup(name); fn != nil {
		return fn.Clone(), nil
	}
	return nil, notFound(name)
}

// Functions returns copies of all cached functions, sorted by name.
func (s *Store) Functions(_ context.Context) ([]*stratus.Function, error) {
	s.mu.RLock()
	fns := make([]*stratus.Function, 0, len(s.cache))
	for _, e := range s.cache {
		if !e.deleted {
			fns = append(fns, e.fn.Clone())
		}
	}
	s.mu.RUnlock()
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// CreateFunction stores fn as a new function; ECONFLICT if the name is
// taken. An empty Version becomes $LATEST. The store does not assign
// RevisionID or LastModified: callers set them.
func (s *Store) CreateFunction(ctx context.Context, fn *stratus.Function) error {
	if fn == nil || !validName(fn.Name) {
		name := ""
		if fn != nil {
			name = fn.Name
		}
		return stratus.Errorf(stratus.EINVALID, "Invalid function name: %q", name)
	}
	fn = fn.Clone()
	if fn.Version == "" {
		fn.Version = stratus.LatestVersion
	}
	data, err := json.Marshal(fn)
	if err != nil {
		return fmt.Errorf("encoding function %s: %w", fn.Name, err)
	}
	if err := s.purgeLeftovers(ctx, fn.Name); err != nil {
		return err
	}
	rev, err := s.kv.Create(ctx, fn.Name, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return stratus.Errorf(stratus.ECONFLICT, "Function already exist: %s", fn.Name)
	} else if err != nil {
		return fmt.Errorf("creating function %s: %w", fn.Name, err)
	}
	s.storeLocal(fn, rev)
	return nil
}

// UpdateFunction reads the function from KV, applies update to a copy and
// writes it back if nobody wrote in between (compare-and-swap on the KV
// revision), retrying up to Config.MaxUpdateRetries times with a short
// random back-off. An error from update is returned as is. update may not
// rename the function: the name is restored after it runs.
func (s *Store) UpdateFunction(ctx context.Context, name string, update func(*stratus.Function) error) (*stratus.Function, error) {
	if !validName(name) {
		return nil, notFound(name)
	}
	for attempt := 0; ; attempt++ {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound(name)
		} else if err != nil {
			return nil, fmt.Errorf("reading function %s: %w", name, err)
		}
		fn := new(stratus.Function)
		if err := json.Unmarshal(e.Value(), fn); err != nil {
			return nil, fmt.Errorf("decoding function %s: %w", name, err)
		}
		if err := update(fn); err != nil {
			return nil, err
		}
		fn.Name = name
		data, err := json.Marshal(fn)
		if err != nil {
			return nil, fmt.Errorf("encoding function %s: %w", name, err)
		}
		rev, err := s.kv.Update(ctx, name, data, e.Revision())
		if err == nil {
			s.storeLocal(fn, rev)
			return fn.Clone(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("updating function %s: %w", name, err)
		}
		if attempt+1 >= s.cfg.MaxUpdateRetries {
			return nil, stratus.Errorf(stratus.ECONFLICT,
				"Function is being updated concurrently, try again: %s", name)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("updating function %s: %w", name, err)
		}
	}
}

// DeleteFunction deletes the function with its published versions and
// aliases; ENOTFOUND if absent. Versions and aliases go first, so that an
// interrupted delete leaves a function that can be deleted again. Code
// objects are kept (see the package documentation).
func (s *Store) DeleteFunction(ctx context.Context, name string) error {
	if !validName(name) {
		return notFound(name)
	}
	if s.lookup(name) != nil {
		if err := s.deleteVersionsAndAliases(ctx, name); err != nil {
			return fmt.Errorf("deleting function %s: %w", name, err)
		}
	}
	for attempt := 0; ; attempt++ {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return notFound(name)
		} else if err != nil {
			return fmt.Errorf("reading function %s: %w", name, err)
		}
		err = s.kv.Delete(ctx, name, jetstream.LastRevision(e.Revision()))
		if err == nil {
			s.deleteLocal(name, e.Revision())
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt+1 >= s.cfg.MaxUpdateRetries {
			return fmt.Errorf("deleting function %s: %w", name, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return fmt.Errorf("deleting function %s: %w", name, err)
		}
	}
}

func notFound(name string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
}

// validName reports whether name is usable as a KV key: 1–140 characters
// of letters, digits, '-' and '_' (a superset of Lambda function names).
func validName(name string) bool {
	if name == "" || len(name) > 140 {
		return false
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// backoff sleeps a random time that grows with attempt (up to ~10 ms).
func backoff(ctx context.Context, attempt int) error {
	max := time.Duration(min(attempt+1, 10)) * time.Millisecond
	t := time.NewTimer(time.Duration(rand.Int64N(int64(max))) + 50*time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
