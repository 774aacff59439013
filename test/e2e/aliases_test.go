package e2e

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// mustVersionedFunction creates name with versions 1 and 2, whose
// environments say VER=1 and VER=2, so that a run tells which ran.
func mustVersionedFunction(t *testing.T, c *lambda.Client, name string) {
	t.Helper()
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"VER": "1"}}
		in.Publish = true
	})
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name), Environment: &types.Environment{Variables: map[string]string{"VER": "2"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, name)
	if out, err := c.PublishVersion(ctxFor(t, invokeTimeout), &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil || aws.ToString(out.Version) != "2" {
		t.Fatalf("PublishVersion = %v, %v", out, err)
	}
}

// aliasConfig is an AliasConfiguration as the CLI prints it.
type aliasConfig struct {
	AliasArn        string
	Name            string
	FunctionVersion string
	Description     string
	RevisionId      string
	RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
}

// TestAliasWeightedRouting sends 1000 invocations through an alias that
// gives version 2 a weight of 0.3 and checks the split, that
// X-Amz-Executed-Version names the version that really ran, and that the
// function sees the alias in its invoked ARN.
func TestAliasWeightedRouting(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "alias-fn"
	mustVersionedFunction(t, c, name)

	var a aliasConfig
	cli.MustJSON(&a, "lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "1",
		"--description", "canary", "--routing-config", `{"AdditionalVersionWeights":{"2":0.3}}`)
	if a.AliasArn != functionARN(name)+":live" || a.FunctionVersion != "1" || a.RoutingConfig.AdditionalVersionWeights["2"] != 0.3 {
		t.Fatalf("create-alias = %+v", a)
	}
	var got aliasConfig
	cli.MustJSON(&got, "lambda", "get-alias", "--function-name", name, "--name", "live")
	if got.RevisionId != a.RevisionId || got.Description != "canary" {
		t.Fatalf("get-alias = %+v", got)
	}

	// 1000 invokes, 4 at a time. The share of version 2 is binomial:
	// sd = sqrt(0.3*0.7/1000) ≈ 0.0145, so 0.3±0.06 is ≈4.1σ — a false
	// failure about once in 25,000 runs.
	const n, workers = 1000, 4
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				var env envResult
				inv, err := tryInvoke(t, c, name+":live", Event{Action: "env"})
				if err != nil {
					t.Errorf("invoke %d: %v", i, err)
					return
				}
				if inv.StatusCode != 200 || inv.FunctionError != "" {
					t.Errorf("invoke %d: status %d, error %q: %s", i, inv.StatusCode, inv.FunctionError, inv.Payload)
					return
				}
				if err := json.Unmarshal(inv.Payload, &env); err != nil {
					t.Errorf("invoke %d: decoding %s: %v", i, inv.Payload, err)
					return
				}
				ran := env.Env["VER"]
				if inv.ExecutedVersion != ran || env.Env["AWS_LAMBDA_FUNCTION_VERSION"] != ran {
					t.Errorf("invoke %d: X-Amz-Executed-Version %q, but version %q ran (AWS_LAMBDA_FUNCTION_VERSION %q)",
						i, inv.ExecutedVersion, ran, env.Env["AWS_LAMBDA_FUNCTION_VERSION"])
				}
				if env.InvokedFunctionArn != functionARN(name)+":live" {
					t.Errorf("invoke %d: invoked ARN %q, want it to end with :live", i, env.InvokedFunctionArn)
				}
				mu.Lock()
				counts[ran]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	share := float64(counts["2"]) / n
	t.Logf("versions run through the alias: %v (share of version 2: %.3f)", counts, share)
	if counts["1"]+counts["2"] != n || math.Abs(share-0.3) > 0.06 {
		t.Fatalf("version 2 ran %d of %d invocations (%.3f), want 0.30±0.06", counts["2"], n, share)
	}

	// The CLI sees the same: the alias in the ARN, a version in the header.
	inv := cli.Invoke(name, Event{Action: "env"}, "--qualifier", "live")
	if inv.ExecutedVersion != "1" && inv.ExecutedVersion != "2" || !strings.Contains(string(inv.Payload), `"invokedFunctionArn":"`+functionARN(name)+`:live"`) {
		t.Errorf("CLI invoke via alias: executed %q, payload %.300s", inv.ExecutedVersion, inv.Payload)
	}

	// Move the alias to version 2 without routing: every invoke runs 2.
	cli.MustFail("PreconditionFailedException", "lambda", "update-alias", "--function-name", name, "--name", "live",
		"--function-version", "2", "--revision-id", "stale")
	var moved aliasConfig
	cli.MustJSON(&moved, "lambda", "update-alias", "--function-name", name, "--name", "live", "--function-version", "2",
		"--routing-config", `{"AdditionalVersionWeights":{}}`, "--revision-id", a.RevisionId)
	if moved.FunctionVersion != "2" || len(moved.RoutingConfig.AdditionalVersionWeights) != 0 || moved.RevisionId == a.RevisionId {
		t.Fatalf("update-alias = %+v", moved)
	}
	for range 20 {
		if inv := invoke(t, c, name, Event{Action: "echo"}, withQualifier("live")).mustSucceed(t, nil); inv.ExecutedVersion != "2" {
			t.Fatalf("after update-alias: executed %q, want 2", inv.ExecutedVersion)
		}
	}
	// An alias of $LATEST follows $LATEST.
	cli.MustRun("lambda", "create-alias", "--function-name", name, "--name", "dev", "--function-version", "$LATEST")
	if inv := invoke(t, c, functionARN(name)+":dev", Event{Action: "echo"}).mustSucceed(t, nil); inv.ExecutedVersion != "$LATEST" {
		t.Errorf("alias of $LATEST executed %q", inv.ExecutedVersion)
	}
}

// TestAliasLifecycle covers the alias operations' errors and listing.
func TestAliasLifecycle(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	const name = "alias-life"
	mustVersionedFunction(t, c, name)

	cli.MustRun("lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "1")
	cli.MustFail("ResourceConflictException", "lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "2")
	cli.MustFail("ResourceNotFoundException", "lambda", "create-alias", "--function-name", name, "--name", "x", "--function-version", "9")
	cli.MustFail("ValidationException", "lambda", "create-alias", "--function-name", name, "--name", "42", "--function-version", "1")
	cli.MustFail("InvalidParameterValueException", "lambda", "create-alias", "--function-name", name, "--name", "x",
		"--function-version", "1", "--routing-config", `{"AdditionalVersionWeights":{"1":0.5}}`)
	cli.MustFail("InvalidParameterValueException", "lambda", "create-alias", "--function-name", name, "--name", "x",
		"--function-version", "$LATEST", "--routing-config", `{"AdditionalVersionWeights":{"1":0.5}}`)

	// A version an alias uses cannot be deleted.
	cli.MustFail("ResourceConflictException", "lambda", "delete-function", "--function-name", name, "--qualifier", "1")

	_, err := c.CreateAlias(ctxFor(t, invokeTimeout), &lambda.CreateAliasInput{
		FunctionName: aws.String(name), Name: aws.String("beta"), FunctionVersion: aws.String("2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Aliases []aliasConfig }
	cli.MustJSON(&list, "lambda", "list-aliases", "--function-name", name)
	if len(list.Aliases) != 2 || list.Aliases[0].Name != "beta" || list.Aliases[1].Name != "live" {
		t.Fatalf("list-aliases = %+v", list.Aliases)
	}
	cli.MustJSON(&list, "lambda", "list-aliases", "--function-name", name, "--function-version", "1")
	if len(list.Aliases) != 1 || list.Aliases[0].Name != "live" {
		t.Fatalf("list-aliases --function-version 1 = %+v", list.Aliases)
	}
	// The configuration reached through an alias names the alias.
	cfg := sdkConfig(t, mustGetConfig(t, c, name, "beta"))
	if cfg.FunctionArn != functionARN(name)+":beta" || cfg.Version != "2" {
		t.Errorf("get-function-configuration through beta: arn %q version %q", cfg.FunctionArn, cfg.Version)
	}

	cli.MustRun("lambda", "delete-alias", "--function-name", name, "--name", "live")
	cli.MustFail("ResourceNotFoundException", "lambda", "get-alias", "--function-name", name, "--name", "live")
	_, err = tryInvoke(t, c, name+":live", Event{Action: "echo"})
	mustAPIError(t, err, 404, "ResourceNotFoundException")
	cli.MustRun("lambda", "delete-function", "--function-name", name, "--qualifier", "1")
}
