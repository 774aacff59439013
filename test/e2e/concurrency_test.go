package e2e

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// overlappingInvokes sends n invokes of name at once and returns each
// outcome or error.
func overlappingInvokes(t *testing.T, c *lambda.Client, name string, n int, ev Event, opts ...invokeOpt) ([]Invocation, []error) {
	t.Helper()
	invs := make([]Invocation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { invs[i], errs[i] = tryInvoke(t, c, name, ev, opts...) })
	}
	wg.Wait()
	return invs, errs
}

// throttles counts the errors that are 429 TooManyRequestsException with
// reason and a Retry-After header; any other error, or a function error,
// fails the test.
func throttles(t *testing.T, invs []Invocation, errs []error, reason types.ThrottleReason) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		if err == nil {
			invs[i].mustSucceed(t, nil)
			continue
		}
		var tm *types.TooManyRequestsException
		if !errors.As(err, &tm) {
			t.Fatalf("invoke %d: %v, want success or TooManyRequestsException", i, err)
		}
		if httpStatus(err) != 429 {
			t.Errorf("throttle status %d, want 429", httpStatus(err))
		}
		if tm.Reason != reason {
			t.Errorf("throttle Reason %q, want %q", tm.Reason, reason)
		}
		if aws.ToString(tm.RetryAfterSeconds) == "" {
			t.Errorf("throttle without a Retry-After header")
		}
		n++
	}
	return n
}

// TestReservedConcurrency: with reserved concurrency N, N+1 overlapping
// invokes get exactly one 429 ReservedFunctionConcurrentInvocationLimitExceeded;
// 0 throttles every invoke and deleting the reservation restores service.
// The settings show in GetFunctionConcurrency, GetFunction and
// GetAccountSettings, and at least 100 stays unreserved.
func TestReservedConcurrency(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "reserved-fn"
	mustCreateFunction(t, c, name, nil)
	ctx := ctxFor(t, 2*time.Minute)

	const n = 2
	out, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(n)})
	if err != nil || aws.ToInt32(out.ReservedConcurrentExecutions) != n {
		t.Fatalf("PutFunctionConcurrency: %v %+v", err, out)
	}
	got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != n {
		t.Fatalf("GetFunctionConcurrency: %v %+v", err, got)
	}
	fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != n {
		t.Fatalf("GetFunction Concurrency: %v %+v", err, fn.Concurrency)
	}
	acct, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions) != 1000-n {
		t.Fatalf("GetAccountSettings: %v, unreserved %v, want %d", err, aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions), 1000-n)
	}
	_, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(901)})
	mustAPIError(t, err, 400, "InvalidParameterValueException")

	invs, errs := overlappingInvokes(t, c, name, n+1, Event{Action: "sleep", MS: 1500})
	if got := throttles(t, invs, errs, types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded); got != 1 {
		t.Fatalf("%d of %d overlapping invokes throttled with reserved concurrency %d, want exactly 1", got, n+1, n)
	}

	t.Run("zero disables the function", func(t *testing.T) {
		if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
			FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			inv, err := tryInvoke(t, c, name, Event{Action: "echo"})
			if got := throttles(t, []Invocation{inv}, []error{err}, types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded); got != 1 {
				t.Fatal("an invoke ran with reserved concurrency 0")
			}
		}
		if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
		if err != nil || got.ReservedConcurrentExecutions != nil {
			t.Fatalf("GetFunctionConcurrency after delete: %v %+v", err, got)
		}
		invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil)
	})
}

// TestAccountConcurrency: a server with --account-concurrency 2 runs two
// invocations at once; a third overlapping one gets 429
// ConcurrentInvocationLimitExceeded. Below 100, nothing can be reserved.
func TestAccountConcurrency(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--account-concurrency", "2"}})
	c := NewLambdaClient(srv.URL)
	const name = "account-fn"
	mustCreateFunction(t, c, name, nil)
	invs, errs := overlappingInvokes(t, c, name, 3, Event{Action: "sleep", MS: 1500})
	if got := throttles(t, invs, errs, types.ThrottleReasonConcurrentInvocationLimitExceeded); got != 1 {
		t.Fatalf("%d of 3 overlapping invokes throttled with account concurrency 2, want exactly 1", got)
	}
	_, err := c.PutFunctionConcurrency(ctxFor(t, time.Minute), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(1)})
	mustAPIError(t, err, 400, "InvalidParameterValueException")
}

// TestScalingRate: with --scaling-rate 1 a function starts one new
// environment per --scaling-period; a second overlapping cold start gets
// 429 FunctionInvocationRateLimitExceeded (the API has no reason for the
// scaling rate; that is the closest: a per-function rate limit), while
// invokes of the warm environment go on.
func TestScalingRate(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{Args: []string{"--scaling-rate", "1", "--scaling-period", "1h"}})
	c := NewLambdaClient(srv.URL)
	const name = "scaling-fn"
	mustCreateFunction(t, c, name, nil)
	invs, errs := overlappingInvokes(t, c, name, 2, Event{Action: "sleep", MS: 1000})
	if got := throttles(t, invs, errs, types.ThrottleReasonFunctionInvocationRateLimitExceeded); got != 1 {
		t.Fatalf("%d of 2 overlapping cold starts throttled with a scaling rate of 1, want exactly 1", got)
	}
	for range 3 {
		invoke(t, c, name, Event{Action: "echo"}).mustSucceed(t, nil)
	}
}
