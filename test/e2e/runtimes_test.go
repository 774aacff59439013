package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Managed runtimes (issue 4, points 1 and 2): Python and Node.js handlers,
// zipped from the sources below, deployed and invoked with the AWS CLI and
// aws-sdk-go-v2. Error documents are compared field by field with what
// AWS's own runtimes return.

const pyRuntimeApp = `import json, logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)

init_count = 0
invocations = 0
init_count += 1  # module-level code: once per execution environment
print("module initialised")


def handler(event, context):
    global invocations
    invocations += 1
    print("plain print from the handler")
    logger.info("info from the handler")
    return {"init_count": init_count, "invocations": invocations, "event": event,
            "exec_env": os.environ.get("AWS_EXECUTION_ENV")}


def context_fields(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_custom": cc.custom if cc else None,
        "identity_id": context.identity.cognito_identity_id,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
    }


class OrderError(Exception):
    pass


def fail(event, context):
    raise OrderError("order " + str(event["order"]) + " is invalid")


def unserialisable(event, context):
    return {1, 2, 3}
`

const nodeRuntimeApp = `let initCount = 0;
let invocations = 0;
initCount++; // module-level code: once per execution environment
console.log('module initialised');

exports.handler = async (event, context) => {
  invocations++;
  console.log('log from the handler', { n: invocations });
  return { initCount, invocations, event, execEnv: process.env.AWS_EXECUTION_ENV };
};

exports.promise = (event) => new Promise((resolve) => setTimeout(() => resolve({ promised: event.value }), 5));

// Answers when the event loop is empty, unless told not to wait.
exports.callback = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = !event.noWait;
  setTimeout(() => console.log('timer fired'), event.timerMs);
  callback(null, { waited: context.callbackWaitsForEmptyEventLoop });
};

exports.contextFields = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remainingMs: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext,
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  traceId: process.env._X_AMZN_TRACE_ID,
});

class OrderError extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderError';
  }
}

exports.fail = async (event) => {
  throw new OrderError('order ' + event.order + ' is invalid');
};

exports.callbackFail = (event, context, callback) => callback(new Error('callback failure'));
`

const nodeRuntimeESM = `let initCount = 0;
initCount++;
await new Promise((resolve) => setTimeout(resolve, 20)); // top-level await is part of init
export const handler = async (event) => ({ esm: true, initCount, event });
`

// runtimeFunction creates name on runtime from files with the SDK.
func runtimeFunction(t *testing.T, c *lambda.Client, name, runtime, handler string, files map[string]string) {
	t.Helper()
	var entries []zipEntry
	for _, n := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, zipEntry{Name: n, Data: []byte(files[n])})
	}
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Runtime = types.Runtime(runtime)
		in.Handler = aws.String(handler)
		in.Code = &types.FunctionCode{ZipFile: mustZip(t, entries...)}
	})
}

// reportOf returns the REPORT line of an invocation's log.
func reportOf(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^REPORT RequestId: .*$`).FindString(log)
	if m == "" {
		t.Fatalf("no REPORT line in:\n%s", log)
	}
	return m
}

// durationOf returns the Duration of a REPORT line, in milliseconds.
func durationOf(t *testing.T, report string) float64 {
	t.Helper()
	var ms float64
	m := regexp.MustCompile(`\tDuration: ([0-9.]+) ms`).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no Duration in %q", report)
	}
	fmt.Sscan(m[1], &ms)
	return ms
}

// hostVersion runs an interpreter's --version and returns the version.
func hostVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	f := strings.Fields(string(out))
	return strings.TrimPrefix(f[len(f)-1], "v")
}

// pyError is the error document of AWS's Python runtime.
type pyError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    *string  `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
}

// nodeError is the error document of AWS's Node.js runtime.
type nodeError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	Trace        []string `json:"trace"`
}

// mustKeys fails unless the JSON object doc has exactly keys, in order.
func mustKeys(t *testing.T, doc []byte, keys ...string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	var got []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("error document %s is not an object", doc)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("error document %s: %v", doc, err)
		}
		got = append(got, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("error document %s: %v", doc, err)
		}
	}
	if !slices.Equal(got, keys) {
		t.Errorf("error document keys = %v, want %v (AWS's order): %s", got, keys, doc)
	}
}

var runtimeLogTimeRE = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

