package runtimes_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus/internal/runtimeapi"
)

const pyApp = `import os, sys
count = 0
invocations = 0
count += 1  # module-level code: once per environment

def handler(event, context):
    global invocations
    invocations += 1
    return {"event": event, "count": count, "invocations": invocations}

def ctx(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_custom": cc.custom if cc else None,
        "client_app_title": cc.client.app_title if cc and cc.client else None,
        "identity_id": context.identity.cognito_identity_id,
        "identity_pool": context.identity.cognito_identity_pool_id,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
        "path": sys.path[:3],
        "modules": sorted(m for m in ("json", "logging", "http.client", "socket") if m in sys.modules),
    }

def fail(event, context):
    raise ValueError("bad " + event["why"])

def unserialisable(event, context):
    return {"s": {1, 2}}

def raw(event, context):
    return b"\x00raw"

def text(event, context):
    return event

def logs(event, context):
    import logging
    logging.basicConfig(level=logging.DEBUG)  # a no-op under Lambda: root is configured
    logging.getLogger().setLevel(logging.INFO)
    print("plain print")
    logging.info("via logging %d", 42)
    logging.debug("not shown")
    return len(logging.getLogger().handlers)
`

func TestPythonInvoke(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.handler"})
	for i := 1; i <= 3; i++ {
		res, _ := e.invoke(t, `{"n": "é"}`)
		if res.Failed {
			t.Fatalf("invoke %d failed: %s", i, res.Payload)
		}
		// json.dumps with ensure_ascii=False on python3.12, as AWS's runtime.
		want := fmt.Sprintf(`{"event": {"n": "é"}, "count": 1, "invocations": %d}`, i)
		if string(res.Payload) != want {
			t.Errorf("invoke %d = %s, want %s", i, res.Payload, want)
		}
	}
}

func TestPythonASCIIOnOtherVersions(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", runtime: "python3.11", files: map[string]string{"app.py": pyApp}, handler: "app.text"})
	res, _ := e.invoke(t, `{"n": "é", "f": 1.5, "l": [true, null]}`)
	if want := `{"n": "\u00e9", "f": 1.5, "l": [true, null]}`; string(res.Payload) != want {
		t.Errorf("payload = %s, want %s", res.Payload, want)
	}
}

func TestPythonContext(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.ctx"})
	res, id := e.invoke(t, `{}`, func(inv *runtimeapi.Invocation) {
		inv.ClientContext = `{"client": {"app_title": "t"}, "custom": {"k": "v"}, "env": {}}`
		inv.CognitoIdentity = `{"cognitoIdentityId": "id1", "cognitoIdentityPoolId": "pool1"}`
	})
	var got map[string]any
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	want := map[string]any{
		"aws_request_id":       id,
		"function_name":        "fn",
		"function_version":     "$LATEST",
		"invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
		"memory_limit_in_mb":   "128", // a string, as on AWS
		"log_group_name":       "/aws/lambda/fn",
		"log_stream_name":      "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
		"client_custom":        map[string]any{"k": "v"},
		"client_app_title":     "t",
		"identity_id":          "id1",
		"identity_pool":        "pool1",
		"trace":                "Root=1-5e1b4151-5ac6c58f3c8e4b1d2a6b7c8d;Parent=1234567890abcdef;Sampled=0",
		"exec_env":             "AWS_Lambda_python3.12",
		"modules":              []any{}, // the runtime itself imports none of these
	}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if r, _ := got["remaining"].(float64); r < 25000 || r > 30000 {
		t.Errorf("get_remaining_time_in_millis() = %v, want about 30000", got["remaining"])
	}
	path, _ := got["path"].([]any)
	if len(path) != 3 || !strings.HasSuffix(fmt.Sprint(path[0]), "") || path[1] != "/opt/python/lib/python3.12/site-packages" || path[2] != "/opt/python" {
		t.Errorf("sys.path[:3] = %v, want [task root, /opt/python/lib/python3.12/site-packages, /opt/python]", path)
	}
}

func TestPythonError(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.fail"})
	res, id := e.invoke(t, `{"why": "input"}`)
	d, keys := mustErrorDoc(t, res)
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"errorMessage", "errorType", "requestId", "stackTrace"}) {
		t.Errorf("keys = %v", keys)
	}
	// AWS's key order and separators.
	if prefix := `{"errorMessage": "bad input", "errorType": "ValueError", "requestId": "` + id + `", "stackTrace": [`; !strings.HasPrefix(string(res.Payload), prefix) {
		t.Errorf("payload = %s, want it to start with %s", res.Payload, prefix)
	}
	line := lineOf(pyApp, `raise ValueError("bad "`)
	if len(d.StackTrace) != 1 || !regexp.MustCompile(`^  File "/.*/app\.py", line `+line+`, in fail\n    raise ValueError\("bad " \+ event\["why"\]\)\n$`).MatchString(d.StackTrace[0]) {
		t.Errorf("stackTrace = %q", d.StackTrace)
	}
	out := e.waitOutput(t, "[ERROR] ValueError: bad input\rTraceback (most recent call last):\r\u00a0\u00a0File ")
	if !strings.Contains(out, "\r\u00a0\u00a0\u00a0\u00a0raise ValueError") {
		t.Errorf("error log line lacks the indented source line:\n%q", out)
	}
	// The environment goes on.
	if res, _ := e.invoke(t, `{"why": "again"}`); !res.Failed {
		t.Errorf("second invoke: %s", res.Payload)
	}
}

