package router

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/stratus-dev/stratus"
)

// invokeOutcome is what one invocation produced, before it is rendered as
// an InvokeResponse.
type invokeOutcome struct {
	payload     []byte
	errorType   string // "" on success
	log         *logPump
	duration    time.Duration
	initDur     time.Duration // > 0 on cold starts
	memoryMB    int
	maxMemBytes int64
	oom         bool
	timedOut    time.Duration // the timeout, when the invocation hit it
	initOnly    bool          // the environment failed during init
	start       startKind     // how the environment came to serve the invocation
	tail        []byte
}

// startKind says how an invocation got its environment.
type startKind int

const (
	startCold        startKind = iota // a new on-demand environment
	startWarm                         // an idle on-demand environment
	startProvisioned                  // a provisioned environment
	numStartKinds
)

var startKindNames = [numStartKinds]string{"cold", "warm", "provisioned"}

func (k startKind) String() string {
	if k < 0 || k >= numStartKinds {
		return "unknown"
	}
	return startKindNames[k]
}

// finish writes the END and REPORT lines (and the timeout line) and takes
// the invocation's log tail.
func (o *invokeOutcome) finish(requestID string) {
	o.log.platform("END RequestId: " + requestID)
	o.log.platform(o.reportLine(requestID))
	if o.timedOut > 0 {
		o.log.platform(fmt.Sprintf("%s %s Task timed out after %.2f seconds",
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), requestID, o.timedOut.Seconds()))
	}
	o.tail = o.log.end()
}

// finishInit logs an init failure: INIT_REPORT, then the invocation's
// START/END/REPORT.
func (o *invokeOutcome) finishInit(requestID, version string) {
	o.logInitFailure()
	o.log.platform("START RequestId: " + requestID + " Version: " + version)
	o.finish(requestID)
}

// logInitFailure logs the INIT_REPORT line of a failed initialisation.
func (o *invokeOutcome) logInitFailure() {
	o.log.platform(fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s",
		ms(o.initDur), o.errorType))
}

// reportLine renders the REPORT line of reference §4.2: TAB-separated,
// with a trailing TAB, Init Duration only on cold starts. After AWS's
// fields comes Stratus's own "Start Type: cold|warm|provisioned", which
// tells a provisioned environment's invocation (no Init Duration, as on
// AWS) from a warm one. Parsers of AWS's format read fields by name and
// skip unknown ones, as they must for the Status and XRAY fields AWS
// appends.
func (o *invokeOutcome) reportLine(requestID string) string {
	used := int(math.Ceil(float64(o.maxMemBytes) / (1 << 20)))
	if o.oom || used > o.memoryMB {
		used = o.memoryMB
	}
	d := ms(o.duration)
	line := "REPORT RequestId: " + requestID +
		"\tDuration: " + strconv.FormatFloat(d, 'f', 2, 64) + " ms" +
		"\tBilled Duration: " + strconv.FormatInt(int64(math.Ceil(d)), 10) + " ms" +
		"\tMemory Size: " + strconv.Itoa(o.memoryMB) + " MB" +
		"\tMax Memory Used: " + strconv.Itoa(used) + " MB\t"
	if o.initDur > 0 {
		line += "Init Duration: " + strconv.FormatFloat(ms(o.initDur), 'f', 2, 64) + " ms\t"
	}
	return line + "Start Type: " + o.start.String() + "\t"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// response renders the outcome for the Invoke API.
func (o *invokeOutcome) response(requestID, version string, tail bool) *stratus.InvokeResponse {
	resp := &stratus.InvokeResponse{RequestID: requestID, Payload: o.payload, ExecutedVersion: version}
	if o.errorType != "" {
		resp.FunctionError = "Unhandled"
	}
	if tail {
		resp.LogTail = o.tail
	}
	return resp
}
