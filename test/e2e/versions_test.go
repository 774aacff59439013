package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestVersions publishes versions with the AWS CLI and the SDK and checks
// that they are immutable snapshots: after $LATEST gets new code and a
// new environment, version 1 still runs the old ones, however it is
// named (name:1, Qualifier=1, qualified ARN, partial ARN, --qualifier).
func TestVersions(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "ver-fn"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"STAGE": "one"}}
	})

	var v1 functionConfig
	cli.MustJSON(&v1, "lambda", "publish-version", "--function-name", name, "--description", "first")
	if v1.Version != "1" || v1.FunctionArn != functionARN(name)+":1" || v1.Description != "first" {
		t.Fatalf("publish-version = version %q arn %q description %q", v1.Version, v1.FunctionArn, v1.Description)
	}
	// Nothing changed: the same version again.
	var again functionConfig
	cli.MustJSON(&again, "lambda", "publish-version", "--function-name", name)
	if again.Version != "1" || again.RevisionId != v1.RevisionId {
		t.Fatalf("publishing an unchanged function gave version %q (revision %s), want version 1 (%s)", again.Version, again.RevisionId, v1.RevisionId)
	}

	// Change $LATEST: new code (with a marker file) and a new environment.
	zip2 := mustFixtureZipWith(t, zipEntry{Name: "marker.txt", Data: []byte("v2")})
	if _, err := c.UpdateFunctionCode(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip2}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Environment: &types.Environment{Variables: map[string]string{"STAGE": "two"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)

	// Version 1, in every form of qualified invoke.
	for _, tc := range []struct {
		desc string
		fn   string
		opts []invokeOpt
	}{
		{"name:1", name + ":1", nil},
		{"Qualifier=1", name, []invokeOpt{withQualifier("1")}},
		{"qualified ARN", functionARN(name) + ":1", nil},
		{"partial ARN", accountID + ":function:" + name + ":1", nil},
		{"ARN and Qualifier", functionARN(name) + ":1", []invokeOpt{withQualifier("1")}},
	} {
		var env envResult
		inv := invoke(t, c, tc.fn, Event{Action: "env"}, tc.opts...).mustSucceed(t, &env)
		if inv.ExecutedVersion != "1" || env.Env["STAGE"] != "one" || env.Env["AWS_LAMBDA_FUNCTION_VERSION"] != "1" ||
			env.InvokedFunctionArn != functionARN(name)+":1" {
			t.Errorf("%s: executed %q, STAGE %q, AWS_LAMBDA_FUNCTION_VERSION %q, invoked ARN %q; want 1, one, 1, %s:1",
				tc.desc, inv.ExecutedVersion, env.Env["STAGE"], env.Env["AWS_LAMBDA_FUNCTION_VERSION"], env.InvokedFunctionArn, functionARN(name))
		}
		if !strings.Contains(env.Env["AWS_LAMBDA_LOG_STREAM_NAME"], "/[1]") {
			t.Errorf("%s: log stream %q, want [1] in it", tc.desc, env.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
		}
	}
	var res opResult
	invoke(t, c, name+":1", Event{Action: "read", Path: "/var/task/marker.txt"}).mustSucceed(t, &res)
	if res.OK {
		t.Errorf("version 1 sees the new code's marker.txt")
	}
	inv := cli.Invoke(name, Event{Action: "env"}, "--qualifier", "1")
	if inv.ExecutedVersion != "1" || !strings.Contains(string(inv.Payload), `"STAGE":"one"`) {
		t.Errorf("CLI invoke --qualifier 1: executed %q, payload %.200s", inv.ExecutedVersion, inv.Payload)
	}

	// $LATEST has the new code and environment.
	var env envResult
	latest := invoke(t, c, name, Event{Action: "env"}).mustSucceed(t, &env)
	if latest.ExecutedVersion != "$LATEST" || env.Env["STAGE"] != "two" {
		t.Errorf("$LATEST: executed %q, STAGE %q", latest.ExecutedVersion, env.Env["STAGE"])
	}
	invoke(t, c, name, Event{Action: "read", Path: "/var/task/marker.txt"}).mustSucceed(t, &res)
	if !res.OK || res.Content != "v2" {
		t.Errorf("$LATEST marker.txt = %+v", res)
	}

	// Guards, then version 2.
	cfg := sdkConfig(t, mustGetConfig(t, c, name, ""))
	cli.MustFail("PreconditionFailedException", "lambda", "publish-version", "--function-name", name, "--revision-id", v1.RevisionId)
	cli.MustFail("InvalidParameterValueException", "lambda", "publish-version", "--function-name", name, "--code-sha256", v1.CodeSha256)
	out, err := c.PublishVersion(ctxFor(t, invokeTimeout), &lambda.PublishVersionInput{
		FunctionName: aws.String(name), CodeSha256: aws.String(cfg.CodeSha256), RevisionId: aws.String(cfg.RevisionId),
	})
	if err != nil || aws.ToString(out.Version) != "2" {
		t.Fatalf("PublishVersion with matching guards = %v, %v", out, err)
	}

	// Qualified reads; version 1's configuration never changed.
	if got := sdkConfig(t, mustGetConfig(t, c, name, "1")); got.Version != "1" || got.CodeSha256 != v1.CodeSha256 || got.Environment.Variables["STAGE"] != "one" {
		t.Errorf("get-function-configuration :1 = %+v", got)
	}
	var listed struct{ Versions []functionConfig }
	cli.MustJSON(&listed, "lambda", "list-versions-by-function", "--function-name", name)
	var versions []string
	for _, v := range listed.Versions {
		versions = append(versions, v.Version)
	}
	if strings.Join(versions, ",") != "$LATEST,1,2" {
		t.Errorf("list-versions-by-function = %v", versions)
	}

	// Delete version 1: gone, the others stay.
	cli.MustFail("InvalidParameterValueException", "lambda", "delete-function", "--function-name", name, "--qualifier", "$LATEST")
	cli.MustRun("lambda", "delete-function", "--function-name", name, "--qualifier", "1")
	_, err = tryInvoke(t, c, name+":1", Event{Action: "echo"})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
	if inv := invoke(t, c, name+":2", Event{Action: "echo"}).mustSucceed(t, nil); inv.ExecutedVersion != "2" {
		t.Errorf("version 2 executed %q", inv.ExecutedVersion)
	}
	// Numbers are never reused.
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Timeout: aws.Int32(11),
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	if out, err := c.PublishVersion(ctxFor(t, invokeTimeout), &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil || aws.ToString(out.Version) != "3" {
		t.Fatalf("PublishVersion after deleting 1 = %v, %v; want 3", out, err)
	}
}

// TestPublishOnCreateAndUpdate covers --publish on create-function and
// update-function-code.
func TestPublishOnCreateAndUpdate(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "pub-fn"
	zip1 := writeTempFile(t, "v1.zip", mustFixtureZip(t))
	zip2 := writeTempFile(t, "v2.zip", mustFixtureZipWith(t, zipEntry{Name: "marker.txt", Data: []byte("v2")}))
	var created functionConfig
	cli.MustJSON(&created, "lambda", "create-function", "--function-name", name, "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", testRole, "--zip-file", "fileb://"+zip1, "--publish")
	if created.Version != "1" {
		t.Fatalf("create-function --publish: Version %q, want 1", created.Version)
	}
	cli.MustRun("lambda", "wait", "function-active-v2", "--function-name", name)
	var updated functionConfig
	cli.MustJSON(&updated, "lambda", "update-function-code", "--function-name", name, "--zip-file", "fileb://"+zip2, "--publish")
	if updated.Version != "2" || updated.CodeSha256 == created.CodeSha256 {
		t.Fatalf("update-function-code --publish: Version %q CodeSha256 %q", updated.Version, updated.CodeSha256)
	}
	var res opResult
	invoke(t, c, name+":1", Event{Action: "read", Path: "/var/task/marker.txt"}).mustSucceed(t, &res)
	if res.OK {
		t.Error("version 1 has version 2's code")
	}
	invoke(t, c, name+":2", Event{Action: "read", Path: "/var/task/marker.txt"}).mustSucceed(t, &res)
	if !res.OK {
		t.Errorf("version 2 lacks its code: %+v", res)
	}
	// Deleting the function deletes its versions.
	cli.MustRun("lambda", "delete-function", "--function-name", name)
	cli.MustFail("ResourceNotFoundException", "lambda", "get-function", "--function-name", name, "--qualifier", "1")
}

// mustGetConfig calls GetFunctionConfiguration (qualified when q is set).
func mustGetConfig(t testing.TB, c *lambda.Client, name, q string) *lambda.GetFunctionConfigurationOutput {
	t.Helper()
	in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)}
	if q != "" {
		in.Qualifier = aws.String(q)
	}
	out, err := c.GetFunctionConfiguration(ctxFor(t, invokeTimeout), in)
	if err != nil {
		t.Fatalf("GetFunctionConfiguration(%s, %q): %v", name, q, err)
	}
	return out
}

