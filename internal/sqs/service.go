package sqs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

var (
	_ stratus.Queues        = (*Service)(nil)
	_ stratus.QueueConsumer = (*Service)(nil)
)

// Config configures a Service. Use DefaultConfig and override fields.
type Config struct {
	Region    string
	AccountID string
	// Bucket is the KV bucket of queue records (and the receipt key).
	Bucket string
	// Replicas is the replication factor of the bucket and of every
	// queue's stream: 1 on a single node, 3 in a cluster.
	Replicas int
	// CacheBytes bounds, per queue, the recently stored bundles kept in
	// memory so that receives need not read them back.
	CacheBytes int
	// DeletedNameBlock is how long the name of a deleted queue cannot be
	// reused (AWS: 60 seconds).
	DeletedNameBlock time.Duration
	// Logger receives problems the service cannot report to a caller.
	// Nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the single-node defaults of DESIGN.md.
func DefaultConfig() Config {
	return Config{
		Region:           "us-east-1",
		AccountID:        "000000000000",
		Bucket:           "stratus_sqs",
		Replicas:         1,
		CacheBytes:       16 << 20,
		DeletedNameBlock: 60 * time.Second,
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("sqs: Region %q is not a region name like us-east-1", c.Region))
	}
	if !accountRE.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("sqs: AccountID %q is not 12 digits", c.AccountID))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("sqs: Bucket is required"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("sqs: Replicas must be 1–5, got %d", c.Replicas))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("sqs: CacheBytes must not be negative, got %d", c.CacheBytes))
	}
	if c.DeletedNameBlock < 0 {
		errs = append(errs, fmt.Errorf("sqs: DeletedNameBlock must not be negative, got %s", c.DeletedNameBlock))
	}
	return errors.Join(errs...)
}

// Service is the SQS-compatible queue service: a catalog of queues in a
// JetStream KV bucket, followed by a watch-fed cache, and one engine per
// queue. It implements stratus.Queues and stratus.QueueConsumer; Handler
// serves its wire protocols.
type Service struct {
	cfg      Config
	log      *slog.Logger
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	receipts receiptCodec

	watcher jetstream.KeyWatcher
	cancel  context.CancelFunc
	done    chan struct{}

	mu     sync.RWMutex
	queues map[string]*queueEntry // mu guards queues; by queue name
}

// queueEntry is a cached queue record and, for live queues, its engine.
type queueEntry struct {
	rec *queueRecord
	rev uint64
	eng *engine
}

// Keys of the catalog bucket: queue records under "q.", the receipt key.
const (
	queueKeyPrefix = "q."
	receiptKeyKey  = "meta.receipt-key"
)

// Open binds to the catalog bucket, loads every queue, opens their
// engines (rebuilding each index from its stream) and follows changes.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, log: cfg.Logger, js: js, queues: make(map[string]*queueEntry), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "Stratus SQS queues",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", cfg.Bucket, err)
	}
	s.kv = kv
	if s.receipts.key, err = s.receiptKey(ctx); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(wctx, queueKeyPrefix+">")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching bucket %s: %w", cfg.Bucket, err)
	}
	s.watcher, s.cancel = w, cancel
	ready := make(chan struct{})
	go s.watch(ready)
	select {
	case <-ready:
	case <-s.done:
		cancel()
		return nil, fmt.Errorf("loading bucket %s: watch stopped", cfg.Bucket)
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("loading bucket %s: %w", cfg.Bucket, ctx.Err())
	}
	if err := s.openAll(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// receiptKey loads the deployment's receipt HMAC key, creating it on
// first start.
func (s *Service) receiptKey(ctx context.Context) ([]byte, error) {
	for range 3 {
		e, err := s.kv.Get(ctx, receiptKeyKey)
		if err == nil {
			return hex.DecodeString(string(e.Value()))
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("reading the receipt key: %w", err)
		}
		var key [32]byte
		_, _ = rand.Read(key[:])
		if _, err := s.kv.Create(ctx, receiptKeyKey, []byte(hex.EncodeToString(key[:]))); err == nil {
			return key[:], nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("creating the receipt key: %w", err)
		}
	}
	return nil, errors.New("creating the receipt key: lost the race three times")
}

// openAll opens the engine of every live queue and finishes interrupted
// deletions.
func (s *Service) openAll(ctx context.Context) error {
	s.mu.RLock()
	var live, dead []*queueRecord
	for _, qe := range s.queues {
		if qe.rec.Deleted.IsZero() {
			live = append(live, qe.rec)
		} else {
			dead = append(dead, qe.rec)
		}
	}
	s.mu.RUnlock()
	for _, rec := range live {
		eng, err := s.openEngine(ctx, rec)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if qe := s.queues[rec.Name]; qe != nil && qe.rec == rec && qe.eng == nil {
			qe.eng = eng
			eng = nil
		}
		s.mu.Unlock()
		if eng != nil {
			eng.close()
		}
	}
	for _, rec := range dead {
		s.dropStream(ctx, rec)
	}
	return nil
}

// Close stops following the catalog and closes every engine. Stored
// state stays. It is safe to call twice.
func (s *Service) Close() error {
	if s.cancel != nil {
		s.cancel()
		_ = s.watcher.Stop()
		<-s.done
	}
	s.mu.Lock()
	var engines []*engine
	for _, qe := range s.queues {
		if qe.eng != nil {
			engines = append(engines, qe.eng)
			qe.eng = nil
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Go(e.close)
	}
	wg.Wait()
	return nil
}

// queueARN returns the ARN of queue name.
func (s *Service) queueARN(name string) string {
	return "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// nameFromARN returns the queue name of an ARN of this region and
// account, or "".
func (s *Service) nameFromARN(arn string) string {
	name, ok := strings.CutPrefix(arn, "arn:aws:sqs:"+s.cfg.Region+":"+s.cfg.AccountID+":")
	if !ok {
		return ""
	}
	return name
}

// engine returns the engine of a live queue.
func (s *Service) engine(name string) (*engine, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if qe := s.queues[name]; qe != nil && qe.eng != nil && qe.rec.Deleted.IsZero() {
		return qe.eng, nil
	}
	return nil, errNoQueue()
}

func (s *Service) engineByARN(arn string) (*engine, error) {
	name := s.nameFromARN(arn)
	if name == "" {
		return nil, errNoQueue()
	}
	return s.engine(name)
}

// record returns a live queue's record (shared: do not modify).
func (s *Service) record(name string) (*queueRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if qe := s.queues[name]; qe != nil && qe.rec.Deleted.IsZero() {
		return qe.rec, nil
	}
	return nil, errNoQueue()
}
