package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Each failure test runs its own server and function: it warms an
// environment up, makes the function fail one way, checks what the caller
// sees (reference §4.4), and checks that the platform recovers.

// mustFailingFunction starts a server, creates name and invokes it once so
// that a warm environment exists; it returns the client and that
// environment's view.
func mustFailingFunction(t *testing.T, name string, edit func(*lambda.CreateFunctionInput)) (*lambda.Client, envResult) {
	t.Helper()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	mustCreateFunction(t, c, name, edit)
	warm, _ := mustEnv(t, c, name)
	return c, warm
}

// mustRecoverCold checks that the next invoke succeeds in a new execution
// environment (a cold start), not in the one that failed.
func mustRecoverCold(t *testing.T, c *lambda.Client, name string, failed envResult, memory int) {
	t.Helper()
	inv := invoke(t, c, name, Event{Action: "env"})
	if inv.FunctionError != "" {
		t.Fatalf("the invoke after the failure failed too (was it sent to the dying environment?): %s\nlog:\n%s", inv.Payload, inv.Log)
	}
	var env envResult
	inv.mustSucceed(t, &env)
	if env.Instance == failed.Instance {
		t.Errorf("the invoke after the failure ran in the failed environment (instance %s)", failed.Instance)
	}
	checkPlatformLines(t, inv.Log, env.RequestID, memory, true)
}

func TestFailureTimeout(t *testing.T) {
	t.Parallel()
	const name = "timeout-fn"
	c, warm := mustFailingFunction(t, name, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(1) })

	inv := invoke(t, c, name, Event{Action: "sleep", MS: 5000})
	fe := inv.mustFunctionError(t)
	if fe.ErrorType != "Sandbox.Timedout" {
		t.Errorf("errorType = %q, want Sandbox.Timedout (body %s)", fe.ErrorType, inv.Payload)
	}
	m := regexp.MustCompile(`^RequestId: (\S+) Error: Task timed out after (\d+\.\d{2}) seconds$`).FindStringSubmatch(fe.ErrorMessage)
	if m == nil {
		t.Errorf("errorMessage = %q, want %q", fe.ErrorMessage, "RequestId: <id> Error: Task timed out after N.NN seconds")
	} else {
		if inv.RequestID != "" && m[1] != inv.RequestID {
			t.Errorf("errorMessage names request %s, x-amzn-RequestId is %s", m[1], inv.RequestID)
		}
		if secs, _ := strconv.ParseFloat(m[2], 64); secs < 1 || secs >= 3 {
			t.Errorf("timed out after %.2f seconds, want about 1 (Timeout 1)", secs)
		}
	}
	if inv.Wall >= 4*time.Second {
		t.Errorf("the timed-out invoke took %v: the function (sleeping 5 s) was not stopped at its 1 s timeout", inv.Wall)
	}
	if mem, _, _ := looseReport(t, inv.Log); mem != 128 {
		t.Errorf("REPORT Memory Size %d, want 128", mem)
	}
	mustRecoverCold(t, c, name, warm, 128)
}

func TestFailureOutOfMemory(t *testing.T) {
	t.Parallel()
	const name = "oom-fn"
	c, warm := mustFailingFunction(t, name, nil) // 128 MB

	inv := invoke(t, c, name, Event{Action: "alloc", MB: 512})
	fe := inv.mustFunctionError(t)
	if fe.ErrorType != "Runtime.OutOfMemory" {
		t.Errorf("errorType = %q, want Runtime.OutOfMemory (body %s)", fe.ErrorType, inv.Payload)
	}
	if msg := strings.ToLower(fe.ErrorMessage); !strings.Contains(msg, "memory") && !strings.Contains(msg, "killed") {
		t.Errorf("errorMessage = %q, want it to say the runtime ran out of memory / was killed", fe.ErrorMessage)
	}
	if mem, used, _ := looseReport(t, inv.Log); mem != 128 || used != 128 {
		t.Errorf("REPORT Memory Size %d MB, Max Memory Used %d MB; want 128 and 128", mem, used)
	}
	mustRecoverCold(t, c, name, warm, 128)

	// Memory below the limit is fine.
	var res map[string]any
	invoke(t, c, name, Event{Action: "alloc", MB: 64}).mustSucceed(t, &res)
}