func TestPythonRuntime(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)

	// Deployed and invoked with the AWS CLI.
	zipPath := writeTempFile(t, "py.zip", mustZip(t, zipEntry{Name: "app.py", Data: []byte(pyRuntimeApp)}))
	var created functionConfig
	cli.MustJSON(&created, "lambda", "create-function", "--function-name", "py-cli", "--runtime", "python3.12",
		"--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://"+zipPath)
	if created.Runtime != "python3.12" || created.Handler != "app.handler" {
		t.Errorf("created %+v", created)
	}
	var conf struct {
		RuntimeVersionConfig struct{ RuntimeVersionArn string }
	}
	cli.MustJSON(&conf, "lambda", "get-function-configuration", "--function-name", "py-cli")
	if want := "arn:aws:lambda:us-east-1::runtime:python-" + hostVersion(t, "/usr/bin/python3"); conf.RuntimeVersionConfig.RuntimeVersionArn != want {
		t.Errorf("RuntimeVersionArn = %q, want %q (the interpreter that runs)", conf.RuntimeVersionConfig.RuntimeVersionArn, want)
	}

	type pyResult struct {
		InitCount   int            `json:"init_count"`
		Invocations int            `json:"invocations"`
		Event       map[string]any `json:"event"`
		ExecEnv     string         `json:"exec_env"`
	}
	for i := 1; i <= 2; i++ {
		inv := cli.Invoke("py-cli", map[string]any{"n": i})
		var res pyResult
		if inv.FunctionError != "" || json.Unmarshal(inv.Payload, &res) != nil {
			t.Fatalf("invoke %d: %s %s\n%s", i, inv.FunctionError, inv.Payload, inv.Log)
		}
		// Module-level code ran once, during the first (cold) invoke's init.
		if res.InitCount != 1 || res.Invocations != i || fmt.Sprint(res.Event["n"]) != fmt.Sprint(i) || res.ExecEnv != "AWS_Lambda_python3.12" {
			t.Errorf("invoke %d = %s", i, inv.Payload)
		}
		report := reportOf(t, inv.Log)
		if cold := strings.Contains(report, "\tInit Duration: "); cold != (i == 1) {
			t.Errorf("invoke %d: Init Duration present = %v, want %v: %q", i, cold, i == 1, report)
		}
		if strings.Contains(inv.Log, "module initialised") != (i == 1) {
			t.Errorf("invoke %d: module-level output present = %v:\n%s", i, !(i == 1), inv.Log)
		}
		id := regexp.MustCompile(`START RequestId: (\S+)`).FindStringSubmatch(inv.Log)
		if id == nil {
			t.Fatalf("no START line:\n%s", inv.Log)
		}
		// print() goes through as is; the logging module's records carry
		// level, time and request id.
		for _, re := range []string{
			`(?m)^plain print from the handler$`,
			`(?m)^\[INFO\]\t` + runtimeLogTimeRE + `\t` + id[1] + `\tinfo from the handler$`,
		} {
			if !regexp.MustCompile(re).MatchString(inv.Log) {
				t.Errorf("invoke %d: no log line matching %s:\n%s", i, re, inv.Log)
			}
		}
	}

	// The same with aws-sdk-go-v2: context, errors, bad handlers.
	files := map[string]string{"app.py": pyRuntimeApp}
	runtimeFunction(t, c, "py-ctx", "python3.11", "app.context_fields", files)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"t1"}}`))
	inv, err := tryInvoke(t, c, "py-ctx", map[string]any{}, func(in *lambda.InvokeInput) { in.ClientContext = aws.String(cc) })
	if err != nil {
		t.Fatal(err)
	}
	var ctx map[string]any
	inv.mustSucceed(t, &ctx)
	for k, want := range map[string]any{
		"aws_request_id":       inv.RequestID,
		"function_name":        "py-ctx",
		"function_version":     "$LATEST",
		"invoked_function_arn": functionARN("py-ctx"),
		"memory_limit_in_mb":   "128", // a string, as in AWS's runtime
		"log_group_name":       "/aws/lambda/py-ctx",
		"client_custom":        map[string]any{"tenant": "t1"},
		"identity_id":          nil,
		"task_root":            "/var/task",
		"cwd":                  "/var/task",
	} {
		if fmt.Sprint(ctx[k]) != fmt.Sprint(want) {
			t.Errorf("context %s = %v, want %v", k, ctx[k], want)
		}
	}
	if s, _ := ctx["log_stream_name"].(string); !logStreamRE.MatchString(s) {
		t.Errorf("log_stream_name = %q", s)
	}
	if ms, _ := ctx["remaining_ms"].(float64); ms <= 0 || ms > 10000 {
		t.Errorf("get_remaining_time_in_millis() = %v, want within the 10 s timeout", ctx["remaining_ms"])
	}
	if s, _ := ctx["trace_id"].(string); !strings.HasPrefix(s, "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID = %q", s)
	}

	runtimeFunction(t, c, "py-fail", "python3.12", "app.fail", files)
	inv = invoke(t, c, "py-fail", map[string]any{"order": 7})
	if inv.FunctionError != "Unhandled" {
		t.Fatalf("FunctionError = %q: %s", inv.FunctionError, inv.Payload)
	}
	mustKeys(t, inv.Payload, "errorMessage", "errorType", "requestId", "stackTrace")
	var pe pyError
	mustDecode(t, inv.Payload, &pe)
	wantTrace := fmt.Sprintf("  File \"/var/task/app.py\", line %s, in fail\n    raise OrderError(\"order \" + str(event[\"order\"]) + \" is invalid\")\n",
		sourceLine(pyRuntimeApp, `raise OrderError(`))
	if pe.ErrorType != "OrderError" || pe.ErrorMessage != "order 7 is invalid" || pe.RequestID == nil || *pe.RequestID != inv.RequestID ||
		len(pe.StackTrace) != 1 || pe.StackTrace[0] != wantTrace {
		t.Errorf("error document %s\nwant errorType OrderError, errorMessage %q, requestId %q, stackTrace [%q]", inv.Payload, "order 7 is invalid", inv.RequestID, wantTrace)
	}
	if !strings.Contains(inv.Log, "[ERROR] OrderError: order 7 is invalid\rTraceback (most recent call last):\r\u00a0\u00a0File \"/var/task/app.py\"") {
		t.Errorf("log lacks the error line:\n%q", inv.Log)
	}

	runtimeFunction(t, c, "py-marshal", "python3.12", "app.unserialisable", files)
	inv = invoke(t, c, "py-marshal", map[string]any{})
	mustDecode(t, inv.Payload, &pe)
	if inv.FunctionError != "Unhandled" || pe.ErrorType != "Runtime.MarshalError" || pe.ErrorMessage != "Unable to marshal response: Object of type set is not JSON serializable" {
		t.Errorf("unserialisable result: %s", inv.Payload)
	}

	for _, tc := range []struct{ name, handler, errorType, message string }{
		{"py-nohandler", "app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
		{"py-nomodule", "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'"},
	} {
		runtimeFunction(t, c, tc.name, "python3.13", tc.handler, files)
		for attempt := 1; attempt <= 2; attempt++ { // init is retried on every invoke
			inv := invoke(t, c, tc.name, map[string]any{})
			if inv.FunctionError != "Unhandled" {
				t.Fatalf("%s: FunctionError %q: %s", tc.name, inv.FunctionError, inv.Payload)
			}
			mustKeys(t, inv.Payload, "errorMessage", "errorType", "requestId", "stackTrace")
			var pe pyError
			mustDecode(t, inv.Payload, &pe)
			if pe.ErrorType != tc.errorType || pe.ErrorMessage != tc.message || pe.RequestID == nil || *pe.RequestID != "" || pe.StackTrace == nil || len(pe.StackTrace) != 0 {
				t.Errorf("%s: %s, want errorType %s, errorMessage %q, requestId \"\", stackTrace []", tc.name, inv.Payload, tc.errorType, tc.message)
			}
			if !strings.Contains(inv.Log, "[ERROR] "+tc.errorType+": "+tc.message) || !strings.Contains(inv.Log, "Error Type: "+tc.errorType) {
				t.Errorf("%s: log:\n%s", tc.name, inv.Log)
			}
		}
	}
}

func TestNodeRuntime(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)

	zipPath := writeTempFile(t, "node.zip", mustZip(t, zipEntry{Name: "app.js", Data: []byte(nodeRuntimeApp)}, zipEntry{Name: "esm.mjs", Data: []byte(nodeRuntimeESM)}))
	cli.MustRun("lambda", "create-function", "--function-name", "node-cli", "--runtime", "nodejs20.x",
		"--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://"+zipPath)
	var conf struct {
		RuntimeVersionConfig struct{ RuntimeVersionArn string }
	}
	cli.MustJSON(&conf, "lambda", "get-function-configuration", "--function-name", "node-cli")
	if want := "arn:aws:lambda:us-east-1::runtime:nodejs-" + hostVersion(t, "/usr/bin/node"); conf.RuntimeVersionConfig.RuntimeVersionArn != want {
		t.Errorf("RuntimeVersionArn = %q, want %q (the interpreter that runs)", conf.RuntimeVersionConfig.RuntimeVersionArn, want)
	}
	type nodeResult struct {
		InitCount   int            `json:"initCount"`
		Invocations int            `json:"invocations"`
		Event       map[string]any `json:"event"`
		ExecEnv     string         `json:"execEnv"`
	}
	for i := 1; i <= 2; i++ {
		inv := cli.Invoke("node-cli", map[string]any{"n": i})
		var res nodeResult
		if inv.FunctionError != "" || json.Unmarshal(inv.Payload, &res) != nil {
			t.Fatalf("invoke %d: %s %s\n%s", i, inv.FunctionError, inv.Payload, inv.Log)
		}
		if res.InitCount != 1 || res.Invocations != i || res.ExecEnv != "AWS_Lambda_nodejs20.x" {
			t.Errorf("invoke %d = %s", i, inv.Payload)
		}
		if cold := strings.Contains(reportOf(t, inv.Log), "\tInit Duration: "); cold != (i == 1) {
			t.Errorf("invoke %d: Init Duration present = %v, want %v", i, cold, i == 1)
		}
		id := regexp.MustCompile(`START RequestId: (\S+)`).FindStringSubmatch(inv.Log)
		if id == nil {
			t.Fatalf("no START line:\n%s", inv.Log)
		}
		res2 := []string{`(?m)^` + runtimeLogTimeRE + `\t` + id[1] + `\tINFO\tlog from the handler \{ n: ` + fmt.Sprint(i) + ` \}$`}
		if i == 1 { // init output, before the first request id exists
			res2 = append(res2, `(?m)^`+runtimeLogTimeRE+`\tundefined\tINFO\tmodule initialised$`)
		}
		for _, re := range res2 {
			if !regexp.MustCompile(re).MatchString(inv.Log) {
				t.Errorf("invoke %d: no log line matching %s:\n%s", i, re, inv.Log)
			}
		}
	}

	files := map[string]string{"app.js": nodeRuntimeApp, "esm.mjs": nodeRuntimeESM, "lib/nested.cjs": "exports.fn = (e, ctx, cb) => cb(null, 'nested ' + e);\n"}
	for _, tc := range []struct{ name, runtime, handler, event, want string }{
		{"node-esm", "nodejs22.x", "esm.handler", `"x"`, `{"esm":true,"initCount":1,"event":"x"}`},
		{"node-promise", "nodejs18.x", "app.promise", `{"value":5}`, `{"promised":5}`},
		{"node-nested", "nodejs20.x", "lib/nested.fn", `1`, `"nested 1"`},
	} {
		runtimeFunction(t, c, tc.name, tc.runtime, tc.handler, files)
		var ev any
		mustDecode(t, []byte(tc.event), &ev)
		inv := invoke(t, c, tc.name, ev).mustSucceed(t, nil)
		if string(inv.Payload) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, inv.Payload, tc.want)
		}
	}

	// Callback handlers answer once the event loop is empty, unless
	// context.callbackWaitsForEmptyEventLoop is false.
	runtimeFunction(t, c, "node-callback", "nodejs20.x", "app.callback", files)
	inv := invoke(t, c, "node-callback", map[string]any{"timerMs": 400}).mustSucceed(t, nil)
	if string(inv.Payload) != `{"waited":true}` || durationOf(t, reportOf(t, inv.Log)) < 400 || !strings.Contains(inv.Log, "\tINFO\ttimer fired") {
		t.Errorf("waiting callback: %s, want the answer after the 400 ms timer:\n%s", inv.Payload, inv.Log)
	}
	inv = invoke(t, c, "node-callback", map[string]any{"timerMs": 5000, "noWait": true}).mustSucceed(t, nil)
	if string(inv.Payload) != `{"waited":false}` || durationOf(t, reportOf(t, inv.Log)) > 2000 {
		t.Errorf("callbackWaitsForEmptyEventLoop=false: %s, want the answer at once:\n%s", inv.Payload, inv.Log)
	}

	runtimeFunction(t, c, "node-ctx", "nodejs20.x", "app.contextFields", files)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"t1"}}`))
	inv, err := tryInvoke(t, c, "node-ctx", map[string]any{}, func(in *lambda.InvokeInput) { in.ClientContext = aws.String(cc) })
	if err != nil {
		t.Fatal(err)
	}
	var ctx map[string]any
	inv.mustSucceed(t, &ctx)
	for k, want := range map[string]any{
		"awsRequestId":                   inv.RequestID,
		"functionName":                   "node-ctx",
		"functionVersion":                "$LATEST",
		"invokedFunctionArn":             functionARN("node-ctx"),
		"memoryLimitInMB":                "128",
		"logGroupName":                   "/aws/lambda/node-ctx",
		"clientContext":                  map[string]any{"custom": map[string]any{"tenant": "t1"}},
		"callbackWaitsForEmptyEventLoop": true,
	} {
		if fmt.Sprint(ctx[k]) != fmt.Sprint(want) {
			t.Errorf("context %s = %v, want %v", k, ctx[k], want)
		}
	}
	if s, _ := ctx["logStreamName"].(string); !logStreamRE.MatchString(s) {
		t.Errorf("logStreamName = %q", s)
	}
	if ms, _ := ctx["remainingMs"].(float64); ms <= 0 || ms > 10000 {
		t.Errorf("getRemainingTimeInMillis() = %v", ctx["remainingMs"])
	}
	if s, _ := ctx["traceId"].(string); !strings.HasPrefix(s, "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID = %q", s)
	}

	// Errors: {errorType, errorMessage, trace}, as AWS's Node.js runtime.
	runtimeFunction(t, c, "node-fail", "nodejs20.x", "app.fail", files)
	inv = invoke(t, c, "node-fail", map[string]any{"order": 7})
	if inv.FunctionError != "Unhandled" {
		t.Fatalf("FunctionError = %q: %s", inv.FunctionError, inv.Payload)
	}
	mustKeys(t, inv.Payload, "errorType", "errorMessage", "trace")
	var ne nodeError
	mustDecode(t, inv.Payload, &ne)
	if ne.ErrorType != "OrderError" || ne.ErrorMessage != "order 7 is invalid" || len(ne.Trace) < 2 ||
		ne.Trace[0] != "OrderError: order 7 is invalid" ||
		!strings.HasPrefix(ne.Trace[1], "    at exports.fail ") || !strings.Contains(ne.Trace[1], "(/var/task/app.js:"+sourceLine(nodeRuntimeApp, "throw new OrderError")+":9)") {
		t.Errorf("error document %s", inv.Payload)
	}
	if !regexp.MustCompile(`(?m)^` + runtimeLogTimeRE + `\t` + inv.RequestID + `\tERROR\tInvoke Error \t\{"errorType":"OrderError","errorMessage":"order 7 is invalid",`).MatchString(inv.Log) {
		t.Errorf("log lacks the Invoke Error line:\n%s", inv.Log)
	}
	runtimeFunction(t, c, "node-cbfail", "nodejs20.x", "app.callbackFail", files)
	inv = invoke(t, c, "node-cbfail", map[string]any{})
	mustDecode(t, inv.Payload, &ne)
	if inv.FunctionError != "Unhandled" || ne.ErrorType != "Error" || ne.ErrorMessage != "callback failure" || len(ne.Trace) == 0 || ne.Trace[0] != "Error: callback failure" {
		t.Errorf("callback(err): %s", inv.Payload)
	}

	for _, tc := range []struct{ name, handler, errorType, message string }{
		{"node-nohandler", "app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported"},
		{"node-nomodule", "missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs"},
	} {
		runtimeFunction(t, c, tc.name, "nodejs22.x", tc.handler, files)
		for attempt := 1; attempt <= 2; attempt++ { // init is retried on every invoke
			inv := invoke(t, c, tc.name, map[string]any{})
			if inv.FunctionError != "Unhandled" {
				t.Fatalf("%s: FunctionError %q: %s", tc.name, inv.FunctionError, inv.Payload)
			}
			mustKeys(t, inv.Payload, "errorType", "errorMessage", "trace")
			var ne nodeError
			mustDecode(t, inv.Payload, &ne)
			if ne.ErrorType != tc.errorType || ne.ErrorMessage != tc.message || len(ne.Trace) == 0 || !strings.HasPrefix(ne.Trace[0], tc.errorType+": ") {
				t.Errorf("%s: %s, want errorType %s, errorMessage %q", tc.name, inv.Payload, tc.errorType, tc.message)
			}
			if !strings.Contains(inv.Log, "\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\""+tc.errorType+"\"") || !strings.Contains(inv.Log, "Error Type: "+tc.errorType) {
				t.Errorf("%s: log:\n%s", tc.name, inv.Log)
			}
		}
	}
}

