package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Error codes for bad input. AWS answers constraint violations of its API
// model (name pattern, minimum memory or timeout, enums) with
// ValidationException and semantic ones with InvalidParameterValueException;
// for a deployment package it cannot unzip it says
// InvalidParameterValueException ("Could not unzip uploaded file").
var (
	codesParam      = []string{"InvalidParameterValueException"}
	codesConstraint = []string{"ValidationException"}
	codesZip        = []string{"InvalidParameterValueException"}
)

// TestSDKRejectsBadInput sends CreateFunction, UpdateFunctionConfiguration
// and UpdateFunctionCode requests that must be refused with AWS's error,
// and checks that none of them stored or changed anything.
func TestSDKRejectsBadInput(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const good = "good-fn"
	mustCreateFunction(t, c, good, nil)
	baseline := listFunctionNames(t, c)

	boot := zipEntry{Name: "bootstrap", Mode: 0o755, Data: []byte("#!/bin/sh\n")}
	zipOf := func(entries ...zipEntry) func(*lambda.CreateFunctionInput) {
		z := mustZip(t, entries...)
		return func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = z }
	}
	env := func(vars map[string]string) func(*lambda.CreateFunctionInput) {
		return func(in *lambda.CreateFunctionInput) { in.Environment = &types.Environment{Variables: vars} }
	}
	random := make([]byte, 51<<20)
	_, _ = rand.Read(random)

	cases := []struct {
		desc  string
		name  string // "" = "bad-fn"
		edit  func(*lambda.CreateFunctionInput)
		codes []string
	}{
		{desc: "memory 64", edit: func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64) }, codes: codesConstraint},
		{desc: "memory 10241", edit: func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(10241) }, codes: codesConstraint},
		{desc: "timeout 0", edit: func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(0) }, codes: codesConstraint},
		{desc: "timeout 901", edit: func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }, codes: codesConstraint},
		{desc: "ephemeral storage 100", edit: func(in *lambda.CreateFunctionInput) {
			in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(100)}
		}, codes: codesConstraint},
		{desc: "runtime python2.7", edit: func(in *lambda.CreateFunctionInput) { in.Runtime = types.RuntimePython27 }, codes: codesParam},
		{desc: "runtime java21", edit: func(in *lambda.CreateFunctionInput) { in.Runtime = types.Runtime("java21") }, codes: codesParam},
		{desc: "runtime unknown", edit: func(in *lambda.CreateFunctionInput) { in.Runtime = types.Runtime("cobol85") }, codes: codesConstraint},
		{desc: "arm64 on x86_64", edit: func(in *lambda.CreateFunctionInput) {
			in.Architectures = []types.Architecture{types.ArchitectureArm64}
		}, codes: codesParam},
		{desc: "role not an ARN", edit: func(in *lambda.CreateFunctionInput) { in.Role = aws.String("lambda-role") }, codes: codesConstraint},
		{desc: "environment over 4 KB", edit: env(map[string]string{"BIG": strings.Repeat("x", 4100)}), codes: codesParam},
		{desc: "reserved key AWS_REGION", edit: env(map[string]string{"AWS_REGION": "eu-west-1"}), codes: codesParam},
		{desc: "reserved key AWS_LAMBDA_RUNTIME_API", edit: env(map[string]string{"AWS_LAMBDA_RUNTIME_API": "10.0.0.1:80"}), codes: codesParam},
		{desc: "invalid key", edit: env(map[string]string{"1ABC": "x"}), codes: codesConstraint},
		{desc: "not a zip", edit: func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("this is not a zip file") }, codes: codesZip},
		{desc: "truncated zip", edit: func(in *lambda.CreateFunctionInput) {
			z := mustFixtureZip(t)
			in.Code.ZipFile = z[:len(z)/2]
		}, codes: codesZip},
		{desc: "entry ../", edit: zipOf(boot, zipEntry{Name: "../escape.txt", Data: []byte("x")}), codes: codesZip},
		{desc: "entry a/../../", edit: zipOf(boot, zipEntry{Name: "a/../../escape.txt", Data: []byte("x")}), codes: codesZip},
		{desc: "absolute entry", edit: zipOf(boot, zipEntry{Name: "/etc/escape.txt", Data: []byte("x")}), codes: codesZip},
		{desc: "symlink to absolute path", edit: zipOf(boot, zipEntry{Name: "etc", Mode: fs.ModeSymlink | 0o777, Data: []byte("/etc")}), codes: codesZip},
		{desc: "symlink escaping upwards", edit: zipOf(boot, zipEntry{Name: "up", Mode: fs.ModeSymlink | 0o777, Data: []byte("../../../etc/passwd")}), codes: codesZip},
		{desc: "no bootstrap", edit: zipOf(zipEntry{Name: "main", Mode: 0o755, Data: []byte("#!/bin/sh\n")}), codes: codesParam},
		{desc: "bootstrap in a subdirectory", edit: zipOf(zipEntry{Name: "bin/bootstrap", Mode: 0o755, Data: []byte("#!/bin/sh\n")}), codes: codesParam},
		{desc: "zip over 50 MB", edit: zipOf(boot, zipEntry{Name: "random.bin", Data: random, Store: true}),
			codes: []string{"RequestEntityTooLargeException"}},
		{desc: "unzips to over 250 MB", edit: zipOf(boot, zipEntry{Name: "zeros.bin", Data: make([]byte, 260<<20)}), codes: codesZip},
		{desc: "name with spaces", name: "bad name!", codes: codesConstraint},
		{desc: "name too long", name: strings.Repeat("n", 65), codes: codesConstraint},
		{desc: "name is an ARN of another region", name: "arn:aws:lambda:eu-west-1:000000000000:function:bad-fn", codes: codesConstraint},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			name := tc.name
			if name == "" {
				name = "bad-fn"
			}
			in := createInput(t, name)
			if tc.edit != nil {
				tc.edit(in)
			}
			_, err := c.CreateFunction(ctxFor(t, 2*time.Minute), in)
			mustAPIError(t, err, 0, tc.codes...)
			if st := httpStatus(err); st < 400 || st >= 500 {
				t.Errorf("HTTP status %d for bad input, want 4xx", st)
			}
			_, err = c.GetFunction(ctxFor(t, time.Minute), &lambda.GetFunctionInput{FunctionName: aws.String("bad-fn")})
			mustAPIError(t, err, 404, "ResourceNotFoundException")
		})
	}

	t.Run("malformed JSON body", func(t *testing.T) {
		resp, body := signedRequest(t, srv.URL, http.MethodPost, "/2015-03-31/functions", []byte(`{"FunctionName": "bad-fn", "Runtime": `))
		code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
		if resp.StatusCode != 400 || !slices.Contains([]string{"InvalidRequestContentException", "InvalidParameterValueException", "SerializationException"}, code) {
			t.Errorf("status %d, X-Amzn-ErrorType %q; want 400 and InvalidRequestContentException", resp.StatusCode, code)
		}
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil || (msg["message"] == nil && msg["Message"] == nil) {
			t.Errorf("error body %q is not AWS's JSON error (message/Message)", body)
		}
	})

	// Updates with bad values change nothing.
	cfg, err := c.GetFunctionConfiguration(ctxFor(t, time.Minute), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(good)})
	if err != nil {
		t.Fatal(err)
	}
	badUpdates := []struct {
		desc  string
		in    lambda.UpdateFunctionConfigurationInput
		codes []string
	}{
		{"memory 64", lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(64)}, codesConstraint},
		{"timeout 901", lambda.UpdateFunctionConfigurationInput{Timeout: aws.Int32(901)}, codesConstraint},
		{"reserved key", lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}}, codesParam},
		{"runtime python2.7", lambda.UpdateFunctionConfigurationInput{Runtime: types.RuntimePython27}, codesParam},
	}
	for _, u := range badUpdates {
		t.Run("update "+u.desc, func(t *testing.T) {
			in := u.in
			in.FunctionName = aws.String(good)
			_, err := c.UpdateFunctionConfiguration(ctxFor(t, time.Minute), &in)
			mustAPIError(t, err, 0, u.codes...)
		})
	}
	t.Run("update code not a zip", func(t *testing.T) {
		_, err := c.UpdateFunctionCode(ctxFor(t, time.Minute), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(good), ZipFile: []byte("nope")})
		mustAPIError(t, err, 0, codesZip...)
	})
	after, err := c.GetFunctionConfiguration(ctxFor(t, time.Minute), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(good)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.RevisionId) != aws.ToString(cfg.RevisionId) || aws.ToString(after.CodeSha256) != aws.ToString(cfg.CodeSha256) ||
		aws.ToInt32(after.MemorySize) != 128 || aws.ToInt32(after.Timeout) != 10 || after.Environment != nil && len(after.Environment.Variables) != 0 {
		t.Errorf("rejected updates changed %s: RevisionId %s→%s, CodeSha256 %s→%s, MemorySize %d, Timeout %d",
			good, aws.ToString(cfg.RevisionId), aws.ToString(after.RevisionId), aws.ToString(cfg.CodeSha256), aws.ToString(after.CodeSha256),
			aws.ToInt32(after.MemorySize), aws.ToInt32(after.Timeout))
	}

	if got := listFunctionNames(t, c); !slices.Equal(got, baseline) {
		t.Errorf("ListFunctions after rejected creates = %v, want %v", got, baseline)
	}
	invoke(t, c, good, Event{Action: "echo"}).mustSucceed(t, nil)
}

// signedRequest sends a raw request signed with SigV4 (service lambda), so
// that tests can send bodies the SDK would never produce.
func signedRequest(t testing.TB, endpoint, method, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, time.Minute), method, endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), "lambda", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
