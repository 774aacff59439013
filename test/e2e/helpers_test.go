package e2e

import (
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkFor calls f every interval until it returns nil, and fails the test
// with f's last error if that does not happen within total.
func checkFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", total, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting: %v", err)
		case <-time.After(interval):
		}
	}
}

func decodeLogResult(t testing.TB, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("LogResult is not base64: %v: %q", err, s)
	}
	return string(b)
}

var (
	uuidRE         = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	lastModifiedRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$`)
	logStreamRE    = regexp.MustCompile(`^(\d{4}/\d{2}/\d{2})/\[\$LATEST\][0-9a-f]{32}$`)

	startRE = regexp.MustCompile(`(?m)^START RequestId: (\S+) Version: (\S+)$`)
	endRE   = regexp.MustCompile(`(?m)^END RequestId: (\S+)$`)
	// reportRE is the exact REPORT format of reference §4.2, followed by
	// Stratus's own "Start Type: cold|warm|provisioned" field.
	reportRE = regexp.MustCompile(`(?m)^REPORT RequestId: (\S+)\tDuration: (\d+\.\d{2}) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d{2}) ms\t)?(?:Start Type: (cold|warm|provisioned)\t)?$`)
	// reportLooseRE accepts extra fields after the memory ones, for
	// failed invokes where newer platforms append a status.
	reportLooseRE = regexp.MustCompile(`(?m)^REPORT RequestId: (\S+)\t.*Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(.*)$`)
)

// report is a parsed REPORT line.
type report struct {
	RequestID     string
	Duration      float64
	Billed        int
	MemorySize    int
	MaxMemoryUsed int
	Cold          bool // has Init Duration
	InitDuration  float64
	StartType     string // cold, warm or provisioned
}

// checkPlatformLines checks the START, END and REPORT lines of one
// invocation's log (e.g. a decoded LogResult) against reference §4.2 and
// returns the REPORT. reqID, if not "", is the invocation's request id.
func checkPlatformLines(t testing.TB, log, reqID string, memory int, cold bool) report {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nlog:\n%s", fmt.Sprintf(format, args...), log)
	}
	reports := reportRE.FindAllStringSubmatchIndex(log, -1)
	if len(reports) != 1 {
		fail("want exactly one REPORT line in the format %q, found %d", `REPORT RequestId: <id>\tDuration: X.XX ms\tBilled Duration: N ms\tMemory Size: M MB\tMax Memory Used: U MB\t[Init Duration: X.XX ms\t][Start Type: cold|warm|provisioned\t]`, len(reports))
	}
	m := reports[0]
	sub := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return log[m[2*i]:m[2*i+1]]
	}
	var r report
	r.RequestID = sub(1)
	r.Duration, _ = strconv.ParseFloat(sub(2), 64)
	r.Billed, _ = strconv.Atoi(sub(3))
	r.MemorySize, _ = strconv.Atoi(sub(4))
	r.MaxMemoryUsed, _ = strconv.Atoi(sub(5))
	if s := sub(6); s != "" {
		r.Cold = true
		r.InitDuration, _ = strconv.ParseFloat(s, 64)
	}
	if r.StartType = sub(7); r.StartType != "" && r.Cold != (r.StartType == "cold") {
		t.Errorf("REPORT Start Type %s disagrees with Init Duration %q", r.StartType, sub(6))
	}
	if reqID != "" && r.RequestID != reqID {
		fail("REPORT RequestId %q, want %q", r.RequestID, reqID)
	}
	if !uuidRE.MatchString(r.RequestID) {
		t.Errorf("request id %q is not a lower-case UUID", r.RequestID)
	}

	start := startRE.FindStringSubmatchIndex(log)
	if start == nil || log[start[2]:start[3]] != r.RequestID || log[start[4]:start[5]] != "$LATEST" {
		fail("want a line %q", "START RequestId: "+r.RequestID+" Version: $LATEST")
	}
	end := endRE.FindStringSubmatchIndex(log)
	if end == nil || log[end[2]:end[3]] != r.RequestID {
		fail("want a line %q", "END RequestId: "+r.RequestID)
	}
	if !(start[0] < end[0] && end[0] < m[0]) {
		fail("want START, END, REPORT in that order")
	}

	// Billed Duration is Duration rounded up to 1 ms (Duration is printed
	// rounded to 2 decimals, so allow for that).
	if b := float64(r.Billed); b < math.Floor(r.Duration) || b > math.Ceil(r.Duration)+1 {
		t.Errorf("Billed Duration %d ms does not round up Duration %.2f ms", r.Billed, r.Duration)
	}
	if r.MemorySize != memory {
		t.Errorf("REPORT Memory Size %d MB, want %d", r.MemorySize, memory)
	}
	if r.MaxMemoryUsed <= 0 || r.MaxMemoryUsed > r.MemorySize {
		t.Errorf("REPORT Max Memory Used %d MB, want within (0, %d]", r.MaxMemoryUsed, r.MemorySize)
	}
	if r.Cold != cold {
		if cold {
			t.Errorf("REPORT has no Init Duration, want a cold start (new execution environment):\n%s", log)
		} else {
			t.Errorf("REPORT has Init Duration, want a warm invoke (reused execution environment):\n%s", log)
		}
	}
	return r
}

// looseReport finds the REPORT line of a failed invocation, allowing
// extra trailing fields.
func looseReport(t testing.TB, log string) (memorySize, maxUsed int, rest string) {
	t.Helper()
	m := reportLooseRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no REPORT line with Memory Size and Max Memory Used in the log:\n%s", log)
	}
	memorySize, _ = strconv.Atoi(m[2])
	maxUsed, _ = strconv.Atoi(m[3])
	return memorySize, maxUsed, m[4]
}

// isCold reports whether the REPORT line of log has an Init Duration.
func isCold(log string) bool {
	m := reportLooseRE.FindStringSubmatch(log)
	return m != nil && strings.Contains(m[0], "Init Duration: ")
}

// functionConfig is a FunctionConfiguration as the AWS CLI prints it.
type functionConfig struct {
	FunctionName     string
	FunctionArn      string
	Runtime          string
	Role             string
	Handler          string
	CodeSize         int64
	CodeSha256       string
	Description      string
	Timeout          int
	MemorySize       int
	LastModified     string
	Version          string
	RevisionId       string
	State            string
	LastUpdateStatus string
	PackageType      string
	Architectures    []string
	EphemeralStorage struct{ Size int }
	Environment      struct{ Variables map[string]string }
}

// wantConfig is what checkConfig expects of a FunctionConfiguration.
type wantConfig struct {
	Name       string
	Zip        []byte
	MemorySize int
	Timeout    int
	Env        map[string]string
	// After is a time before the last change; LastModified must not be
	// earlier (minus a second of slack).
	After time.Time
}

// checkConfig checks the fields of reference §2.3 that every
// FunctionConfiguration of a $LATEST provided.al2023 function carries.
func checkConfig(t testing.TB, got functionConfig, want wantConfig) {
	t.Helper()
	eq := func(field string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	eq("FunctionName", got.FunctionName, want.Name)
	eq("FunctionArn", got.FunctionArn, functionARN(want.Name))
	eq("Runtime", got.Runtime, "provided.al2023")
	eq("Handler", got.Handler, "bootstrap")
	eq("Role", got.Role, testRole)
	eq("Version", got.Version, "$LATEST")
	eq("CodeSha256", got.CodeSha256, codeSha256(want.Zip))
	eq("CodeSize", got.CodeSize, len(want.Zip))
	eq("MemorySize", got.MemorySize, want.MemorySize)
	eq("Timeout", got.Timeout, want.Timeout)
	eq("PackageType", got.PackageType, "Zip")
	eq("Architectures", got.Architectures, []string{"x86_64"})
	eq("EphemeralStorage.Size", got.EphemeralStorage.Size, 512)
	if want.Env != nil {
		eq("Environment.Variables", sortedMap(got.Environment.Variables), sortedMap(want.Env))
	}
	if !uuidRE.MatchString(got.RevisionId) {
		t.Errorf("RevisionId = %q, want a UUID", got.RevisionId)
	}
	checkLastModified(t, got.LastModified, want.After)
}

func checkLastModified(t testing.TB, s string, after time.Time) {
	t.Helper()
	if !lastModifiedRE.MatchString(s) {
		t.Errorf("LastModified = %q, want the format 2006-01-02T15:04:05.000+0000", s)
		return
	}
	lm, err := time.Parse("2006-01-02T15:04:05.000-0700", s)
	if err != nil {
		t.Errorf("LastModified %q: %v", s, err)
		return
	}
	if lm.Before(after.Add(-time.Second)) || lm.After(time.Now().Add(time.Second)) {
		t.Errorf("LastModified = %s, want between %s and now", s, after.UTC().Format(time.RFC3339Nano))
	}
}

// sortedMap renders m deterministically for comparisons.
func sortedMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, m[k])
	}
	return b.String()
}
