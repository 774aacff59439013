package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestCLIFunctionLifecycle drives one function through its whole life with
// the real AWS CLI: create, wait, get, list, invoke, update code and
// configuration (with the RevisionId guard), tags, account settings,
// delete.
func TestCLIFunctionLifecycle(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	cli := MustAWSCLI(t, srv.URL)
	t.Logf("AWS CLI: %s", cli.info.version)

	const name = "cli-fn"
	arn := functionARN(name)
	zip1 := mustFixtureZip(t)
	zip2 := mustFixtureZipWith(t, zipEntry{Name: "version.txt", Data: []byte("v2")})
	zip1Path, zip2Path := writeTempFile(t, "v1.zip", zip1), writeTempFile(t, "v2.zip", zip2)
	getConfig := func() functionConfig {
		t.Helper()
		var cfg functionConfig
		cli.MustJSON(&cfg, "lambda", "get-function-configuration", "--function-name", name)
		return cfg
	}

	// Create.
	before := time.Now()
	var created functionConfig
	cli.MustJSON(&created, "lambda", "create-function",
		"--function-name", name,
		"--runtime", "provided.al2023",
		"--handler", "bootstrap",
		"--role", testRole,
		"--zip-file", "fileb://"+zip1Path,
		"--timeout", "10",
		"--memory-size", "128",
		"--environment", `{"Variables":{"GREETING":"hello"}}`)
	want := wantConfig{Name: name, Zip: zip1, MemorySize: 128, Timeout: 10, Env: map[string]string{"GREETING": "hello"}, After: before}
	checkConfig(t, created, want)
	if created.State != "Pending" && created.State != "Active" {
		t.Errorf("create-function State = %q, want Pending or Active", created.State)
	}
	cli.MustRun("lambda", "wait", "function-active-v2", "--function-name", name)

	// Read it back.
	var got struct {
		Configuration functionConfig
		Code          struct{ RepositoryType, Location string }
		Tags          map[string]string
	}
	cli.MustJSON(&got, "lambda", "get-function", "--function-name", name)
	checkConfig(t, got.Configuration, want)
	if got.Configuration.State != "Active" || got.Configuration.LastUpdateStatus != "Successful" {
		t.Errorf("get-function State/LastUpdateStatus = %q/%q, want Active/Successful", got.Configuration.State, got.Configuration.LastUpdateStatus)
	}
	cfg := getConfig()
	checkConfig(t, cfg, want)
	if cfg.State != "Active" || cfg.LastUpdateStatus != "Successful" {
		t.Errorf("get-function-configuration State/LastUpdateStatus = %q/%q, want Active/Successful", cfg.State, cfg.LastUpdateStatus)
	}
	if cfg.RevisionId != got.Configuration.RevisionId {
		t.Errorf("RevisionId differs between get-function (%s) and get-function-configuration (%s) with no change in between", got.Configuration.RevisionId, cfg.RevisionId)
	}
	if names := cliFunctionNames(t, cli); !slices.Equal(names, []string{name}) {
		t.Errorf("list-functions = %v, want [%s]", names, name)
	}

	// Invoke: the echo comes back, and the log tail has the platform lines.
	event := map[string]any{"action": "echo", "data": map[string]any{"n": 1.0, "s": "héllo"}}
	inv := cli.Invoke(name, event)
	if inv.StatusCode != 200 || inv.FunctionError != "" || inv.ExecutedVersion != "$LATEST" {
		t.Errorf("invoke: StatusCode %d, FunctionError %q, ExecutedVersion %q; want 200, none, $LATEST", inv.StatusCode, inv.FunctionError, inv.ExecutedVersion)
	}
	var echoed map[string]any
	if err := json.Unmarshal(inv.Payload, &echoed); err != nil || !jsonEqual(echoed, event) {
		t.Errorf("invoke returned %s (%v), want the event back: %v", inv.Payload, err, event)
	}
	checkPlatformLines(t, inv.Log, "", 128, true)

	// New code takes effect.
	before = time.Now()
	var updated functionConfig
	cli.MustJSON(&updated, "lambda", "update-function-code", "--function-name", name, "--zip-file", "fileb://"+zip2Path)
	want.Zip, want.After = zip2, before
	checkConfig(t, updated, want)
	if updated.RevisionId == cfg.RevisionId {
		t.Errorf("RevisionId unchanged by update-function-code")
	}
	cli.MustRun("lambda", "wait", "function-updated-v2", "--function-name", name)
	var read opResult
	mustDecode(t, cli.Invoke(name, Event{Action: "read", Path: "/var/task/version.txt"}).Payload, &read)
	if !read.OK || read.Content != "v2" {
		t.Errorf("after update-function-code, /var/task/version.txt = %+v, want content v2", read)
	}

	// Configuration: variables are replaced wholesale, memory is applied.
	revs := []string{cfg.RevisionId, updated.RevisionId}
	updateConfig := func(args ...string) functionConfig {
		t.Helper()
		var c functionConfig
		cli.MustJSON(&c, append([]string{"lambda", "update-function-configuration", "--function-name", name}, args...)...)
		if slices.Contains(revs, c.RevisionId) {
			t.Errorf("RevisionId %s after update-function-configuration %v was used before", c.RevisionId, args)
		}
		revs = append(revs, c.RevisionId)
		cli.MustRun("lambda", "wait", "function-updated-v2", "--function-name", name)
		return c
	}
	c := updateConfig("--environment", `{"Variables":{"VAR_X":"1","VAR_Y":"2"}}`, "--memory-size", "256")
	want.MemorySize, want.Env = 256, map[string]string{"VAR_X": "1", "VAR_Y": "2"}
	checkConfig(t, c, want)
	var env envResult
	mustDecode(t, cli.Invoke(name, Event{Action: "env"}).Payload, &env)
	checkVars(t, env.Env, map[string]string{"VAR_X": "1", "VAR_Y": "2", "GREETING": "", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"})

	c = updateConfig("--environment", `{"Variables":{"VAR_Z":"3"}}`)
	want.Env = map[string]string{"VAR_Z": "3"}
	checkConfig(t, c, want)
	checkConfig(t, getConfig(), want)
	var env2 envResult // a fresh value: decoding into env would merge the maps
	mustDecode(t, cli.Invoke(name, Event{Action: "env"}).Payload, &env2)
	checkVars(t, env2.Env, map[string]string{"VAR_Z": "3", "VAR_X": "", "VAR_Y": ""})

	// RevisionId is an optimistic lock.
	stale := revs[len(revs)-2]
	cli.MustFail("PreconditionFailedException", "lambda", "update-function-configuration", "--function-name", name, "--description", "stale", "--revision-id", stale)
	if d := getConfig().Description; d != "" {
		t.Errorf("Description = %q after a rejected update, want it unchanged", d)
	}
	c = updateConfig("--description", "fresh", "--revision-id", revs[len(revs)-1])
	if c.Description != "fresh" {
		t.Errorf("Description = %q, want fresh", c.Description)
	}

	// Tags.
	cli.MustRun("lambda", "tag-resource", "--resource", arn, "--tags", "team=core,env=test")
	if tags := cliTags(t, cli, arn); sortedMap(tags) != sortedMap(map[string]string{"team": "core", "env": "test"}) {
		t.Errorf("list-tags = %v, want team=core, env=test", tags)
	}
	cli.MustRun("lambda", "untag-resource", "--resource", arn, "--tag-keys", "team")
	if tags := cliTags(t, cli, arn); sortedMap(tags) != sortedMap(map[string]string{"env": "test"}) {
		t.Errorf("list-tags after untag = %v, want env=test", tags)
	}
	var tagged struct{ Tags map[string]string }
	cli.MustJSON(&tagged, "lambda", "get-function", "--function-name", name)
	if sortedMap(tagged.Tags) != sortedMap(map[string]string{"env": "test"}) {
		t.Errorf("get-function Tags = %v, want env=test", tagged.Tags)
	}

	// Account settings count this function and report Lambda's limits.
	var settings struct {
		AccountLimit struct {
			TotalCodeSize, CodeSizeUnzipped, CodeSizeZipped int64
			ConcurrentExecutions                            int
		}
		AccountUsage struct {
			TotalCodeSize int64
			FunctionCount int
		}
	}
	cli.MustJSON(&settings, "lambda", "get-account-settings")
	if settings.AccountUsage.FunctionCount != 1 || settings.AccountUsage.TotalCodeSize < int64(len(zip2)) {
		t.Errorf("AccountUsage = %+v, want FunctionCount 1 and TotalCodeSize >= %d", settings.AccountUsage, len(zip2))
	}
	if l := settings.AccountLimit; l.CodeSizeZipped != 52428800 || l.CodeSizeUnzipped != 262144000 || l.ConcurrentExecutions <= 0 {
		t.Errorf("AccountLimit = %+v, want CodeSizeZipped 52428800, CodeSizeUnzipped 262144000, ConcurrentExecutions > 0", l)
	}

	// Delete.
	cli.MustRun("lambda", "delete-function", "--function-name", name)
	cli.MustFail("ResourceNotFoundException", "lambda", "get-function", "--function-name", name)
	cli.MustFail("ResourceNotFoundException", "lambda", "get-function-configuration", "--function-name", name)
	outfile := writeTempFile(t, "out.json", nil)
	invokeArgs := []string{"lambda", "invoke", "--function-name", name, "--payload", `{"action":"echo"}`}
	if cli.info.major >= 2 {
		invokeArgs = append(invokeArgs, "--cli-binary-format", "raw-in-base64-out")
	}
	cli.MustFail("ResourceNotFoundException", append(invokeArgs, outfile)...)
	if names := cliFunctionNames(t, cli); len(names) != 0 {
		t.Errorf("list-functions after delete = %v, want none", names)
	}
}

// TestCLIListFunctionsPaging checks that list-functions pages through
// NextMarker: the CLI follows it with --page-size and hands out its own
// NextToken with --max-items.
func TestCLIListFunctionsPaging(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)
	var want []string
	for _, n := range []string{"page-a", "page-b", "page-c", "page-d", "page-e"} {
		in := createInput(t, n)
		in.Code.ZipFile = tinyZip(t)
		if _, err := c.CreateFunction(ctxFor(t, time.Minute), in); err != nil {
			t.Fatalf("CreateFunction(%s): %v", n, err)
		}
		want = append(want, n)
	}

	// Server-side pages of 2, followed by the CLI.
	var all struct{ Functions []functionConfig }
	cli.MustJSON(&all, "lambda", "list-functions", "--page-size", "2")
	if got := configNames(all.Functions); !slices.Equal(got, want) {
		t.Errorf("list-functions --page-size 2 = %v, want %v (each function exactly once)", got, want)
	}
	for _, f := range all.Functions {
		if f.FunctionArn != functionARN(f.FunctionName) || f.Runtime != "provided.al2023" {
			t.Errorf("list-functions item %s: FunctionArn %q, Runtime %q", f.FunctionName, f.FunctionArn, f.Runtime)
		}
	}

	// Client-side pages: --max-items 2, then --starting-token.
	var first struct {
		Functions []functionConfig
		NextToken string
	}
	cli.MustJSON(&first, "lambda", "list-functions", "--max-items", "2")
	if len(first.Functions) != 2 || first.NextToken == "" {
		t.Fatalf("list-functions --max-items 2: %d functions, NextToken %q; want 2 and a token", len(first.Functions), first.NextToken)
	}
	var rest struct{ Functions []functionConfig }
	cli.MustJSON(&rest, "lambda", "list-functions", "--starting-token", first.NextToken)
	if got := configNames(append(first.Functions, rest.Functions...)); !slices.Equal(got, want) {
		t.Errorf("list-functions in two calls = %v, want %v", got, want)
	}

	// The SDK sees the same NextMarker.
	out, err := c.ListFunctions(ctxFor(t, time.Minute), &lambda.ListFunctionsInput{MaxItems: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Functions) != 3 || aws.ToString(out.NextMarker) == "" {
		t.Errorf("ListFunctions MaxItems 3: %d functions, NextMarker %q; want 3 and a marker", len(out.Functions), aws.ToString(out.NextMarker))
	}
}

func cliFunctionNames(t testing.TB, cli *AWSCLI) []string {
	t.Helper()
	var out struct{ Functions []functionConfig }
	cli.MustJSON(&out, "lambda", "list-functions")
	return configNames(out.Functions)
}

func configNames(fs []functionConfig) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.FunctionName)
	}
	slices.Sort(names)
	return names
}

func cliTags(t testing.TB, cli *AWSCLI, arn string) map[string]string {
	t.Helper()
	var out struct{ Tags map[string]string }
	cli.MustJSON(&out, "lambda", "list-tags", "--resource", arn)
	return out.Tags
}

// checkVars checks variables in env; a want of "" means "not set".
func checkVars(t testing.TB, env map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		v, ok := env[k]
		switch {
		case w == "" && ok:
			t.Errorf("environment has %s=%q, want it unset", k, v)
		case w != "" && v != w:
			t.Errorf("environment %s=%q, want %q", k, v, w)
		}
	}
}

func mustDecode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// jsonEqual compares two values by their JSON encoding.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