// TestManagedColdStart logs how long a cold start of a trivial Python and
// Node.js handler takes, invoke to response through the sandbox, and how
// the REPORT line breaks it down. It asserts nothing about timing.
func TestManagedColdStart(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	for _, tc := range []struct{ runtime, handler, file, src string }{
		{"python3.12", "app.handler", "app.py", "def handler(event, context):\n    return event\n"},
		{"nodejs20.x", "index.handler", "index.js", "exports.handler = async (event) => event;\n"},
		{"nodejs20.x", "index.handler", "index.mjs", "export const handler = async (event) => event;\n"},
	} {
		name := fmt.Sprintf("cold-%s-%s", strings.TrimSuffix(strings.ReplaceAll(tc.runtime, ".", "-"), "-x"), strings.ReplaceAll(tc.file, ".", "-"))
		runtimeFunction(t, c, name, tc.runtime, tc.handler, map[string]string{tc.file: tc.src})
		var walls, inits []time.Duration
		for i := 0; i < 5; i++ {
			// A new configuration retires the warm environment: the next
			// invoke is cold.
			if _, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String(name), Description: aws.String(fmt.Sprint(i)),
			}); err != nil {
				t.Fatal(err)
			}
			waitUpdated(t, c, name)
			inv := invoke(t, c, name, map[string]any{"i": i}).mustSucceed(t, nil)
			m := regexp.MustCompile(`\tInit Duration: ([0-9.]+) ms`).FindStringSubmatch(reportOf(t, inv.Log))
			if m == nil {
				t.Fatalf("invoke %d of %s was not cold:\n%s", i, name, inv.Log)
			}
			var ms float64
			fmt.Sscan(m[1], &ms)
			walls = append(walls, inv.Wall)
			inits = append(inits, time.Duration(ms*float64(time.Millisecond)))
		}
		slices.Sort(walls)
		slices.Sort(inits)
		t.Logf("%s %s: cold invoke→response p50 %v (min %v, max %v); Init Duration p50 %v (min %v, max %v); n=5",
			tc.runtime, tc.file, walls[2].Round(100*time.Microsecond), walls[0].Round(100*time.Microsecond), walls[4].Round(100*time.Microsecond),
			inits[2].Round(100*time.Microsecond), inits[0].Round(100*time.Microsecond), inits[4].Round(100*time.Microsecond))
	}
}

