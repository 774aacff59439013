package router

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names the router exports (Prometheus text format at /metrics).
// Per function, labelled function="<name>":
//
//	stratus_invocations_total                  invocations that reached an environment
//	stratus_invocation_errors_total            those that ended in a function error (incl. timeouts, crashes, init failures)
//	stratus_throttles_total{reason}            invocations refused with 429, by Reason
//	stratus_starts_total{kind}                 invocations by start kind: cold, warm, provisioned
//	stratus_invocation_duration_seconds        histogram of invocation durations (REPORT Duration)
//	stratus_init_duration_seconds              histogram of cold-start durations (REPORT Init Duration)
//	stratus_cold_start_phase_seconds{phase}    histogram of cold-start phases: sandbox, runtime, init
//	stratus_concurrent_executions              invocations in flight
//
// Per server:
//
//	stratus_environments{state}                environments by state: initializing, idle, busy, frozen
//	stratus_environments_reclaimed_total{reason}  idle environments shut down: keep-alive, memory-budget
//	stratus_memory_budget_bytes                the memory budget for environments
//	stratus_memory_budget_used_bytes           MemorySize of live and starting environments
//	stratus_memory_budget_free_bytes           what is left of the budget
//	stratus_account_concurrency_limit          the account's concurrency
//	stratus_unreserved_concurrency_limit       what functions without a reservation share
//	stratus_account_concurrent_executions      invocations in flight, all functions
//	stratus_provisioned_concurrency{function,qualifier,state}  requested, allocated and idle
type metrics struct {
	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	starts      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	initDur     *prometheus.HistogramVec
	phases      *prometheus.HistogramVec
	concurrent  *prometheus.GaugeVec
	reclaimed   *prometheus.CounterVec
}

var (
	durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}
	initBuckets     = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// newMetrics creates the router's metrics and registers them, with a
// collector of r's server-wide state, on reg (if not nil).
func newMetrics(r *Router, reg prometheus.Registerer) (*metrics, error) {
	fn := []string{"function"}
	m := &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stratus", Name: "invocations_total",
			Help: "Invocations that reached an execution environment."}, fn),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stratus", Name: "invocation_errors_total",
			Help: "Invocations that ended in a function error (including timeouts, crashes and init failures)."}, fn),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stratus", Name: "throttles_total",
			Help: "Invocations refused with TooManyRequestsException, by Reason."}, []string{"function", "reason"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stratus", Name: "starts_total",
			Help: "Invocations by how they got their environment: cold, warm or provisioned."}, []string{"function", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "stratus", Name: "invocation_duration_seconds",
			Help: "Invocation durations, as REPORT Duration.", Buckets: durationBuckets}, fn),
		initDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "stratus", Name: "init_duration_seconds",
			Help:    "Cold start durations (sandbox creation to the runtime's first request for an event), as REPORT Init Duration.",
			Buckets: initBuckets}, fn),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "stratus", Name: "cold_start_phase_seconds",
			Help:    "Cold start phases: sandbox (code, namespaces, cgroups, exec), runtime (until its first Runtime API connection), init (until its first invocation/next).",
			Buckets: initBuckets}, []string{"function", "phase"}),
		concurrent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "stratus", Name: "concurrent_executions",
			Help: "Invocations in flight."}, fn),
		reclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stratus", Name: "environments_reclaimed_total",
			Help: "Idle environments shut down, by reason: keep-alive or memory-budget."}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.invocations, m.errors, m.throttles, m.starts, m.duration,
		m.initDur, m.phases, m.concurrent, m.reclaimed, &serverCollector{r: r}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering router metrics: %w", err)
		}
	}
	return m, nil
}

// fnMetrics are the metrics of one function, resolved once so that an
// invocation does not look labels up.
type fnMetrics struct {
	m                       *metrics
	name                    string
	invocations, errors     prometheus.Counter
	duration, initDur       prometheus.Observer
	sandbox, runtime, initP prometheus.Observer
	starts                  [numStartKinds]prometheus.Counter
	concurrent              prometheus.Gauge
}

func (m *metrics) forFunction(name string) fnMetrics {
	f := fnMetrics{
		m:           m,
		name:        name,
		invocations: m.invocations.WithLabelValues(name),
		errors:      m.errors.WithLabelValues(name),
		duration:    m.duration.WithLabelValues(name),
		initDur:     m.initDur.WithLabelValues(name),
		sandbox:     m.phases.WithLabelValues(name, "sandbox"),
		runtime:     m.phases.WithLabelValues(name, "runtime"),
		initP:       m.phases.WithLabelValues(name, "init"),
		concurrent:  m.concurrent.WithLabelValues(name),
	}
	for k := range numStartKinds {
		f.starts[k] = m.starts.WithLabelValues(name, k.String())
	}
	return f
}