func TestFailurePanic(t *testing.T) {
	t.Parallel()
	const name = "panic-fn"
	c, warm := mustFailingFunction(t, name, nil)

	inv := invoke(t, c, name, Event{Action: "panic", Message: "kaboom"})
	fe := inv.mustFunctionError(t)
	// aws-lambda-go reports a panic as the panic value and its Go type,
	// with a stack trace, then exits.
	if fe.ErrorMessage != "kaboom" || fe.ErrorType != "string" || len(fe.StackTrace) == 0 {
		t.Errorf("panic body = %s; want errorMessage kaboom, errorType string and a stackTrace", inv.Payload)
	}
	mustRecoverCold(t, c, name, warm, 128)
}

func TestFailureRuntimeExit(t *testing.T) {
	t.Parallel()
	const name = "exit-fn"
	c, warm := mustFailingFunction(t, name, nil)

	inv := invoke(t, c, name, Event{Action: "exit", Code: 3})
	fe := inv.mustFunctionError(t)
	if fe.ErrorType != "Runtime.ExitError" {
		t.Errorf("errorType = %q, want Runtime.ExitError", fe.ErrorType)
	}
	m := regexp.MustCompile(`^RequestId: (\S+) Error: Runtime exited with error: exit status 3$`).FindStringSubmatch(fe.ErrorMessage)
	if m == nil {
		t.Errorf("errorMessage = %q, want %q", fe.ErrorMessage, "RequestId: <id> Error: Runtime exited with error: exit status 3")
	} else if inv.RequestID != "" && m[1] != inv.RequestID {
		t.Errorf("errorMessage names request %s, x-amzn-RequestId is %s", m[1], inv.RequestID)
	}
	mustRecoverCold(t, c, name, warm, 128)

	// Exit status 0 in the middle of an invoke is an error too.
	again, _ := mustEnv(t, c, name)
	inv = invoke(t, c, name, Event{Action: "exit", Code: 0})
	fe = inv.mustFunctionError(t)
	if fe.ErrorType != "Runtime.ExitError" || !strings.Contains(fe.ErrorMessage, "Runtime exited") {
		t.Errorf("exit 0: body %s, want Runtime.ExitError", inv.Payload)
	}
	mustRecoverCold(t, c, name, again, 128)
}

func TestFailureFunctionError(t *testing.T) {
	t.Parallel()
	const name = "error-fn"
	c, warm := mustFailingFunction(t, name, nil)

	inv := invoke(t, c, name, Event{Action: "error", Message: "no good"})
	fe := inv.mustFunctionError(t)
	if fe.ErrorMessage != "no good" || fe.ErrorType != "errorString" {
		t.Errorf("body = %s, want errorMessage %q, errorType errorString", inv.Payload, "no good")
	}
	checkPlatformLines(t, inv.Log, inv.RequestID, 128, false)

	// A returned error does not cost the environment.
	env, next := mustEnv(t, c, name)
	if env.Instance != warm.Instance {
		t.Errorf("the invoke after a returned error ran in a new environment; want the warm one reused")
	}
	checkPlatformLines(t, next.Log, env.RequestID, 128, false)
}

func TestFailureInit(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "init-fn"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"GOFN_INIT_EXIT": "4"}}
	})

	for i := range 2 { // init is retried on every invoke
		inv := invoke(t, c, name, Event{Action: "env"})
		fe := inv.mustFunctionError(t)
		if fe.ErrorType != "Runtime.ExitError" || !strings.Contains(fe.ErrorMessage, "exit status 4") {
			t.Errorf("invoke %d of a function whose init exits 4: body %s; want Runtime.ExitError mentioning exit status 4", i+1, inv.Payload)
		}
	}

	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Environment: &types.Environment{Variables: map[string]string{}},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	env, inv := mustEnv(t, c, name)
	checkPlatformLines(t, inv.Log, env.RequestID, 128, true)
}