// TestManagedCPUShare logs how fast the same CPU-bound work runs during a
// managed runtime's init (module-level code: a full CPU, as Lambda gives)
// and during an invocation (the share of a 128 MB function, about 7 % of a
// CPU). It asserts nothing about timing; a ratio near 1 at init and well
// above 1 while invoking is what the platform promises.
func TestManagedCPUShare(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const py = `import time

def burn(ms):
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < ms / 1000:
        pass
    return (time.perf_counter() - wall0) / (time.process_time() - cpu0)

init_ratio = burn(50)

def handler(event, context):
    return {"init": init_ratio, "invoke": burn(50)}
`
	const js = `function burn(ms) {
  const cpu0 = process.cpuUsage(), wall0 = process.hrtime.bigint();
  let cpu = 0;
  while (cpu < ms * 1000) {
    const u = process.cpuUsage(cpu0);
    cpu = u.user + u.system;
  }
  return Number(process.hrtime.bigint() - wall0) / 1000 / cpu;
}
const initRatio = burn(50);
exports.handler = async () => ({ init: initRatio, invoke: burn(50) });
`
	for _, tc := range []struct{ runtime, handler, file, src string }{
		{"python3.12", "app.handler", "app.py", py},
		{"nodejs20.x", "index.handler", "index.js", js},
	} {
		name := "cpu-" + strings.ReplaceAll(tc.runtime, ".", "-")
		runtimeFunction(t, c, name, tc.runtime, tc.handler, map[string]string{tc.file: tc.src})
		var res struct{ Init, Invoke float64 }
		invoke(t, c, name, map[string]any{}).mustSucceed(t, &res)
		t.Logf("%s, 128 MB: 50 ms of CPU took %.1fx its CPU time in wall time during init, %.1fx during the invocation", tc.runtime, res.Init, res.Invoke)
	}
}

// sourceLine returns the number of the first line of src containing s.
func sourceLine(src, s string) string {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, s) {
			return fmt.Sprint(i + 1)
		}
	}
	return "?"
}
