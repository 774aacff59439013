package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestRestart checks that functions, their code, configuration and tags
// survive a clean restart of the server on the same data dir.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "restart-fn"
	zip := mustFixtureZipWith(t, zipEntry{Name: "version.txt", Data: []byte("persisted")})
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Code.ZipFile = zip
		in.Tags = map[string]string{"keep": "me"}
	})
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), MemorySize: aws.Int32(192),
		Environment: &types.Environment{Variables: map[string]string{"AFTER": "update"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil)
	before, err := c.GetFunction(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}

	srv.Restart()
	c = NewLambdaClient(srv.URL)

	cli := MustAWSCLI(t, srv.URL)
	var got struct {
		Configuration functionConfig
		Tags          map[string]string
	}
	cli.MustJSON(&got, "lambda", "get-function", "--function-name", name)
	b := sdkConfig(t, before.Configuration)
	if got.Configuration.RevisionId != b.RevisionId || got.Configuration.CodeSha256 != codeSha256(zip) ||
		got.Configuration.LastModified != b.LastModified || got.Configuration.MemorySize != 192 ||
		sortedMap(got.Configuration.Environment.Variables) != sortedMap(map[string]string{"AFTER": "update"}) ||
		got.Configuration.State != "Active" {
		t.Errorf("after restart: %+v\nbefore: %+v", got.Configuration, b)
	}
	if got.Tags["keep"] != "me" {
		t.Errorf("tags after restart = %v", got.Tags)
	}
	if names := listFunctionNames(t, c); len(names) != 1 || names[0] != name {
		t.Errorf("ListFunctions after restart = %v", names)
	}

	var read opResult
	inv := invoke(t, c, name, Event{Action: "read", Path: "/var/task/version.txt"}).mustSucceed(t, &read)
	if read.Content != "persisted" {
		t.Errorf("/var/task/version.txt after restart = %+v", read)
	}
	checkPlatformLines(t, inv.Log, inv.RequestID, 192, true)
	env, _ := mustEnv(t, c, name)
	checkVars(t, env.Env, map[string]string{"AFTER": "update", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192"})

	// Still fully writable after the restart.
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Description: aws.String("after restart"), RevisionId: aws.String(b.RevisionId),
	}); err != nil {
		t.Fatalf("updating after restart with the persisted RevisionId: %v", err)
	}
}
