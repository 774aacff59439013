package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestFunctionEnvironment checks what a function sees inside its execution
// environment (reference §3.6–3.7, §3.2) and that a second invoke reuses
// the warm environment.
func TestFunctionEnvironment(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "env-fn"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.MemorySize, in.Timeout = aws32(256), aws32(7)
		in.Environment = &types.Environment{Variables: map[string]string{"USER_VAR": "user value"}}
	})

	before := time.Now()
	env, inv := mustEnv(t, c, name)
	first := checkPlatformLines(t, inv.Log, env.RequestID, 256, true)

	checkVars(t, env.Env, map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
		"AWS_LAMBDA_RUNTIME_API":          "127.0.0.1:9001",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
		"USER_VAR":                        "user value",
		"AWS_EXECUTION_ENV":               "", // unset for provided runtimes
	})
	for _, k := range []string{"PATH", "LANG", "LD_LIBRARY_PATH"} {
		if env.Env[k] == "" {
			t.Errorf("environment has no %s", k)
		}
	}
	stream := env.Env["AWS_LAMBDA_LOG_STREAM_NAME"]
	if m := logStreamRE.FindStringSubmatch(stream); m == nil {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q, want YYYY/MM/DD/[$LATEST]<32 hex>", stream)
	} else if day := before.UTC().Format("2006/01/02"); m[1] != day && m[1] != time.Now().UTC().Format("2006/01/02") {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME %q is not dated today (%s UTC)", stream, day)
	}
	// aws-lambda-go's lambdacontext reads the same variables.
	if env.LcFunctionName != name || env.LcFunctionVersion != "$LATEST" || env.LcMemoryLimitInMB != 256 ||
		env.LcLogGroupName != "/aws/lambda/"+name || env.LcLogStreamName != stream {
		t.Errorf("lambdacontext: name %q, version %q, memory %d, group %q, stream %q", env.LcFunctionName, env.LcFunctionVersion,
			env.LcMemoryLimitInMB, env.LcLogGroupName, env.LcLogStreamName)
	}

	// The invocation's context (Runtime API next headers).
	if env.RequestID != inv.RequestID || env.RequestID != first.RequestID {
		t.Errorf("request id: function %q, x-amzn-RequestId %q, REPORT %q; want one id", env.RequestID, inv.RequestID, first.RequestID)
	}
	if env.InvokedFunctionArn != functionARN(name) {
		t.Errorf("invoked function ARN = %q, want %q", env.InvokedFunctionArn, functionARN(name))
	}
	if dl := env.DeadlineMs - env.NowMs; dl < 5_000 || dl > 7_500 {
		t.Errorf("deadline is %d ms after the handler started, want about 7000 (Timeout 7)", dl)
	}
	if d := time.UnixMilli(env.DeadlineMs); d.Before(before.Add(6*time.Second)) || d.After(time.Now().Add(8*time.Second)) {
		t.Errorf("deadline %s is not ~7 s after the invoke (%s)", d, before)
	}
	if !strings.HasPrefix(env.TraceID, "Root=1-") {
		t.Errorf("trace id = %q, want an X-Ray header starting Root=1-", env.TraceID)
	}

	// The process.
	if env.Cwd != "/var/task" {
		t.Errorf("working directory = %q, want /var/task", env.Cwd)
	}
	if env.UID == 0 || env.EUID == 0 {
		t.Errorf("function runs as uid %d (euid %d), want an unprivileged uid", env.UID, env.EUID)
	}

	// Warm: the same environment serves the next invoke, without init.
	env2, inv2 := mustEnv(t, c, name)
	checkPlatformLines(t, inv2.Log, env2.RequestID, 256, false)
	if env2.Instance != env.Instance || env2.Invocations != 2 {
		t.Errorf("second invoke ran in instance %s (invoke #%d), want the warm instance %s (#2)", env2.Instance, env2.Invocations, env.Instance)
	}
	if env2.RequestID == env.RequestID {
		t.Errorf("both invokes have request id %s", env.RequestID)
	}
	if env2.Env["AWS_LAMBDA_LOG_STREAM_NAME"] != stream {
		t.Errorf("warm invoke logs to stream %q, want the environment's stream %q", env2.Env["AWS_LAMBDA_LOG_STREAM_NAME"], stream)
	}
}

func aws32(v int32) *int32 { return &v }
