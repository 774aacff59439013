package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestSDKFunctionLifecycle is the core control-plane flow with
// aws-sdk-go-v2: create, conflict, get, invoke, update code and
// configuration under the RevisionId lock, delete.
func TestSDKFunctionLifecycle(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "sdk-fn"
	zip1 := mustFixtureZip(t)
	zip2 := mustFixtureZipWith(t, zipEntry{Name: "version.txt", Data: []byte("v2")})

	before := time.Now()
	created := mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"VAR_A": "1"}}
		in.Tags = map[string]string{"owner": "e2e"}
	})
	want := wantConfig{Name: name, Zip: zip1, MemorySize: 128, Timeout: 10, Env: map[string]string{"VAR_A": "1"}, After: before}
	checkConfig(t, sdkConfig(t, created), want)

	// A second create of the same name conflicts and changes nothing.
	_, err := c.CreateFunction(ctxFor(t, time.Minute), createInput(t, name))
	mustAPIError(t, err, 409, "ResourceConflictException")

	got, err := c.GetFunction(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sdkConfig(t, got.Configuration)
	checkConfig(t, cfg, want)
	if cfg.State != "Active" || cfg.LastUpdateStatus != "Successful" {
		t.Errorf("State/LastUpdateStatus = %q/%q, want Active/Successful", cfg.State, cfg.LastUpdateStatus)
	}
	if got.Tags["owner"] != "e2e" {
		t.Errorf("GetFunction Tags = %v, want owner=e2e", got.Tags)
	}

	var echo map[string]any
	invoke(t, c, name, Event{Action: "echo", Data: "x"}).mustSucceed(t, &echo)
	if echo["data"] != "x" {
		t.Errorf("echo = %v", echo)
	}

	// UpdateFunctionCode: a stale RevisionId is refused, a current one works.
	_, err = c.UpdateFunctionCode(ctxFor(t, time.Minute), &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String(name), ZipFile: zip2, RevisionId: aws.String("00000000-0000-4000-8000-000000000000"),
	})
	mustAPIError(t, err, 412, "PreconditionFailedException")
	up, err := c.UpdateFunctionCode(ctxFor(t, time.Minute), &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String(name), ZipFile: zip2, RevisionId: aws.String(cfg.RevisionId),
	})
	if err != nil {
		t.Fatal(err)
	}
	want.Zip, want.After = zip2, before
	checkConfig(t, sdkConfig(t, up), want)
	waitUpdated(t, c, name)
	var read opResult
	invoke(t, c, name, Event{Action: "read", Path: "/var/task/version.txt"}).mustSucceed(t, &read)
	if read.Content != "v2" {
		t.Errorf("/var/task/version.txt after UpdateFunctionCode = %+v, want v2", read)
	}

	// UpdateFunctionConfiguration with the lock.
	_, err = c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Timeout: aws.Int32(20), RevisionId: aws.String(cfg.RevisionId),
	})
	mustAPIError(t, err, 412, "PreconditionFailedException")
	uc, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Timeout: aws.Int32(20), MemorySize: aws.Int32(512),
		Environment: &types.Environment{Variables: map[string]string{"VAR_B": "2"}},
		RevisionId:  up.RevisionId,
	})
	if err != nil {
		t.Fatal(err)
	}
	want.Timeout, want.MemorySize, want.Env = 20, 512, map[string]string{"VAR_B": "2"}
	checkConfig(t, sdkConfig(t, uc), want)
	if aws.ToString(uc.RevisionId) == aws.ToString(up.RevisionId) {
		t.Error("RevisionId unchanged by UpdateFunctionConfiguration")
	}
	waitUpdated(t, c, name)
	env, inv := mustEnv(t, c, name)
	checkVars(t, env.Env, map[string]string{"VAR_A": "", "VAR_B": "2", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"})
	if dl := env.DeadlineMs - env.NowMs; dl < 15_000 || dl > 20_500 {
		t.Errorf("deadline is %d ms away at the start of the invoke, want about 20 s (Timeout 20)", dl)
	}
	checkPlatformLines(t, inv.Log, env.RequestID, 512, true)

	// Delete.
	if _, err := c.DeleteFunction(ctxFor(t, time.Minute), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
	_, err = tryInvoke(t, c, name, Event{Action: "echo"})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
	_, err = c.DeleteFunction(ctxFor(t, time.Minute), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
	if names := listFunctionNames(t, c); len(names) != 0 {
		t.Errorf("ListFunctions after delete = %v", names)
	}
}

// TestSDKInvoke covers the Invoke API: every form of function name, the
// response headers, function errors, DryRun, Event, and the service
// errors.
func TestSDKInvoke(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "invoke-fn"
	arn := functionARN(name)
	mustCreateFunction(t, c, name, nil)

	t.Run("name forms", func(t *testing.T) {
		forms := []struct {
			desc, name string
			opts       []invokeOpt
			qualified  bool // the invoked ARN may carry :$LATEST
		}{
			{"name", name, nil, false},
			{"name:$LATEST", name + ":$LATEST", nil, true},
			{"name with Qualifier", name, []invokeOpt{withQualifier("$LATEST")}, true},
			{"full ARN", arn, nil, false},
			{"full ARN:$LATEST", arn + ":$LATEST", nil, true},
			{"partial ARN", accountID + ":function:" + name, nil, false},
			{"partial ARN:$LATEST", accountID + ":function:" + name + ":$LATEST", nil, true},
		}
		for _, f := range forms {
			t.Run(f.desc, func(t *testing.T) {
				var env envResult
				inv := invoke(t, c, f.name, Event{Action: "env"}, f.opts...).mustSucceed(t, &env)
				if inv.ExecutedVersion != "$LATEST" {
					t.Errorf("X-Amz-Executed-Version = %q, want $LATEST", inv.ExecutedVersion)
				}
				if inv.RequestID == "" || inv.RequestID != env.RequestID {
					t.Errorf("x-amzn-RequestId = %q, want the invocation's request id %q", inv.RequestID, env.RequestID)
				}
				if env.InvokedFunctionArn != arn && !(f.qualified && env.InvokedFunctionArn == arn+":$LATEST") {
					t.Errorf("invoked function ARN = %q, want %q", env.InvokedFunctionArn, arn)
				}
			})
		}
	})

	t.Run("function error", func(t *testing.T) {
		inv := invoke(t, c, name, Event{Action: "error", Message: "it broke"})
		fe := inv.mustFunctionError(t)
		if fe.ErrorMessage != "it broke" || fe.ErrorType != "errorString" {
			t.Errorf("error body = %s, want errorMessage %q, errorType errorString", inv.Payload, "it broke")
		}
		if inv.ExecutedVersion != "$LATEST" || inv.RequestID == "" {
			t.Errorf("X-Amz-Executed-Version %q, x-amzn-RequestId %q", inv.ExecutedVersion, inv.RequestID)
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		out, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
			FunctionName: aws.String(name), InvocationType: types.InvocationTypeDryRun, Payload: []byte(`{"action":"echo"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.StatusCode != 204 || len(out.Payload) != 0 {
			t.Errorf("DryRun: status %d, payload %q; want 204 and none", out.StatusCode, out.Payload)
		}
		_, err = c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
			FunctionName: aws.String("no-such-fn"), InvocationType: types.InvocationTypeDryRun,
		})
		mustAPIError(t, err, 404, "ResourceNotFoundException")
	})

	t.Run("Event is queued", func(t *testing.T) {
		out, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{
			FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"action":"echo"}`),
		})
		if err != nil {
			t.Fatalf("Event invoke: %v", err)
		}
		if out.StatusCode != 202 || len(out.Payload) != 0 {
			t.Errorf("Event invoke: status %d, payload %q; want 202 and none (async_test.go checks what happens next)", out.StatusCode, out.Payload)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, n := range []string{"no-such-fn", functionARN("no-such-fn"), accountID + ":function:no-such-fn"} {
			_, err := tryInvoke(t, c, n, Event{Action: "echo"})
			mustAPIError(t, err, 404, "ResourceNotFoundException")
		}
		_, err := tryInvoke(t, c, name, Event{Action: "echo"}, withQualifier("7"))
		mustAPIError(t, err, 404, "ResourceNotFoundException")
	})

	t.Run("large payload round trip", func(t *testing.T) {
		pad := strings.Repeat("x", 6_000_000)
		inv := invoke(t, c, name, Event{Action: "echo", Data: pad})
		var echo Event
		inv.mustSucceed(t, &echo)
		if echo.Data != pad {
			t.Errorf("a 6,000,000-byte echo came back changed (%d bytes)", len(inv.Payload))
		}
	})

	t.Run("payload over 6 MB", func(t *testing.T) {
		payload := []byte(`{"action":"echo","data":"` + strings.Repeat("x", 6*1024*1024) + `"}`)
		_, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload})
		mustAPIError(t, err, 413, "RequestEntityTooLargeException")
	})

	t.Run("invalid JSON payload", func(t *testing.T) {
		_, err := c.Invoke(ctxFor(t, time.Minute), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action": nope`)})
		mustAPIError(t, err, 400, "InvalidRequestContentException")
	})

	t.Run("still healthy", func(t *testing.T) {
		invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil)
	})
}

// TestSDKListFunctionsPagination creates more functions than fit on one
// ListFunctions page (50) and pages through them with NextMarker.
func TestSDKListFunctionsPagination(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	zip := tinyZip(t)
	const n = 55
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("list-fn-%02d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for _, name := range want {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			in := createInput(t, name)
			in.Code.ZipFile = zip
			if _, err := c.CreateFunction(ctxFor(t, time.Minute), in); err != nil {
				errs <- fmt.Errorf("CreateFunction(%s): %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	first, err := c.ListFunctions(ctxFor(t, time.Minute), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Functions) != 50 || aws.ToString(first.NextMarker) == "" {
		t.Errorf("first page: %d functions, NextMarker %q; want 50 and a marker", len(first.Functions), aws.ToString(first.NextMarker))
	}
	second, err := c.ListFunctions(ctxFor(t, time.Minute), &lambda.ListFunctionsInput{Marker: first.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Functions) != 5 || aws.ToString(second.NextMarker) != "" {
		t.Errorf("second page: %d functions, NextMarker %q; want 5 and no marker", len(second.Functions), aws.ToString(second.NextMarker))
	}
	if got := listFunctionNames(t, c); !slices.Equal(got, want) {
		t.Errorf("all pages = %v\nwant %v", got, want)
	}
	small, err := c.ListFunctions(ctxFor(t, time.Minute), &lambda.ListFunctionsInput{MaxItems: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Functions) != 10 || aws.ToString(small.NextMarker) == "" {
		t.Errorf("MaxItems 10: %d functions, NextMarker %q; want 10 and a marker", len(small.Functions), aws.ToString(small.NextMarker))
	}
}

// sdkConfig converts the SDK's view of a FunctionConfiguration (from any
// of the operations that return one) to the CLI's, for checkConfig.
func sdkConfig(t testing.TB, v any) functionConfig {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var cfg functionConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}
