// Package store keeps Stratus's durable state on JetStream and implements
// stratus.FunctionService.
//
// Functions live in the KV bucket "stratus_functions" (key = function
// name, value = JSON of stratus.Function for $LATEST). Deployment packages
// live in the object store "stratus_code" under the lower-case hex SHA-256
// of the zip, so identical packages are stored once.
//
// Reads never touch JetStream: a KV watch (started by Open, which returns
// once the initial values are loaded) feeds a node-local cache. Writes go
// to KV first and then update the cache synchronously, so a node reads its
// own writes; the watch skips entries older than what the cache holds.
//
// Published versions and aliases live in the KV bucket "stratus_versions"
// under "v.<function>.<n>" (JSON of stratus.Function) and
// "a.<function>.<alias>" (JSON of stratus.Alias); layer versions in the
// bucket "stratus_layers" under "l.<layer>.<n>" (JSON of
// stratus.LayerVersion), with the last number handed out for each layer
// under "n.<layer>". Function, alias and layer names never contain a dot,
// so these keys cannot collide, and function keys are unchanged from
// before versions existed. A function's version counter lives in its
// $LATEST record (Function.LastPublished) and is advanced by the same
// compare-and-swap that decides whether a new version is due.
//
// Code objects (function and layer packages) are not deleted with
// functions or layer versions, since other functions, published versions
// and functions using a deleted layer version may share them.
// Unreferenced objects are left for a garbage collector that does not
// exist yet.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

var (
	_ stratus.FunctionService = (*Store)(nil)
	_ stratus.VersionService  = (*Store)(nil)
	_ stratus.LayerService    = (*Store)(nil)
)

