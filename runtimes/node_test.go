package runtimes_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratus-dev/stratus/internal/runtimeapi"
)

const nodeApp = `let count = 0;
let invocations = 0;
count++; // module-level code: once per environment

exports.handler = async (event, context) => {
  invocations++;
  return { event, count, invocations };
};

exports.promise = (event) => new Promise((resolve) => setTimeout(() => resolve({ promised: event }), 10));

// Answers when the event loop is empty: after the timer, by default.
exports.callback = (event, context, callback) => {
  if (event.noWait) {
    context.callbackWaitsForEmptyEventLoop = false;
  }
  setTimeout(() => console.log('timer fired'), event.timerMs);
  callback(null, { waits: context.callbackWaitsForEmptyEventLoop });
};

exports.nothing = (event, context) => {}; // never calls back: null when the loop empties

exports.ctx = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext,
  identity: context.identity,
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  functions: ['done', 'succeed', 'fail', 'getRemainingTimeInMillis'].map((f) => typeof context[f]),
  trace: process.env._X_AMZN_TRACE_ID,
  execEnv: process.env.AWS_EXECUTION_ENV,
  heavy: ['http', 'https'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m)),
});

exports.fail = async (event) => {
  throw new TypeError('bad ' + event.why);
};

exports.callbackError = (event, context, callback) => callback('plain string');

exports.succeed = (event, context) => context.succeed('via succeed');

exports.circular = async () => {
  const o = {};
  o.o = o;
  return o;
};

exports.undef = async () => undefined;

exports.logs = async () => {
  console.log('hello %s', 'world');
  console.error('multi\nline');
  console.warn({ a: 1 });
  return 'ok';
};

exports.nested = { deeper: { fn: async () => 'nested' } };
`

func TestNodeInvoke(t *testing.T) {
	e := startEnv(t, envOptions{lang: "node", files: map[string]string{"app.js": nodeApp}, handler: "app.handler"})
	for i := 1; i <= 3; i++ {
		res, _ := e.invoke(t, `{"n":"é"}`)
		if res.Failed {
			t.Fatalf("invoke %d failed: %s", i, res.Payload)
		}
		want := fmt.Sprintf(`{"event":{"n":"é"},"count":1,"invocations":%d}`, i)
		if string(res.Payload) != want {
			t.Errorf("invoke %d = %s, want %s", i, res.Payload, want)
		}
	}
}

func TestNodeHandlerStyles(t *testing.T) {
	files := map[string]string{"app.js": nodeApp}
	for _, c := range []struct{ handler, event, want string }{
		{"app.promise", `1`, `{"promised":1}`},
		{"app.succeed", `{}`, `"via succeed"`},
		{"app.undef", `{}`, `null`},
		{"app.nothing", `{}`, `null`},
		{"app.nested.deeper.fn", `{}`, `"nested"`},
	} {
		e := startEnv(t, envOptions{lang: "node", files: files, handler: c.handler})
		for i := 0; i < 2; i++ {
			if res, _ := e.invoke(t, c.event); res.Failed || string(res.Payload) != c.want {
				t.Errorf("%s: %s, want %s", c.handler, res.Payload, c.want)
			}
		}
	}
}

func TestNodeCallbackWaitsForEmptyEventLoop(t *testing.T) {
	e := startEnv(t, envOptions{lang: "node", files: map[string]string{"app.js": nodeApp}, handler: "app.callback"})
	start := time.Now()
	res, _ := e.invoke(t, `{"timerMs": 300}`)
	if res.Failed || string(res.Payload) != `{"waits":true}` {
		t.Fatalf("payload %s", res.Payload)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v, before the 300 ms timer: the event loop was not empty", d)
	}
	e.waitOutput(t, "timer fired")

	start = time.Now()
	res, _ = e.invoke(t, `{"timerMs": 3000, "noWait": true}`)
	if res.Failed || string(res.Payload) != `{"waits":false}` {
		t.Fatalf("payload %s", res.Payload)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("callbackWaitsForEmptyEventLoop=false answered after %v, not at once", d)
	}
}

