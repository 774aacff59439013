package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestProvisionedConcurrency: provisioned concurrency on an alias starts
// its environments in the background (IN_PROGRESS, then READY with true
// Allocated/Available counts); they exist and are initialised before the
// first invoke, whose REPORT has no Init Duration; they run with
// AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency; load beyond them
// spills over to on-demand environments; $LATEST cannot be provisioned;
// `stratus status` shows the readiness.
func TestProvisionedConcurrency(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "provisioned-fn"
	mustCreateFunction(t, c, name, nil)
	ctx := ctxFor(t, 2*time.Minute)
	v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"),
		FunctionVersion: v.Version}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}

	_, err = c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name),
		Qualifier: aws.String("$LATEST"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	mustAPIError(t, err, 400, "InvalidParameterValueException")
	_, err = c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String(name),
		Qualifier: aws.String("live")})
	mustAPIError(t, err, 404, "ProvisionedConcurrencyConfigNotFoundException")

	put, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String(name),
		Qualifier: aws.String("live"), ProvisionedConcurrentExecutions: aws.Int32(2)})
	if err != nil {
		t.Fatalf("PutProvisionedConcurrencyConfig: %v", err)
	}
	if aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 2 || put.Status == "" {
		t.Errorf("PutProvisionedConcurrencyConfig answered %+v", put)
	}
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		got, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String("live")})
		if err != nil {
			return err
		}
		if got.Status != types.ProvisionedConcurrencyStatusEnumReady {
			return fmt.Errorf("status %s, allocated %d", got.Status, aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions))
		}
		if aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions) != 2 || aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) != 2 {
			t.Fatalf("READY with allocated %d, available %d; want 2 and 2",
				aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), aws.ToInt32(got.AvailableProvisionedConcurrentExecutions))
		}
		return nil
	})
	// The environments exist and are initialised before any invoke.
	d := serverStatus(t, srv)
	if n := d.envsOf(name, "idle", "frozen"); n != 2 || d.envsOf(name) != 2 {
		t.Fatalf("before the first invoke: %v; want 2 initialised environments", d)
	}
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 ||
		aws.ToString(list.ProvisionedConcurrencyConfigs[0].FunctionArn) != functionARN(name)+":live" {
		t.Fatalf("ListProvisionedConcurrencyConfigs: %v %+v", err, list)
	}
	out, _, err := runStratus(t, time.Minute, "status", "--endpoint", srv.URL)
	if err != nil || !strings.Contains(out, "live: READY 2/2") {
		t.Errorf("stratus status: %v\n%s", err, out)
	}

	var env envResult
	inv := invoke(t, c, name, Event{Action: "env"}, withQualifier("live")).mustSucceed(t, &env)
	rep := checkLoosePlatform(t, inv.Log)
	if rep.Cold || rep.StartType != "provisioned" {
		t.Errorf("first invoke through the alias: REPORT %+v, want no Init Duration and Start Type provisioned:\n%s", rep, inv.Log)
	}
	if got := env.Env["AWS_LAMBDA_INITIALIZATION_TYPE"]; got != "provisioned-concurrency" {
		t.Errorf("AWS_LAMBDA_INITIALIZATION_TYPE = %q, want provisioned-concurrency", got)
	}

	// Three overlapping invokes: two provisioned, one spills over.
	invs, errs := overlappingInvokes(t, c, name, 3, Event{Action: "sleep", MS: 1000}, withQualifier("live"))
	kinds := map[string]int{}
	for i := range invs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		invs[i].mustSucceed(t, nil)
		kinds[checkLoosePlatform(t, invs[i].Log).StartType]++
	}
	if kinds["provisioned"] != 2 || kinds["cold"] != 1 {
		t.Errorf("3 overlapping invokes with provisioned concurrency 2 started %v; want 2 provisioned, 1 cold", kinds)
	}
	if got := metricValue(scrape(t, srv), "stratus_starts_total", "function", name, "kind", "provisioned"); got != 3 {
		t.Errorf("stratus_starts_total{kind=provisioned} = %v, want 3", got)
	}

	if _, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if n := serverStatus(t, srv).envsOf(name); n != 1 { // the on-demand one
			return fmt.Errorf("%d environments after deleting the provisioned concurrency, want 1", n)
		}
		return nil
	})
}

// checkLoosePlatform parses the REPORT line of an invocation whose START
// names a version other than $LATEST.
func checkLoosePlatform(t *testing.T, log string) report {
	t.Helper()
	m := reportRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no REPORT line in\n%s", log)
	}
	return report{RequestID: m[1], Cold: m[6] != "", StartType: m[7]}
}