// Config configures a Store. Use DefaultConfig and override fields.
type Config struct {
	// FunctionsBucket is the KV bucket of functions.
	FunctionsBucket string
	// CodeBucket is the object store of deployment packages.
	CodeBucket string
	// VersionsBucket is the KV bucket of published versions and aliases.
	VersionsBucket string
	// LayersBucket is the KV bucket of layer versions.
	LayersBucket string
	// Replicas is the JetStream replication factor of both buckets: 1 on
	// a single node, 3 in a cluster of three or more.
	Replicas int
	// History is how many revisions of each function the bucket keeps
	// (1–64). Compare-and-swap does not need more than 1.
	History int
	// MaxUpdateRetries bounds how often UpdateFunction retries after
	// losing a compare-and-swap race.
	MaxUpdateRetries int
	// Logger receives problems found by the watcher (undecodable entries,
	// a stopped watch). Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the single-node defaults.
func DefaultConfig() Config {
	return Config{
		FunctionsBucket:  "stratus_functions",
		CodeBucket:       "stratus_code",
		VersionsBucket:   "stratus_versions",
		LayersBucket:     "stratus_layers",
		Replicas:         1,
		History:          1,
		MaxUpdateRetries: 50,
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.FunctionsBucket == "" {
		errs = append(errs, errors.New("store: FunctionsBucket is required"))
	}
	if c.CodeBucket == "" {
		errs = append(errs, errors.New("store: CodeBucket is required"))
	}
	if c.VersionsBucket == "" {
		errs = append(errs, errors.New("store: VersionsBucket is required"))
	}
	if c.LayersBucket == "" {
		errs = append(errs, errors.New("store: LayersBucket is required"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("store: Replicas must be 1–5, got %d", c.Replicas))
	}
	if c.History < 1 || c.History > 64 {
		errs = append(errs, fmt.Errorf("store: History must be 1–64, got %d", c.History))
	}
	if c.MaxUpdateRetries < 1 {
		errs = append(errs, fmt.Errorf("store: MaxUpdateRetries must be at least 1, got %d", c.MaxUpdateRetries))
	}
	return errors.Join(errs...)
}

// Store implements stratus.FunctionService on JetStream KV and object
// store, with a watch-driven cache.
type Store struct {
	cfg Config
	log *slog.Logger
	kv  jetstream.KeyValue
	obs jetstream.ObjectStore

	watcher jetstream.KeyWatcher
	wctx    context.Context // cancelled by Close
	cancel  context.CancelFunc
	done    chan struct{} // closed when the watch goroutine exits

	mu       sync.RWMutex
	cache    map[string]entry // mu guards cache and watchRev
	watchRev uint64           // highest revision the watch has delivered

	subMu   sync.Mutex
	subs    map[int]func(*stratus.Function, bool) // subMu guards subs and nextSub
	nextSub int

	vkv      jetstream.KeyValue             // versions and aliases
	versions *kvCache[stratus.Function]     // keys v.<function>.<n>
	aliases  *kvCache[stratus.Alias]        // keys a.<function>.<alias>
	lkv      jetstream.KeyValue             // layer versions and counters
	layers   *kvCache[stratus.LayerVersion] // keys l.<layer>.<n>
}

// Open creates or binds to the buckets named in cfg, starts the watch and
// returns once the cache holds every stored function.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.FunctionsBucket,
		Description: "Stratus functions ($LATEST), JSON by name",
		History:     uint8(cfg.History),
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", cfg.FunctionsBucket, err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      cfg.CodeBucket,
		Description: "Stratus deployment packages by hex sha256",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening object store %s: %w", cfg.CodeBucket, err)
	}
	s := &Store{
		cfg:   cfg,
		log:   cfg.Logger,
		kv:    kv,
		obs:   obs,
		done:  make(chan struct{}),
		cache: make(map[string]entry),
		subs:  make(map[int]func(*stratus.Function, bool)),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching bucket %s: %w", cfg.FunctionsBucket, err)
	}
	s.watcher, s.wctx, s.cancel = w, wctx, cancel
	ready := make(chan struct{})
	go s.watch(ready)
	select {
	case <-ready:
	case <-s.done:
		cancel()
		return nil, fmt.Errorf("loading bucket %s: watch stopped", cfg.FunctionsBucket)
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("loading bucket %s: %w", cfg.FunctionsBucket, ctx.Err())
	}
	if err := s.openVersions(ctx, js); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openVersions creates or binds to the buckets of versions, aliases and
// layers and loads their caches.
func (s *Store) openVersions(ctx context.Context, js jetstream.JetStream) error {
	var err error
	s.vkv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.VersionsBucket,
		Description: "Stratus published versions (v.<function>.<n>) and aliases (a.<function>.<alias>)",
		History:     uint8(s.cfg.History),
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", s.cfg.VersionsBucket, err)
	}
	s.lkv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.LayersBucket,
		Description: "Stratus layer versions (l.<layer>.<n>) and version counters (n.<layer>)",
		History:     uint8(s.cfg.History),
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", s.cfg.LayersBucket, err)
	}
	if s.versions, err = openKVCache[stratus.Function](ctx, s.vkv, s.cfg.VersionsBucket, "v.>", s.log); err != nil {
		return err
	}
	if s.aliases, err = openKVCache[stratus.Alias](ctx, s.vkv, s.cfg.VersionsBucket, "a.>", s.log); err != nil {
		return err
	}
	if s.layers, err = openKVCache[stratus.LayerVersion](ctx, s.lkv, s.cfg.LayersBucket, "l.>", s.log); err != nil {
		return err
	}
	return nil
}

// Close stops the watch and waits for its goroutine. After Close the cache
// no longer follows changes made by other nodes, and subscribers are no
// longer called. Close always returns nil; it is safe to call twice.
func (s *Store) Close() error {
	if s.versions != nil {
		s.versions.close()
	}
	if s.aliases != nil {
		s.aliases.close()
	}
	if s.layers != nil {
		s.layers.close()
	}
	s.cancel()
	_ = s.watcher.Stop() // fails only when the connection is already closed
	<-s.done
	// Unblock a delivery that may be stuck on a full updates channel, so
	// that draining the connection later does not wait for it.
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
	}(s.watcher.Updates())
	return nil
}
