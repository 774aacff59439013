package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// Keys of the versions bucket.
func versionKey(name string, n int) string { return "v." + name + "." + strconv.Itoa(n) }
func versionGroup(name string) string      { return "v." + name }
func aliasKey(fn, alias string) string     { return "a." + fn + "." + alias }
func aliasGroup(fn string) string          { return "a." + fn }

// parseVersion accepts the canonical decimal form of a version number.
func parseVersion(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

func versionNotFound(name, version string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s:%s", name, version)
}

// PublishVersion publishes $LATEST of name; see stratus.VersionService.
//
// The $LATEST record is the lock: a compare-and-swap on it either finds
// that nothing changed since the last published version
// (PublishedRevision == RevisionID) or advances LastPublished. The
// version record is written after that; a publisher that finds nothing
// changed but no version record yet (a concurrent publisher still
// writing it, or one that crashed) writes the same snapshot itself, and
// of two such writers the first one wins.
func (s *Store) PublishVersion(ctx context.Context, name string, update func(*stratus.Function) error,
	snapshot func(*stratus.Function)) (*stratus.Function, bool, error) {
	if !validName(name) {
		return nil, false, notFound(name)
	}
	for attempt := 0; ; attempt++ {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, false, notFound(name)
		} else if err != nil {
			return nil, false, fmt.Errorf("reading function %s: %w", name, err)
		}
		fn := new(stratus.Function)
		if err := json.Unmarshal(e.Value(), fn); err != nil {
			return nil, false, fmt.Errorf("decoding function %s: %w", name, err)
		}
		if update != nil {
			if err := update(fn); err != nil {
				return nil, false, err
			}
			fn.Name = name
		}
		if fn.LastPublished > 0 && fn.PublishedRevision == fn.RevisionID {
			return s.ensureVersion(ctx, fn, snapshot)
		}
		fn.LastPublished++
		fn.PublishedRevision = fn.RevisionID
		data, err := json.Marshal(fn)
		if err != nil {
			return nil, false, fmt.Errorf("encoding function %s: %w", name, err)
		}
		rev, err := s.kv.Update(ctx, name, data, e.Revision())
		if err == nil {
			s.storeLocal(fn, rev)
			return s.ensureVersion(ctx, fn.Clone(), snapshot)
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, false, fmt.Errorf("publishing function %s: %w", name, err)
		}
		if attempt+1 >= s.cfg.MaxUpdateRetries {
			return nil, false, stratus.Errorf(stratus.ECONFLICT,
				"Function is being updated concurrently, try again: %s", name)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, false, fmt.Errorf("publishing function %s: %w", name, err)
		}
	}
}

// ensureVersion returns version latest.LastPublished, which must be a
// snapshot of latest, writing it if it is not stored yet.
func (s *Store) ensureVersion(ctx context.Context, latest *stratus.Function, snapshot func(*stratus.Function)) (*stratus.Function, bool, error) {
	n := latest.LastPublished
	key := versionKey(latest.Name, n)
	for attempt := 0; ; attempt++ {
		var lastRev uint64
		e, err := s.vkv.Get(ctx, key)
		switch {
		case err == nil:
			v := new(stratus.Function)
			if err := json.Unmarshal(e.Value(), v); err != nil {
				return nil, false, fmt.Errorf("decoding version %s: %w", key, err)
			}
			if v.PublishedRevision == latest.PublishedRevision {
				s.versions.storeLocal(key, v, e.Revision())
				return v.Clone(), false, nil
			}
			// A leftover of an earlier function of the same name.
			lastRev = e.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, false, fmt.Errorf("reading version %s: %w", key, err)
		}
		v := latest.Clone()
		v.Version = strconv.Itoa(n)
		v.LastPublished = 0
		v.Tags = nil // tags belong to the function, not to versions
		if snapshot != nil {
			snapshot(v)
		}
		v.Name, v.Version, v.PublishedRevision = latest.Name, strconv.Itoa(n), latest.PublishedRevision
		data, err := json.Marshal(v)
		if err != nil {
			return nil, false, fmt.Errorf("encoding version %s: %w", key, err)
		}
		var rev uint64
		if lastRev == 0 {
			rev, err = s.vkv.Create(ctx, key, data)
		} else {
			rev, err = s.vkv.Update(ctx, key, data, lastRev)
		}
		if err == nil {
			s.versions.storeLocal(key, v, rev)
			return v.Clone(), true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, false, fmt.Errorf("writing version %s: %w", key, err)
		}
		if attempt+1 >= s.cfg.MaxUpdateRetries {
			return nil, false, stratus.Errorf(stratus.ECONFLICT,
				"Function is being updated concurrently, try again: %s", latest.Name)
		}
		// Somebody else wrote it meanwhile: read what they wrote.
	}
}