// TestEnvironmentChangeRetiresIdle: UpdateFunctionConfiguration replaces
// the environment wholesale, and the next invoke is a cold start in a new
// environment with the new variables (the idle one of the old
// configuration is retired, never reused).
func TestEnvironmentChangeRetiresIdle(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "env-change"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"OLD": "1", "SHARED": "old"}}
	})
	first, inv := mustEnv(t, c, name)
	if !isCold(inv.Log) || first.Env["OLD"] != "1" {
		t.Fatalf("first invoke: cold %v, env OLD=%q", isCold(inv.Log), first.Env["OLD"])
	}
	warm, inv := mustEnv(t, c, name)
	if isCold(inv.Log) || warm.Instance != first.Instance {
		t.Fatalf("second invoke was not warm")
	}

	cli.MustRun("lambda", "update-function-configuration", "--function-name", name,
		"--environment", `{"Variables":{"SHARED":"new","NEW":"2"}}`)
	cli.MustRun("lambda", "wait", "function-updated-v2", "--function-name", name)
	after, inv := mustEnv(t, c, name)
	if !isCold(inv.Log) || after.Instance == first.Instance {
		t.Errorf("invoke after the update ran in the old environment (cold %v, instance %s)", isCold(inv.Log), after.Instance)
	}
	if _, ok := after.Env["OLD"]; ok || after.Env["SHARED"] != "new" || after.Env["NEW"] != "2" {
		t.Errorf("environment after the update: OLD=%q SHARED=%q NEW=%q; want it replaced wholesale",
			after.Env["OLD"], after.Env["SHARED"], after.Env["NEW"])
	}
	again, inv := mustEnv(t, c, name)
	if isCold(inv.Log) || again.Instance != after.Instance {
		t.Errorf("the new environment is not reused")
	}
	cli.MustFail("InvalidParameterValueException", "lambda", "update-function-configuration", "--function-name", name,
		"--environment", `{"Variables":{"AWS_REGION":"x"}}`)
	cli.MustFail("InvalidParameterValueException", "lambda", "update-function-configuration", "--function-name", name,
		"--environment", `{"Variables":{"BIG":"`+strings.Repeat("x", 4094)+`"}}`)
}