func TestNodeContext(t *testing.T) {
	e := startEnv(t, envOptions{lang: "node", files: map[string]string{"app.js": nodeApp}, handler: "app.ctx"})
	res, id := e.invoke(t, `{}`, func(inv *runtimeapi.Invocation) {
		inv.ClientContext = `{"client":{"app_title":"t"},"custom":{"k":"v"},"env":{}}`
		inv.CognitoIdentity = `{"cognitoIdentityId":"id1","cognitoIdentityPoolId":"pool1"}`
	})
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	want := map[string]any{
		"awsRequestId":                   id,
		"functionName":                   "fn",
		"functionVersion":                "$LATEST",
		"invokedFunctionArn":             "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"memoryLimitInMB":                "128", // a string, as on AWS
		"logGroupName":                   "/aws/lambda/fn",
		"logStreamName":                  "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
		"clientContext":                  map[string]any{"client": map[string]any{"app_title": "t"}, "custom": map[string]any{"k": "v"}, "env": map[string]any{}},
		"identity":                       map[string]any{"cognitoIdentityId": "id1", "cognitoIdentityPoolId": "pool1"},
		"callbackWaitsForEmptyEventLoop": true,
		"functions":                      []any{"function", "function", "function", "function"},
		"trace":                          "Root=1-5e1b4151-5ac6c58f3c8e4b1d2a6b7c8d;Parent=1234567890abcdef;Sampled=0",
		"execEnv":                        "AWS_Lambda_nodejs20.x",
		"heavy":                          []any{}, // the runtime itself loads none of these
	}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if r, _ := got["remaining"].(float64); r < 25000 || r > 30000 {
		t.Errorf("getRemainingTimeInMillis() = %v, want about 30000", got["remaining"])
	}
}

func TestNodeErrors(t *testing.T) {
	files := map[string]string{"app.js": nodeApp}
	e := startEnv(t, envOptions{lang: "node", files: files, handler: "app.fail"})
	res, id := e.invoke(t, `{"why":"input"}`)
	d, keys := mustErrorDoc(t, res)
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"errorMessage", "errorType", "trace"}) {
		t.Errorf("keys = %v, want errorType, errorMessage, trace", keys)
	}
	if prefix := `{"errorType":"TypeError","errorMessage":"bad input","trace":["TypeError: bad input","    at exports.fail `; !strings.HasPrefix(string(res.Payload), prefix) {
		t.Errorf("payload = %s, want it to start with %s", res.Payload, prefix)
	}
	if len(d.Trace) < 2 || !strings.Contains(d.Trace[1], "/app.js:"+lineOf(nodeApp, "throw new TypeError")+":9)") {
		t.Errorf("trace = %q", d.Trace)
	}
	out := e.waitOutput(t, "\tERROR\tInvoke Error \t{")
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + id + `\tERROR\tInvoke Error \t\{"errorType":"TypeError","errorMessage":"bad input","stack":\["TypeError: bad input","    at exports.fail`).MatchString(out) {
		t.Errorf("error log line:\n%s", out)
	}
	if res, _ := e.invoke(t, `{"why":"again"}`); !res.Failed {
		t.Errorf("second invoke: %s", res.Payload)
	}

	for _, c := range []struct{ handler, payload string }{
		{"app.callbackError", `{"errorType":"string","errorMessage":"plain string","trace":[]}`},
	} {
		e := startEnv(t, envOptions{lang: "node", files: files, handler: c.handler})
		if res, _ := e.invoke(t, `{}`); !res.Failed || string(res.Payload) != c.payload {
			t.Errorf("%s: %s, want %s", c.handler, res.Payload, c.payload)
		}
	}

	e = startEnv(t, envOptions{lang: "node", files: files, handler: "app.circular"})
	res, _ = e.invoke(t, `{}`)
	if d, _ := mustErrorDoc(t, res); d.ErrorType != "Error" || d.ErrorMessage != "Unable to stringify response body" {
		t.Errorf("circular result: %s", res.Payload)
	}
}