// Version returns a published version from the cache. Version records
// with a number above the function's LastPublished are leftovers of an
// earlier function of the same name and are not shown.
func (s *Store) Version(_ context.Context, name, version string) (*stratus.Function, error) {
	latest := s.lookup(name)
	if latest == nil {
		return nil, notFound(name)
	}
	n, ok := parseVersion(version)
	if !ok || n > latest.LastPublished {
		return nil, versionNotFound(name, version)
	}
	v, ok := s.versions.get(versionKey(name, n))
	if !ok {
		return nil, versionNotFound(name, version)
	}
	return v.Clone(), nil
}

// Versions returns the function's published versions, oldest first.
func (s *Store) Versions(_ context.Context, name string) ([]*stratus.Function, error) {
	latest := s.lookup(name)
	if latest == nil {
		return nil, notFound(name)
	}
	_, vals := s.versions.group(versionGroup(name))
	out := make([]*stratus.Function, 0, len(vals))
	for _, v := range vals {
		if n, ok := parseVersion(v.Version); ok && n <= latest.LastPublished {
			out = append(out, v.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *stratus.Function) int {
		x, _ := strconv.Atoi(a.Version)
		y, _ := strconv.Atoi(b.Version)
		return x - y
	})
	return out, nil
}

// DeleteVersion deletes a published version unless an alias routes to it.
func (s *Store) DeleteVersion(ctx context.Context, name, version string) error {
	if _, err := s.Version(ctx, name, version); err != nil {
		return err
	}
	var refs []string
	_, aliases := s.aliases.group(aliasGroup(name))
	for _, a := range aliases {
		if _, ok := a.AdditionalVersionWeights[version]; ok || a.FunctionVersion == version {
			refs = append(refs, a.Name)
		}
	}
	if len(refs) > 0 {
		return stratus.Errorf(stratus.ECONFLICT,
			"Unable to delete version because the following aliases reference it: [%s]", strings.Join(refs, ", "))
	}
	n, _ := parseVersion(version)
	// Publishing again after the newest version is deleted creates a new
	// version even when $LATEST did not change.
	if latest := s.lookup(name); latest != nil && latest.LastPublished == n && latest.PublishedRevision != "" {
		_, err := s.UpdateFunction(ctx, name, func(f *stratus.Function) error {
			if f.LastPublished == n {
				f.PublishedRevision = ""
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.deleteKey(ctx, s.vkv, s.versions.deleteLocal, versionKey(name, n), versionNotFound(name, version))
}

// deleteKey deletes key from kv if it exists (notFound otherwise) and
// records the delete with local.
func (s *Store) deleteKey(ctx context.Context, kv jetstream.KeyValue, local func(string, uint64), key string, notFound error) error {
	for attempt := 0; ; attempt++ {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return notFound
		} else if err != nil {
			return fmt.Errorf("reading %s: %w", key, err)
		}
		err = kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		if err == nil {
			local(key, e.Revision())
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt+1 >= s.cfg.MaxUpdateRetries {
			return fmt.Errorf("deleting %s: %w", key, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return fmt.Errorf("deleting %s: %w", key, err)
		}
	}
}

// deleteVersionsAndAliases deletes every cached version and alias record
// of the function name.
func (s *Store) deleteVersionsAndAliases(ctx context.Context, name string) error {
	vkeys, _ := s.versions.group(versionGroup(name))
	for _, k := range vkeys {
		if err := s.deleteKey(ctx, s.vkv, s.versions.deleteLocal, k, nil); err != nil {
			return err
		}
	}
	akeys, _ := s.aliases.group(aliasGroup(name))
	for _, k := range akeys {
		if err := s.deleteKey(ctx, s.vkv, s.aliases.deleteLocal, k, nil); err != nil {
			return err
		}
	}
	return nil
}

// purgeLeftovers deletes version and alias records of a function that
// does not exist: what a DeleteFunction interrupted by a crash left
// behind. Called before the name is created again.
func (s *Store) purgeLeftovers(ctx context.Context, name string) error {
	vkeys, _ := s.versions.group(versionGroup(name))
	akeys, _ := s.aliases.group(aliasGroup(name))
	if len(vkeys) == 0 && len(akeys) == 0 {
		return nil
	}
	if _, err := s.kv.Get(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // it exists (or we cannot tell): not ours to clean
	}
	return s.deleteVersionsAndAliases(ctx, name)
}

func aliasNotFound(fn, name string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Alias not found: %s:%s", fn, name)
}

// CreateAlias stores a new alias of an existing function.
func (s *Store) CreateAlias(ctx context.Context, a *stratus.Alias) error {
	if a == nil || !validName(a.FunctionName) || s.lookup(a.FunctionName) == nil {
		name := ""
		if a != nil {
			name = a.FunctionName
		}
		return notFound(name)
	}
	if !validName(a.Name) {
		return stratus.Errorf(stratus.EINVALID, "Invalid alias name: %q", a.Name)
	}
	a = a.Clone()
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding alias %s: %w", a.Name, err)
	}
	key := aliasKey(a.FunctionName, a.Name)
	rev, err := s.vkv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return stratus.Errorf(stratus.ECONFLICT, "Alias already exists: %s:%s", a.FunctionName, a.Name)
	} else if err != nil {
		return fmt.Errorf("creating alias %s: %w", key, err)
	}
	s.aliases.storeLocal(key, a, rev)
	return nil
}

// Alias returns an alias from the cache.
func (s *Store) Alias(_ context.Context, fn, name string) (*stratus.Alias, error) {
	if s.lookup(fn) == nil {
		return nil, notFound(fn)
	}
	if !validName(name) {
		return nil, aliasNotFound(fn, name)
	}
	a, ok := s.aliases.get(aliasKey(fn, name))
	if !ok {
		return nil, aliasNotFound(fn, name)
	}
	return a.Clone(), nil
}

// Aliases returns the function's aliases sorted by name.
func (s *Store) Aliases(_ context.Context, fn string) ([]*stratus.Alias, error) {
	if s.lookup(fn) == nil {
		return nil, notFound(fn)
	}
	_, vals := s.aliases.group(aliasGroup(fn))
	out := make([]*stratus.Alias, len(vals))
	for i, a := range vals {
		out[i] = a.Clone()
	}
	return out, nil
}

// UpdateAlias changes an alias with compare-and-swap on its KV revision.
func (s *Store) UpdateAlias(ctx context.Context, fn, name string, update func(*stratus.Alias) error) (*stratus.Alias, error) {
	if s.lookup(fn) == nil {
		return nil, notFound(fn)
	}
	if !validName(name) {
		return nil, aliasNotFound(fn, name)
	}
	key := aliasKey(fn, name)
	for attempt := 0; ; attempt++ {
		e, err := s.vkv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, aliasNotFound(fn, name)
		} else if err != nil {
			return nil, fmt.Errorf("reading alias %s: %w", key, err)
		}
		a := new(stratus.Alias)
		if err := json.Unmarshal(e.Value(), a); err != nil {
			return nil, fmt.Errorf("decoding alias %s: %w", key, err)
		}
		if err := update(a); err != nil {
			return nil, err
		}
		a.FunctionName, a.Name = fn, name
		data, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("encoding alias %s: %w", key, err)
		}
		rev, err := s.vkv.Update(ctx, key, data, e.Revision())
		if err == nil {
			s.aliases.storeLocal(key, a, rev)
			return a.Clone(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("updating alias %s: %w", key, err)
		}
		if attempt+1 >= s.cfg.MaxUpdateRetries {
			return nil, stratus.Errorf(stratus.ECONFLICT, "Alias is being updated concurrently, try again: %s", name)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("updating alias %s: %w", key, err)
		}
	}
}

// DeleteAlias deletes an alias.
func (s *Store) DeleteAlias(ctx context.Context, fn, name string) error {
	if s.lookup(fn) == nil {
		return notFound(fn)
	}
	if !validName(name) {
		return aliasNotFound(fn, name)
	}
	return s.deleteKey(ctx, s.vkv, s.aliases.deleteLocal, aliasKey(fn, name), aliasNotFound(fn, name))
}
