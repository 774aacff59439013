package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// layerVersion is a PublishLayerVersion / GetLayerVersion output as the
// CLI prints it.
type layerVersion struct {
	LayerArn        string
	LayerVersionArn string
	Version         int64
	Description     string
	Content         struct {
		CodeSha256 string
		CodeSize   int64
		Location   string
	}
}

// execResult is what the fixture's "exec" action returns.
type execResult struct {
	Path     string `json:"path"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error"`
}

// TestLayers publishes two layers with the AWS CLI, gives them to a
// provided.al2023 function and checks /opt: a layer's program runs from
// PATH (/opt/bin), files of both layers are there, the later layer wins
// where both have a file, and /opt is read-only. Deleting a layer version
// does not break the function.
func TestLayers(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)

	tools := writeTempFile(t, "tools.zip", mustZip(t,
		zipEntry{Name: "bin/hello-layer", Mode: 0o755, Data: []byte("#!/bin/sh\necho \"hello from layer $1\"\n")},
		zipEntry{Name: "data/order.txt", Data: []byte("tools")},
		zipEntry{Name: "data/tools-only.txt", Data: []byte("only in tools")},
		zipEntry{Name: "lib/libfake.so", Data: []byte("not really a library")},
	))
	more := writeTempFile(t, "more.zip", mustZip(t,
		zipEntry{Name: "data/order.txt", Data: []byte("more")},
		zipEntry{Name: "python/helper.py", Data: []byte("X = 1\n")},
	))
	var l1, l2 layerVersion
	cli.MustJSON(&l1, "lambda", "publish-layer-version", "--layer-name", "tools", "--zip-file", "fileb://"+tools,
		"--description", "shell tools", "--compatible-runtimes", "provided.al2023", "python3.12")
	cli.MustJSON(&l2, "lambda", "publish-layer-version", "--layer-name", "more", "--zip-file", "fileb://"+more)
	layerARN := "arn:aws:lambda:" + region + ":" + accountID + ":layer:"
	if l1.LayerVersionArn != layerARN+"tools:1" || l1.LayerArn != layerARN+"tools" || l1.Version != 1 || l1.Content.CodeSize == 0 || l1.Content.CodeSha256 == "" {
		t.Fatalf("publish-layer-version = %+v", l1)
	}

	const name = "layered-fn"
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Layers = []string{l1.LayerVersionArn, l2.LayerVersionArn}
	})
	var cfg struct {
		Layers []struct {
			Arn      string
			CodeSize int64
		}
	}
	cli.MustJSON(&cfg, "lambda", "get-function-configuration", "--function-name", name)
	if len(cfg.Layers) != 2 || cfg.Layers[0].Arn != l1.LayerVersionArn || cfg.Layers[1].Arn != l2.LayerVersionArn || cfg.Layers[0].CodeSize != l1.Content.CodeSize {
		t.Fatalf("Layers = %+v", cfg.Layers)
	}

	// The layer's program is on PATH.
	var ex execResult
	invoke(t, c, name, Event{Action: "exec", Path: "hello-layer"}, withArgs("x")).mustSucceed(t, &ex)
	if ex.Path != "/opt/bin/hello-layer" || strings.TrimSpace(ex.Stdout) != "hello from layer x" || ex.ExitCode != 0 {
		t.Fatalf("exec hello-layer = %+v", ex)
	}
	// Files of both layers, the later one winning.
	for path, want := range map[string]string{
		"/opt/data/order.txt":      "more",
		"/opt/data/tools-only.txt": "only in tools",
		"/opt/python/helper.py":    "X = 1\n",
		"/opt/lib/libfake.so":      "not really a library",
	} {
		var res opResult
		invoke(t, c, name, Event{Action: "read", Path: path}).mustSucceed(t, &res)
		if !res.OK || res.Content != want {
			t.Errorf("read %s = %+v, want %q", path, res, want)
		}
	}
	var res opResult
	invoke(t, c, name, Event{Action: "write", Path: "/opt/data/new.txt", Content: "x"}).mustSucceed(t, &res)
	if res.OK || res.Errno != "EROFS" {
		t.Errorf("writing to /opt = %+v, want EROFS", res)
	}
	var env envResult
	invoke(t, c, name, Event{Action: "env"}).mustSucceed(t, &env)
	if !strings.Contains(":"+env.Env["PATH"]+":", ":/opt/bin:") || !strings.Contains(":"+env.Env["LD_LIBRARY_PATH"]+":", ":/opt/lib:") {
		t.Errorf("PATH %q, LD_LIBRARY_PATH %q: want /opt/bin and /opt/lib", env.Env["PATH"], env.Env["LD_LIBRARY_PATH"])
	}

	// Reading layers back.
	var got layerVersion
	cli.MustJSON(&got, "lambda", "get-layer-version", "--layer-name", "tools", "--version-number", "1")
	if got.Description != "shell tools" || got.Content.CodeSha256 != l1.Content.CodeSha256 {
		t.Errorf("get-layer-version = %+v", got)
	}
	cli.MustJSON(&got, "lambda", "get-layer-version-by-arn", "--arn", l2.LayerVersionArn)
	if got.LayerVersionArn != l2.LayerVersionArn {
		t.Errorf("get-layer-version-by-arn = %+v", got)
	}
	var layers struct {
		Layers []struct {
			LayerName             string
			LatestMatchingVersion struct{ Version int64 }
		}
	}
	cli.MustJSON(&layers, "lambda", "list-layers")
	if len(layers.Layers) != 2 || layers.Layers[0].LayerName != "more" || layers.Layers[1].LayerName != "tools" {
		t.Errorf("list-layers = %+v", layers.Layers)
	}
	cli.MustJSON(&layers, "lambda", "list-layers", "--compatible-runtime", "python3.12")
	if len(layers.Layers) != 1 || layers.Layers[0].LayerName != "tools" {
		t.Errorf("list-layers --compatible-runtime python3.12 = %+v", layers.Layers)
	}
	var versions struct{ LayerVersions []struct{ Version int64 } }
	cli.MustJSON(&versions, "lambda", "list-layer-versions", "--layer-name", "tools")
	if len(versions.LayerVersions) != 1 || versions.LayerVersions[0].Version != 1 {
		t.Errorf("list-layer-versions = %+v", versions.LayerVersions)
	}

	// Deleting the layer version keeps the function working, also in new
	// environments, but the version can no longer be used.
	cli.MustRun("lambda", "delete-layer-version", "--layer-name", "tools", "--version-number", "1")
	cli.MustFail("ResourceNotFoundException", "lambda", "get-layer-version", "--layer-name", "tools", "--version-number", "1")
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Environment: &types.Environment{Variables: map[string]string{"FRESH": "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	inv := invoke(t, c, name, Event{Action: "exec", Path: "hello-layer"}, withArgs("again")).mustSucceed(t, &ex)
	if !isCold(inv.Log) || strings.TrimSpace(ex.Stdout) != "hello from layer again" {
		t.Errorf("after deleting the layer version: cold %v, exec %+v", isCold(inv.Log), ex)
	}
	_, err := c.CreateFunction(ctxFor(t, invokeTimeout), func() *lambda.CreateFunctionInput {
		in := createInput(t, "other-fn")
		in.Layers = []string{l1.LayerVersionArn}
		return in
	}())
	mustAPIError(t, err, 400, "InvalidParameterValueException")

	// Layer packages obey the same safety rules as function code.
	evil := writeTempFile(t, "evil.zip", mustZip(t, zipEntry{Name: "../../etc/evil", Data: []byte("x")}))
	cli.MustFail("InvalidParameterValueException", "lambda", "publish-layer-version", "--layer-name", "evil", "--zip-file", "fileb://"+evil)
}

// withArgs sets the "args" of an exec event by wrapping the payload.
func withArgs(args ...string) invokeOpt {
	return func(in *lambda.InvokeInput) {
		var ev map[string]any
		_ = json.Unmarshal(in.Payload, &ev)
		ev["args"] = args
		in.Payload, _ = json.Marshal(ev)
	}
}