func (f fnMetrics) throttles(reason string) prometheus.Counter {
	return f.m.throttles.WithLabelValues(f.name, reason)
}

// observe counts an invocation that reached an environment.
func (f fnMetrics) observe(o *invokeOutcome, kind startKind) {
	f.invocations.Inc()
	f.starts[kind].Inc()
	if o.errorType != "" {
		f.errors.Inc()
	}
	f.duration.Observe(o.duration.Seconds())
}

// observeColdStart records a successful cold start's duration and phases.
func (f fnMetrics) observeColdStart(p coldPhases) {
	f.initDur.Observe(p.total.Seconds())
	f.sandbox.Observe(p.sandbox.Seconds())
	f.runtime.Observe(p.runtime.Seconds())
	f.initP.Observe(p.init.Seconds())
}

// fnMetrics returns the metrics of function name.
func (r *Router) fnMetrics(name string) fnMetrics {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fnStateLocked(name).m
}

// serverCollector exports the router's server-wide state at scrape time.
type serverCollector struct{ r *Router }

var (
	descEnvironments = prometheus.NewDesc("stratus_environments",
		"Execution environments by state: initializing, idle, busy, frozen.", []string{"state"}, nil)
	descBudget = prometheus.NewDesc("stratus_memory_budget_bytes",
		"The memory budget for execution environments (sum of their MemorySize).", nil, nil)
	descBudgetUsed = prometheus.NewDesc("stratus_memory_budget_used_bytes",
		"MemorySize of live and starting execution environments.", nil, nil)
	descBudgetFree = prometheus.NewDesc("stratus_memory_budget_free_bytes",
		"What is left of the memory budget.", nil, nil)
	descAccountLimit = prometheus.NewDesc("stratus_account_concurrency_limit",
		"The account's concurrency limit.", nil, nil)
	descUnreservedLimit = prometheus.NewDesc("stratus_unreserved_concurrency_limit",
		"Concurrency shared by functions without reserved concurrency (beyond their provisioned concurrency).", nil, nil)
	descAccountInUse = prometheus.NewDesc("stratus_account_concurrent_executions",
		"Invocations in flight, all functions.", nil, nil)
	descProvisioned = prometheus.NewDesc("stratus_provisioned_concurrency",
		"Provisioned concurrency of a version or alias: requested, allocated (initialised environments) and idle (of those, not serving an invocation).",
		[]string{"function", "qualifier", "state"}, nil)
)

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEnvironments, descBudget, descBudgetUsed, descBudgetFree,
		descAccountLimit, descUnreservedLimit, descAccountInUse, descProvisioned} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.snapshot()
	for st := range numStates {
		ch <- prometheus.MustNewConstMetric(descEnvironments, prometheus.GaugeValue, float64(s.total[st]), st.String())
	}
	const mb = 1 << 20
	ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(s.budgetMB*mb))
	ch <- prometheus.MustNewConstMetric(descBudgetUsed, prometheus.GaugeValue, float64(s.memUsedMB*mb))
	ch <- prometheus.MustNewConstMetric(descBudgetFree, prometheus.GaugeValue, float64(max(s.budgetMB-s.memUsedMB, 0)*mb))
	ch <- prometheus.MustNewConstMetric(descAccountLimit, prometheus.GaugeValue, float64(s.limits.account))
	ch <- prometheus.MustNewConstMetric(descUnreservedLimit, prometheus.GaugeValue, float64(max(s.limits.pool, 0)))
	ch <- prometheus.MustNewConstMetric(descAccountInUse, prometheus.GaugeValue, float64(s.inFlight))
	for _, p := range s.prov {
		ch <- prometheus.MustNewConstMetric(descProvisioned, prometheus.GaugeValue, float64(p.Requested), p.Function, p.Qualifier, "requested")
		ch <- prometheus.MustNewConstMetric(descProvisioned, prometheus.GaugeValue, float64(p.Allocated), p.Function, p.Qualifier, "allocated")
		ch <- prometheus.MustNewConstMetric(descProvisioned, prometheus.GaugeValue, float64(p.Idle), p.Function, p.Qualifier, "idle")
	}
}
