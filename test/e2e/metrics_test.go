package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics and parses it with Prometheus's text parser.
func scrape(t testing.TB, srv *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// metricValue sums the samples of family name whose labels include all of
// labels (name=value pairs): counter and gauge values, histogram counts.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	sum := 0.0
	mf := mfs[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// statusDoc is the part of /_stratus/status the tests read.
type statusDoc struct {
	Sandbox string `json:"sandbox"`
	Account struct {
		ConcurrencyLimit int `json:"concurrencyLimit"`
		InUse            int `json:"inUse"`
	} `json:"account"`
	Memory struct {
		BudgetMB int `json:"budgetMB"`
		UsedMB   int `json:"usedMB"`
	} `json:"memory"`
	Environments map[string]int `json:"environments"`
	Functions    []struct {
		Name                string         `json:"name"`
		ReservedConcurrency *int           `json:"reservedConcurrency"`
		ConcurrencyLimit    int            `json:"concurrencyLimit"`
		InUse               int            `json:"inUse"`
		Environments        map[string]int `json:"environments"`
		Provisioned         []struct {
			Qualifier string `json:"qualifier"`
			Requested int    `json:"requested"`
			Allocated int    `json:"allocated"`
			Status    string `json:"status"`
		} `json:"provisioned"`
	} `json:"functions"`
}

func serverStatus(t testing.TB, srv *Server) statusDoc {
	t.Helper()
	resp, err := http.Get(srv.URL + "/_stratus/status")
	if err != nil {
		t.Fatalf("GET /_stratus/status: %v", err)
	}
	defer resp.Body.Close()
	var doc statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /_stratus/status: %s, %v", resp.Status, err)
	}
	return doc
}

// envsOf sums the environments of function name in the given states
// (every state when none is given).
func (d statusDoc) envsOf(name string, states ...string) int {
	if len(states) == 0 {
		states = []string{"initializing", "idle", "busy", "frozen"}
	}
	n := 0
	for _, f := range d.Functions {
		if f.Name == name {
			for _, s := range states {
				n += f.Environments[s]
			}
		}
	}
	return n
}

// TestMetrics parses /metrics with Prometheus's text parser and checks the
// counters against the invokes the test made: 3 successes (1 cold, 2
// warm), 1 function error, 2 throttles.
func TestMetrics(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--memory-budget", "1GB"}})
	c := NewLambdaClient(srv.URL)
	const name = "metrics-fn"
	mustCreateFunction(t, c, name, nil)
	for range 3 {
		invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil)
	}
	invoke(t, c, name, Event{Action: "error", Message: "boom"}).mustFunctionError(t)
	if _, err := c.PutFunctionConcurrency(ctxFor(t, time.Minute), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := tryInvoke(t, c, name, Event{Action: "echo"})
		mustAPIError(t, err, 429, "TooManyRequestsException")
	}

	mfs := scrape(t, srv)
	fn := []string{"function", name}
	for _, tc := range []struct {
		metric string
		labels []string
		want   float64
	}{
		{"stratus_invocations_total", fn, 4},
		{"stratus_invocation_errors_total", fn, 1},
		{"stratus_throttles_total", append(fn, "reason", "ReservedFunctionConcurrentInvocationLimitExceeded"), 2},
		{"stratus_starts_total", append(fn, "kind", "cold"), 1},
		{"stratus_starts_total", append(fn, "kind", "warm"), 3},
		{"stratus_starts_total", append(fn, "kind", "provisioned"), 0},
		{"stratus_invocation_duration_seconds", fn, 4},
		{"stratus_init_duration_seconds", fn, 1},
		{"stratus_cold_start_phase_seconds", append(fn, "phase", "sandbox"), 1},
		{"stratus_cold_start_phase_seconds", append(fn, "phase", "runtime"), 1},
		{"stratus_cold_start_phase_seconds", append(fn, "phase", "init"), 1},
		{"stratus_concurrent_executions", fn, 0},
		{"stratus_environments", nil, 1},
		{"stratus_memory_budget_bytes", nil, 1 << 30},
		{"stratus_memory_budget_used_bytes", nil, 128 << 20},
		{"stratus_memory_budget_free_bytes", nil, 1<<30 - 128<<20},
		{"stratus_account_concurrency_limit", nil, 1000},
	} {
		if got := metricValue(mfs, tc.metric, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}
	if mfs["stratus_invocation_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("stratus_invocation_duration_seconds is a %v, want a histogram", mfs["stratus_invocation_duration_seconds"].GetType())
	}
	for _, st := range []string{"initializing", "idle", "busy", "frozen"} {
		if _, ok := findSample(mfs, "stratus_environments", "state", st); !ok {
			t.Errorf("stratus_environments has no state=%q sample", st)
		}
	}
}

func findSample(mfs map[string]*dto.MetricFamily, name, label, value string) (*dto.Metric, bool) {
	for _, m := range mfs[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m, true
			}
		}
	}
	return nil, false
}

// String renders the environments by state, for messages.
func (d statusDoc) String() string {
	var b strings.Builder
	for _, f := range d.Functions {
		fmt.Fprintf(&b, "%s: %v in use %d; ", f.Name, f.Environments, f.InUse)
	}
	return b.String()
}
