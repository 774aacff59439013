package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

const (
	region    = "us-east-1"
	accountID = "000000000000"
	testRole  = "arn:aws:iam::000000000000:role/lambda-role"

	invokeTimeout = 2 * time.Minute
)

// functionARN is the unqualified ARN of the function name.
func functionARN(name string) string {
	return "arn:aws:lambda:" + region + ":" + accountID + ":function:" + name
}

// NewLambdaClient returns an aws-sdk-go-v2 Lambda client for endpoint with
// static test credentials. It does not retry, so that every failure the
// server returns is seen.
func NewLambdaClient(endpoint string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           region,
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
}

// ctxFor returns a context for one call, cancelled with the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// createInput is the CreateFunction input every test starts from: the test
// function on provided.al2023 with 128 MB and a 10 s timeout.
func createInput(t testing.TB, name string) *lambda.CreateFunctionInput {
	t.Helper()
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String(testRole),
		Code:         &types.FunctionCode{ZipFile: mustFixtureZip(t)},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(10),
	}
}

// mustCreateFunction creates the test function name, lets edit change the
// input first, and waits until it is Active.
func mustCreateFunction(t testing.TB, c *lambda.Client, name string, edit func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := createInput(t, name)
	if edit != nil {
		edit(in)
	}
	out, err := c.CreateFunction(ctxFor(t, time.Minute), in)
	if err != nil {
		t.Fatalf("CreateFunction(%s): %v", name, err)
	}
	waitActive(t, c, name)
	return out
}

func waitActive(t testing.TB, c *lambda.Client, name string) {
	t.Helper()
	w := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("waiting for %s to be Active: %v", name, err)
	}
}

func waitUpdated(t testing.TB, c *lambda.Client, name string) {
	t.Helper()
	w := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("waiting for %s's update to finish: %v", name, err)
	}
}

// Invocation is the outcome of one synchronous invoke.
type Invocation struct {
	StatusCode      int32
	Payload         []byte
	FunctionError   string
	ExecutedVersion string
	Log             string // X-Amz-Log-Result, decoded
	RequestID       string // x-amzn-RequestId
	Wall            time.Duration
}

// invokeOpt changes an InvokeInput.
type invokeOpt func(*lambda.InvokeInput)

func withQualifier(q string) invokeOpt {
	return func(in *lambda.InvokeInput) { in.Qualifier = aws.String(q) }
}

// tryInvoke invokes name synchronously with the JSON of event and
// --log-type Tail, and returns the outcome or the service error.
func tryInvoke(t testing.TB, c *lambda.Client, name string, event any, opts ...invokeOpt) (Invocation, error) {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	in := &lambda.InvokeInput{
		FunctionName: aws.String(name),
		Payload:      payload,
		LogType:      types.LogTypeTail,
	}
	for _, o := range opts {
		o(in)
	}
	start := time.Now()
	out, err := c.Invoke(ctxFor(t, invokeTimeout), in)
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{
		StatusCode:      out.StatusCode,
		Payload:         out.Payload,
		FunctionError:   aws.ToString(out.FunctionError),
		ExecutedVersion: aws.ToString(out.ExecutedVersion),
		Log:             decodeLogResult(t, aws.ToString(out.LogResult)),
		Wall:            time.Since(start),
	}
	inv.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return inv, nil
}

// invoke is tryInvoke that fails the test on a service error.
func invoke(t testing.TB, c *lambda.Client, name string, event any, opts ...invokeOpt) Invocation {
	t.Helper()
	inv, err := tryInvoke(t, c, name, event, opts...)
	if err != nil {
		t.Fatalf("Invoke(%s, %+v): %v", name, event, err)
	}
	return inv
}

// mustSucceed fails the test unless inv is a 200 without a function error,
// and decodes the payload into v (if v is not nil).
func (inv Invocation) mustSucceed(t testing.TB, v any) Invocation {
	t.Helper()
	if inv.StatusCode != 200 || inv.FunctionError != "" {
		t.Fatalf("invoke: status %d, FunctionError %q, payload %s\nlog:\n%s", inv.StatusCode, inv.FunctionError, inv.Payload, inv.Log)
	}
	if v != nil {
		if err := json.Unmarshal(inv.Payload, v); err != nil {
			t.Fatalf("decoding invoke payload %s: %v", inv.Payload, err)
		}
	}
	return inv
}

// mustFunctionError fails the test unless inv is a 200 with
// X-Amz-Function-Error: Unhandled, and returns the decoded error body.
func (inv Invocation) mustFunctionError(t testing.TB) functionError {
	t.Helper()
	if inv.StatusCode != 200 {
		t.Errorf("invoke status = %d, want 200 (function errors do not change the status)", inv.StatusCode)
	}
	if inv.FunctionError != "Unhandled" {
		t.Fatalf("X-Amz-Function-Error = %q, want Unhandled; payload %s\nlog:\n%s", inv.FunctionError, inv.Payload, inv.Log)
	}
	var fe functionError
	if err := json.Unmarshal(inv.Payload, &fe); err != nil {
		t.Fatalf("decoding function error body %s: %v", inv.Payload, err)
	}
	return fe
}

// mustEnv invokes the "env" action and returns its result.
func mustEnv(t testing.TB, c *lambda.Client, name string) (envResult, Invocation) {
	t.Helper()
	var res envResult
	inv := invoke(t, c, name, Event{Action: "env"}).mustSucceed(t, &res)
	return res, inv
}

// apiErrorCode is the AWS error code of a service error ("" if err is not
// one).
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the HTTP status of a failed call (0 if unknown).
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// mustAPIError fails the test unless err is a service error with one of
// codes (and, if status is not 0, that HTTP status).
func mustAPIError(t testing.TB, err error, status int, codes ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %v", codes)
	}
	if code := apiErrorCode(err); !slices.Contains(codes, code) {
		t.Fatalf("error code %q, want one of %v: %v", code, codes, err)
	}
	if got := httpStatus(err); status != 0 && got != status {
		t.Errorf("HTTP status %d, want %d: %v", got, status, err)
	}
}

// listFunctionNames lists every function with the SDK's paginator.
func listFunctionNames(t testing.TB, c *lambda.Client) []string {
	t.Helper()
	var names []string
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxFor(t, time.Minute))
		if err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	slices.Sort(names)
	return names
}