func TestPythonMarshalling(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.unserialisable"})
	res, id := e.invoke(t, `{}`)
	d, _ := mustErrorDoc(t, res)
	if d.ErrorType != "Runtime.MarshalError" || d.ErrorMessage != "Unable to marshal response: Object of type set is not JSON serializable" || *d.RequestID != id || len(d.StackTrace) != 0 {
		t.Errorf("error = %s", res.Payload)
	}

	e = startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.raw"})
	if res, _ := e.invoke(t, `{}`); res.Failed || string(res.Payload) != "\x00raw" {
		t.Errorf("bytes result = %q", res.Payload)
	}

	e = startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.text"})
	big := strings.Repeat("x", 1<<20)
	for _, c := range []struct{ in, want string }{
		{`"hello"`, `"hello"`},
		{` {"a":1} `, `{"a": 1}`},
		{`[1e400, -0.0, 12345678901234567890]`, `[Infinity, -0.0, 12345678901234567890]`},
		{`"` + big + `"`, `"` + big + `"`},
		{`not json`, ``},
	} {
		res, _ := e.invoke(t, c.in)
		if c.want == "" {
			d, _ := mustErrorDoc(t, res)
			if d.ErrorType != "Runtime.UnmarshalError" || !strings.HasPrefix(d.ErrorMessage, "Unable to unmarshal input: Expecting value") {
				t.Errorf("invalid JSON: %s", res.Payload)
			}
			continue
		}
		if res.Failed || string(res.Payload) != c.want {
			t.Errorf("echo of %.40s = %.80s, want %.80s", c.in, res.Payload, c.want)
		}
	}
}

func TestPythonLogging(t *testing.T) {
	e := startEnv(t, envOptions{lang: "python", files: map[string]string{"app.py": pyApp}, handler: "app.logs"})
	res, id := e.invoke(t, `{}`)
	if res.Failed || string(res.Payload) != "1" {
		t.Errorf("root handlers = %s, want 1", res.Payload)
	}
	out := e.waitOutput(t, "via logging")
	if !strings.Contains(out, "plain print\n") {
		t.Errorf("print output is not passed through:\n%s", out)
	}
	re := regexp.MustCompile(`(?m)^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + id + `\tvia logging 42$`)
	if !re.MatchString(out) {
		t.Errorf("no line matching %s in:\n%s", re, out)
	}
	if strings.Contains(out, "not shown") {
		t.Errorf("debug record logged at level INFO")
	}
}

func TestPythonHandlerStrings(t *testing.T) {
	files := map[string]string{
		"app.py":              pyApp,
		"dir/mod.py":          "def f(e, c):\n    return 'dir/mod'\n",
		"pkg/__init__.py":     "",
		"pkg/sub/__init__.py": "",
		"pkg/sub/m.py":        "def f(e, c):\n    return 'pkg.sub.m'\n",
	}
	for handler, want := range map[string]string{"dir/mod.f": `"dir/mod"`, "pkg.sub.m.f": `"pkg.sub.m"`, "pkg/sub/m.f": `"pkg.sub.m"`} {
		e := startEnv(t, envOptions{lang: "python", files: files, handler: handler})
		if res, _ := e.invoke(t, `{}`); res.Failed || string(res.Payload) != want {
			t.Errorf("%s: %s, want %s", handler, res.Payload, want)
		}
	}
}

func TestPythonInitErrors(t *testing.T) {
	files := map[string]string{
		"app.py":    pyApp,
		"boom.py":   "import os\nraise RuntimeError('no config')\n",
		"syntax.py": "def f(:\n",
		"needs.py":  "import requests\n",
	}
	for _, c := range []struct {
		handler, errorType, message string
	}{
		{"app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
		{"nomod.handler", "Runtime.ImportModuleError", "Unable to import module 'nomod': No module named 'nomod'"},
		{"needs.handler", "Runtime.ImportModuleError", "Unable to import module 'needs': No module named 'requests'"},
		{"app", "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)"},
		{"sys.exit", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"},
		{"syntax.f", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntax': "},
		{"boom.f", "RuntimeError", "no config"},
	} {
		t.Run(c.handler, func(t *testing.T) {
			e := startEnv(t, envOptions{lang: "python", files: files, handler: c.handler})
			if e.initErr == nil {
				t.Fatal("init succeeded")
			}
			if e.initErr.ErrorType != c.errorType {
				t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want %q", e.initErr.ErrorType, c.errorType)
			}
			d, _ := mustErrorDoc(t, *e.initErr)
			if d.ErrorType != c.errorType || !strings.HasPrefix(d.ErrorMessage, c.message) || d.RequestID == nil || *d.RequestID != "" {
				t.Errorf("init error = %s, want type %s, message %q, requestId \"\"", e.initErr.Payload, c.errorType, c.message)
			}
			switch c.errorType {
			case "RuntimeError":
				if n := len(d.StackTrace); n == 0 || !strings.Contains(d.StackTrace[n-1], "boom.py\", line 2, in <module>\n    raise RuntimeError('no config')\n") {
					t.Errorf("stackTrace = %q", d.StackTrace)
				}
			case "Runtime.UserCodeSyntaxError":
				if len(d.StackTrace) != 1 || !strings.Contains(d.StackTrace[0], "syntax.py\" Line 1\n") {
					t.Errorf("stackTrace = %q", d.StackTrace)
				}
			default:
				if d.StackTrace == nil || len(d.StackTrace) != 0 {
					t.Errorf("stackTrace = %q, want []", d.StackTrace)
				}
			}
			e.waitOutput(t, "[ERROR] "+c.errorType+": ")
			select {
			case <-e.done:
			case <-timeAfter(5):
				t.Error("the runtime did not exit after its init error")
			}
		})
	}
}
