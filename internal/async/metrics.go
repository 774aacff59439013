package async

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the async path's Prometheus metrics. They exist whether or
// not they are registered (Register), so the code can update them freely.
type metrics struct {
	received    *prometheus.CounterVec   // function
	invocations *prometheus.CounterVec   // outcome
	age         prometheus.Histogram     // event age at invoke
	retries     *prometheus.CounterVec   // reason
	dropped     *prometheus.CounterVec   // reason
	deliveries  *prometheus.CounterVec   // kind, target
	failures    *prometheus.CounterVec   // kind, target
	commits     *prometheus.HistogramVec // mode: events per group commit
	commitTime  *prometheus.HistogramVec // mode
}

func newMetrics() *metrics {
	return &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_events_received_total",
			Help: "Asynchronous invocation events accepted (stored durably), by function.",
		}, []string{"function"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_invocations_total",
			Help: "Attempts to invoke a queued event, by outcome: success, function_error, throttled, error, not_found.",
		}, []string{"outcome"}),
		age: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stratus_async_event_age_seconds",
			Help:    "Age of an event (time since it was accepted) when a worker invokes it.",
			Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 60, 180, 600, 1800, 3600, 21600},
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_retries_total",
			Help: "Events put back for another attempt, by reason: function_error (retry delay), throttled or error (backoff).",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_events_dropped_total",
			Help: "Events given up, by reason: retries_exhausted, expired (MaximumEventAgeInSeconds), disabled (reserved concurrency 0), function_not_found, invalid. They went to the DLQ / on-failure destination where one is configured.",
		}, []string{"reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_destination_deliveries_total",
			Help: "Records and events delivered, by kind (on_success, on_failure, dlq) and target (lambda, sqs).",
		}, []string{"kind", "target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stratus_async_destination_failures_total",
			Help: "Deliveries to destinations and dead-letter queues that failed after every attempt, by kind and target.",
		}, []string{"kind", "target"}),
		commits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stratus_async_commit_messages",
			Help:    "Events written per group commit, by mode (bundle: only new events, one message per function; message: also messages of their own: scheduled retries and backoffs, events with a caller's request id).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}, []string{"mode"}),
		commitTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stratus_async_commit_seconds",
			Help:    "Time to write one group commit, by mode.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}, []string{"mode"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.received, m.invocations, m.age, m.retries, m.dropped, m.deliveries, m.failures, m.commits, m.commitTime}
}

// Register adds the async path's metrics to reg.
func (s *Service) Register(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range s.metrics.collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
