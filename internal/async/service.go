package async

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/hostcpu"
)

var _ stratus.AsyncInvoker = (*Service)(nil)

// Service queues asynchronous invocations and runs them. Create it with
// Open, start the workers with Start, stop everything with Close.
type Service struct {
	cfg     Config
	deps    Deps
	js      jetstream.JetStream
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	// cpuTimes reads the host's idle and total CPU time (hostcpu.Times).
	cpuTimes func() (idle, total uint64, ok bool)

	stream  jetstream.Stream
	cons    jetstream.Consumer
	commit  *committer
	configs *configStore

	mu      sync.Mutex
	started bool // mu guards started, cancel and deps.Queues
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the fetch loop and the workers
	closed  sync.Once
}

// Open creates or binds to the stream, the consumer and the configuration
// bucket. Events are accepted at once; they run after Start.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Functions == nil || deps.Invoker == nil {
		return nil, errors.New("async: Deps.Functions and Deps.Invoker are required")
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{cfg: cfg, deps: deps, js: js, log: lg, now: now, metrics: newMetrics(), cpuTimes: hostcpu.Times}
	var err error
	s.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Stratus asynchronous invocations: bundles of events and scheduled retries",
		Subjects:    []string{cfg.Subject + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.Duplicates,
		// Retries and backoffs are message schedules (which need roll-ups
		// allowed).
		AllowMsgSchedules: true,
		AllowRollup:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", cfg.Stream, err)
	}
	s.cons, err = s.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       "workers",
		Description:   "Stratus async invocation workers",
		FilterSubject: cfg.Subject + ".ev.>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		// The fetch loop bounds what it takes; the server need not.
		MaxAckPending: 1 << 20,
		Replicas:      cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("opening consumer of %s: %w", cfg.Stream, err)
	}
	if s.configs, err = openConfigStore(ctx, js, cfg, lg); err != nil {
		return nil, err
	}
	s.commit = newCommitter(cfg, js, func(n int, mode string, d time.Duration) {
		s.metrics.commits.WithLabelValues(mode).Observe(float64(n))
		s.metrics.commitTime.WithLabelValues(mode).Observe(d.Seconds())
	})
	s.commit.start()
	return s, nil
}

// SetQueueSender sets the service that delivers to SQS dead-letter queues
// and destinations (replacing Deps.Queues). It may be called at any time.
func (s *Service) SetQueueSender(q QueueSender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deps.Queues = q
}

func (s *Service) queueSender() QueueSender {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deps.Queues
}

// Start starts the workers. Events that were queued (also before a crash)
// run from now on.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.fetchLoop(ctx)
}

// Close stops fetching events, gives the invocations in flight up to
// grace to finish (those that do not are handed out again after a
// restart), and stops accepting events.
func (s *Service) Close(grace time.Duration) {
	s.closed.Do(func() { s.close(grace) })
}

func (s *Service) close(grace time.Duration) {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(grace):
			s.log.Warn("async workers still running at shutdown; their events run again after a restart")
		}
	}
	s.commit.close()
	s.configs.close()
}

// InvokeAsync queues req's event durably and returns its request id. The
// function must exist; its qualifier is checked when the event runs.
func (s *Service) InvokeAsync(ctx context.Context, req *stratus.InvokeRequest) (string, error) {
	if _, err := s.deps.Functions.Function(ctx, req.FunctionName); err != nil {
		if stratus.ErrorCode(err) == stratus.ENOTFOUND {
			return "", stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s",
				functionARN(s.cfg.Region, s.cfg.AccountID, req.FunctionName, req.Qualifier))
		}
		return "", err
	}
	ev := &event{
		Function:  req.FunctionName,
		Qualifier: req.Qualifier,
		RequestID: req.RequestID,
		TraceID:   req.TraceID,
		Enqueued:  s.now(),
		Payload:   req.Payload,
	}
	if ev.Qualifier == stratus.LatestVersion {
		ev.Qualifier = ""
	}
	if ev.RequestID == "" {
		ev.RequestID = awsapi.NewRequestID()
	}
	ev.Disabled = s.disabled(ctx, ev.Function)
	var err error
	if req.RequestID == "" {
		err = s.commit.publishEvent(ctx, ev)
	} else {
		// The caller's request id is an idempotency key: the event gets a
		// message of its own, which JetStream de-duplicates by that id.
		m := &nats.Msg{
			Subject: s.cfg.eventSubject(ev.Function, 1),
			Header:  nats.Header{hdrMsgID: []string{ev.RequestID}},
			Data:    encodeBundle([]*event{ev}),
		}
		err = s.commit.publishMsg(ctx, m)
	}
	if err != nil {
		if errors.Is(err, errClosed) {
			return "", stratus.Errorf(stratus.EUNAVAILABLE, "The server is shutting down; the event was not queued.")
		}
		return "", fmt.Errorf("queueing event %s for %s: %w", ev.RequestID, ev.Function, err)
	}
	s.metrics.received.WithLabelValues(ev.Function).Inc()
	return ev.RequestID, nil
}

// Backlog returns how many events of each function are queued, waiting
// for a retry or running (functions without events are absent).
func (s *Service) Backlog(ctx context.Context) (map[string]int, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.cfg.Subject+".>"))
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", s.cfg.Stream, err)
	}
	out := map[string]int{}
	for subj, n := range info.State.Subjects {
		if fn, events := s.cfg.backlogOf(subj); fn != "" {
			out[fn] += events * int(n)
		}
	}
	return out, nil
}
