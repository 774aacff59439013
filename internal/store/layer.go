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

// Keys of the layers bucket.
func layerKey(name string, n int64) string { return "l." + name + "." + strconv.FormatInt(n, 10) }
func layerCounterKey(name string) string   { return "n." + name }

// layerCounter is the value under layerCounterKey: the last version
// number handed out.
type layerCounter struct {
	Last int64 `json:"last"`
}

func layerNotFound() error {
	return stratus.Errorf(stratus.ENOTFOUND, "The resource you requested does not exist.")
}

// PublishLayerVersion reserves the next version number of the layer with
// a compare-and-swap on its counter, then stores the version.
func (s *Store) PublishLayerVersion(ctx context.Context, lv *stratus.LayerVersion) (*stratus.LayerVersion, error) {
	if lv == nil || !validName(lv.Name) {
		return nil, stratus.Errorf(stratus.EINVALID, "Invalid layer name.")
	}
	lv = lv.Clone()
	ckey := layerCounterKey(lv.Name)
	for attempt := 0; ; attempt++ {
		var next int64
		var err error
		e, gerr := s.lkv.Get(ctx, ckey)
		switch {
		case errors.Is(gerr, jetstream.ErrKeyNotFound):
			next = 1
			_, err = s.lkv.Create(ctx, ckey, []byte(`{"last":1}`))
		case gerr != nil:
			return nil, fmt.Errorf("reading layer counter %s: %w", ckey, gerr)
		default:
			var c layerCounter
			if err := json.Unmarshal(e.Value(), &c); err != nil {
				return nil, fmt.Errorf("decoding layer counter %s: %w", ckey, err)
			}
			next = c.Last + 1
			data, _ := json.Marshal(layerCounter{Last: next})
			_, err = s.lkv.Update(ctx, ckey, data, e.Revision())
		}
		if err == nil {
			lv.Version = next
			break
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("numbering layer %s: %w", lv.Name, err)
		}
		if attempt+1 >= s.cfg.MaxUpdateRetries {
			return nil, stratus.Errorf(stratus.ECONFLICT, "Layer is being published concurrently, try again: %s", lv.Name)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("numbering layer %s: %w", lv.Name, err)
		}
	}
	data, err := json.Marshal(lv)
	if err != nil {
		return nil, fmt.Errorf("encoding layer %s: %w", lv.Name, err)
	}
	key := layerKey(lv.Name, lv.Version)
	rev, err := s.lkv.Put(ctx, key, data) // the number is ours alone
	if err != nil {
		return nil, fmt.Errorf("storing layer version %s: %w", key, err)
	}
	s.layers.storeLocal(key, lv, rev)
	return lv.Clone(), nil
}

// LayerVersion returns one layer version from the cache.
func (s *Store) LayerVersion(_ context.Context, name string, version int64) (*stratus.LayerVersion, error) {
	if !validName(name) || version < 1 {
		return nil, layerNotFound()
	}
	lv, ok := s.layers.get(layerKey(name, version))
	if !ok {
		return nil, layerNotFound()
	}
	return lv.Clone(), nil
}

// LayerVersions returns every layer version, by layer name and newest
// version first.
func (s *Store) LayerVersions(context.Context) ([]*stratus.LayerVersion, error) {
	vals := s.layers.all()
	out := make([]*stratus.LayerVersion, len(vals))
	for i, lv := range vals {
		out[i] = lv.Clone()
	}
	slices.SortFunc(out, func(a, b *stratus.LayerVersion) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		switch {
		case a.Version > b.Version:
			return -1
		case a.Version < b.Version:
			return 1
		}
		return 0
	})
	return out, nil
}

// DeleteLayerVersion deletes a layer version's record; its package stays
// in the code store for the functions that use it.
func (s *Store) DeleteLayerVersion(ctx context.Context, name string, version int64) error {
	if !validName(name) || version < 1 {
		return nil
	}
	return s.deleteKey(ctx, s.lkv, s.layers.deleteLocal, layerKey(name, version), nil)
}