func TestNodeLogging(t *testing.T) {
	e := startEnv(t, envOptions{lang: "node", files: map[string]string{"app.js": nodeApp + "console.log('at init');\n"}, handler: "app.logs"})
	res, id := e.invoke(t, `{}`)
	if res.Failed {
		t.Fatal(string(res.Payload))
	}
	out := e.waitOutput(t, "multi")
	for _, re := range []string{
		`\tundefined\tINFO\tat init\n`,
		`\t` + id + `\tINFO\thello world\n`,
		`\t` + id + `\tERROR\tmulti\rline\n`,
		`\t` + id + `\tWARN\t\{ a: 1 \}\n`,
	} {
		if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z` + re).MatchString(out) {
			t.Errorf("no line matching %q in:\n%s", re, out)
		}
	}
}

func TestNodeModuleKinds(t *testing.T) {
	files := map[string]string{
		"esm.mjs":                   "export const handler = async (e) => ({ kind: 'mjs', e });\nawait new Promise((r) => setTimeout(r, 10)); // top-level await\n",
		"common.cjs":                "exports.handler = async () => 'cjs';\n",
		"lib/deep/mod.js":           "module.exports.fn = async () => 'dir/file';\n",
		"typed/package.json":        `{"type": "module"}`,
		"typed/esm.js":              "export async function handler() { return 'module .js'; }\n",
		"node_modules/dep/index.js": "module.exports = 'dep';\n",
		"usesdep.js":                "const dep = require('dep');\nexports.handler = async () => dep;\n",
	}
	for _, c := range []struct{ handler, want string }{
		{"esm.handler", `{"kind":"mjs","e":1}`},
		{"common.handler", `"cjs"`},
		{"lib/deep/mod.fn", `"dir/file"`},
		{"typed/esm.handler", `"module .js"`},
		{"usesdep.handler", `"dep"`},
	} {
		e := startEnv(t, envOptions{lang: "node", files: files, handler: c.handler})
		if res, _ := e.invoke(t, `1`); res.Failed || string(res.Payload) != c.want {
			t.Errorf("%s: %s, want %s", c.handler, res.Payload, c.want)
		}
	}
}

func TestNodeInitErrors(t *testing.T) {
	files := map[string]string{
		"app.js":    nodeApp,
		"boom.js":   "throw new RangeError('no config');\n",
		"syntax.js": "exports.f = (;\n",
		"needs.js":  "require('left-pad');\n",
		"notfn.js":  "exports.x = 42;\n",
	}
	for _, c := range []struct {
		handler, errorType, message string
	}{
		{"app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported"},
		{"notfn.x", "Runtime.HandlerNotFound", "notfn.x is not a function"},
		{"nomod.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nomod'\nRequire stack:\n- /var/runtime/index.mjs"},
		{"needs.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'left-pad'\nRequire stack:\n- "},
		{"app", "Runtime.MalformedHandlerName", "Bad handler"},
		{"../app.handler", "Runtime.MalformedHandlerName", "'../app.handler' is not a valid handler name."},
		{"syntax.f", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"},
		{"boom.f", "RangeError", "no config"},
	} {
		t.Run(strings.ReplaceAll(c.handler, "/", "_"), func(t *testing.T) {
			e := startEnv(t, envOptions{lang: "node", files: files, handler: c.handler})
			if e.initErr == nil {
				t.Fatal("init succeeded")
			}
			if e.initErr.ErrorType != c.errorType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", e.initErr.ErrorType, c.errorType)
			}
			d, _ := mustErrorDoc(t, *e.initErr)
			if d.ErrorType != c.errorType || !strings.HasPrefix(d.ErrorMessage, c.message) {
				t.Errorf("init error = %s, want type %s, message %q", e.initErr.Payload, c.errorType, c.message)
			}
			if len(d.Trace) == 0 || !strings.HasPrefix(d.Trace[0], c.errorType+": ") {
				t.Errorf("trace = %q, want it to start with the error's name", d.Trace)
			}
			e.waitOutput(t, "\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\""+c.errorType+"\"")
			select {
			case <-e.done:
			case <-timeAfter(5):
				t.Error("the runtime did not exit after its init error")
			}
		})
	}
}

func TestNodeStreamingHandler(t *testing.T) {
	files := map[string]string{"stream.mjs": `export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('hello ');
  await new Promise((r) => setTimeout(r, 5));
  responseStream.write(context.functionName);
  responseStream.end();
});
`}
	e := startEnv(t, envOptions{lang: "node", files: files, handler: "stream.handler"})
	for i := 0; i < 2; i++ {
		// Stratus answers streaming handlers buffered.
		if res, _ := e.invoke(t, `{}`); res.Failed || string(res.Payload) != "hello fn" {
			t.Errorf("streamed response = %q (failed %v)", res.Payload, res.Failed)
		}
	}
}
