package lambdaapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

const (
	ipve = "InvalidParameterValueException"
	vex  = "ValidationException" // model constraints: lengths, ranges, patterns, enums

	// modelErrorPrefix starts every model-constraint message.
	modelErrorPrefix = "1 validation error detected: "
)

// TestCreateFunctionValidation checks every rejection of CreateFunction:
// AWS's code and a clear message, and nothing stored.
func TestCreateFunctionValidation(t *testing.T) {
	big := strings.Repeat("v", 4000)
	for _, tc := range []struct {
		name   string
		change map[string]any // members to set; nil values delete
		status int
		code   string
		msg    string
	}{
		{"missing name", map[string]any{"FunctionName": nil}, 400, vex, "Value null at 'functionName' failed to satisfy constraint: Member must not be null"},
		{"bad name", map[string]any{"FunctionName": "my.fn"}, 400, vex, "at 'functionName' failed to satisfy constraint"},
		{"long name", map[string]any{"FunctionName": strings.Repeat("f", 65)}, 400, vex, "functionName"},
		{"missing role", map[string]any{"Role": nil}, 400, vex, "'role'"},
		{"bad role", map[string]any{"Role": "arn:aws:iam::123:role/x"}, 400, vex, "at 'role' failed to satisfy constraint"},
		{"missing runtime", map[string]any{"Runtime": nil}, 400, ipve, "Runtime and Handler are mandatory parameters"},
		{"unknown runtime", map[string]any{"Runtime": "cobol85"}, 400, vex, "Value 'cobol85' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set"},
		{"deprecated runtime", map[string]any{"Runtime": "go1.x"}, 400, ipve, "The runtime parameter of go1.x is no longer supported"},
		{"runtime not run here", map[string]any{"Runtime": "java21", "Handler": "app.handler"}, 400, ipve, "The runtime parameter of java21 is not supported by this server"},
		{"handler with space", map[string]any{"Handler": "a b"}, 400, vex, "at 'handler'"},
		{"empty handler", map[string]any{"Handler": ""}, 400, vex, "at 'handler'"},
		{"long handler", map[string]any{"Handler": strings.Repeat("h", 129)}, 400, vex, "less than or equal to 128"},
		{"long description", map[string]any{"Description": strings.Repeat("d", 257)}, 400, vex, "at 'description'"},
		{"memory low", map[string]any{"MemorySize": 127}, 400, vex, "Value '127' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{"memory high", map[string]any{"MemorySize": 10241}, 400, vex, "less than or equal to 10240"},
		{"timeout low", map[string]any{"Timeout": 0}, 400, vex, "at 'timeout'"},
		{"timeout high", map[string]any{"Timeout": 901}, 400, vex, "less than or equal to 900"},
		{"ephemeral low", map[string]any{"EphemeralStorage": map[string]any{"Size": 511}}, 400, vex, "ephemeralStorage.size"},
		{"ephemeral high", map[string]any{"EphemeralStorage": map[string]any{"Size": 10241}}, 400, vex, "ephemeralStorage.size"},
		{"ephemeral null", map[string]any{"EphemeralStorage": map[string]any{}}, 400, vex, "must not be null"},
		{"two architectures", map[string]any{"Architectures": []string{"x86_64", "arm64"}}, 400, vex, "'architectures'"},
		{"no architecture", map[string]any{"Architectures": []string{}}, 400, vex, "'architectures'"},
		{"bad architecture", map[string]any{"Architectures": []string{"mips"}}, 400, vex, "enum value set: [x86_64, arm64]"},
		{"foreign architecture", map[string]any{"Architectures": []string{"arm64"}}, 400, ipve, "Architecture arm64 is not supported by this server"},
		{"env bad key", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"1X": "v"}}}, 400, vex, "Map keys must satisfy constraint"},
		{"env one-letter key", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"X": "v"}}}, 400, vex, "Map keys must satisfy constraint"},
		{"env reserved", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"AWS_REGION": "x", "LAMBDA_TASK_ROOT": "y", "OK": "z"}}}, 400, ipve,
			"Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION, LAMBDA_TASK_ROOT"},
		{"env reserved prefix", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "x"}}}, 400, ipve, "Reserved keys used in this request: AWS_LAMBDA_FUNCTION_NAME"},
		{"env too big", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"AA": big, "BB": big[:100]}}}, 400, ipve,
			"Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"AA\":"},
		{"tracing mode", map[string]any{"TracingConfig": map[string]any{"Mode": "On"}}, 400, vex, "tracingConfig.mode"},
		{"package image", map[string]any{"PackageType": "Image"}, 400, ipve, "PackageType Image is not supported"},
		{"package type", map[string]any{"PackageType": "Tar"}, 400, vex, "packageType"},
		{"image uri", map[string]any{"Code": map[string]any{"ImageUri": "123.dkr.ecr/x:1"}}, 400, ipve, "ImageUri is not supported"},
		{"s3 code", map[string]any{"Code": map[string]any{"S3Bucket": "b", "S3Key": "k"}}, 400, ipve, "S3Bucket and S3Key are not supported"},
		{"no code", map[string]any{"Code": nil}, 400, vex, "'code'"},
		{"empty code", map[string]any{"Code": map[string]any{}}, 400, ipve, "Please provide a source for function code."},
		{"not a zip", map[string]any{"Code": map[string]any{"ZipFile": []byte("not a zip")}}, 400, ipve, "Could not unzip uploaded file. Please check your file, then try to upload again."},
		{"no bootstrap", map[string]any{"Code": map[string]any{"ZipFile": makeZip(t, map[string]string{"main": "x"})}}, 400, ipve, "zip does not contain a bootstrap file"},
		{"vpc", map[string]any{"VpcConfig": map[string]any{"SubnetIds": []string{"subnet-1"}}}, 400, ipve, "VpcConfig is not supported"},
		{"kms", map[string]any{"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/x"}, 400, ipve, "KMSKeyArn is not supported"},
		{"efs", map[string]any{"FileSystemConfigs": []any{map[string]any{"Arn": "a", "LocalMountPath": "/mnt/x"}}}, 400, ipve, "FileSystemConfigs is not supported"},
		{"snapstart", map[string]any{"SnapStart": map[string]any{"ApplyOn": "PublishedVersions"}}, 400, ipve, "SnapStart is not supported"},
		{"snapstart enum", map[string]any{"SnapStart": map[string]any{"ApplyOn": "Always"}}, 400, vex, "snapStart.applyOn"},
		{"layers", map[string]any{"Layers": []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}}, 400, ipve, "Layer version arn:aws:lambda:us-east-1:123456789012:layer:l:1 does not exist."},
		{"layer arn", map[string]any{"Layers": []string{"arn:aws:lambda:us-east-1:123456789012:function:l"}}, 400, vex, "at 'layers' failed to satisfy constraint"},
		{"dlq topic", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": "arn:aws:sns:us-east-1:123456789012:t"}}, 400, ipve, "SNS topics as dead-letter targets are not supported by this server yet"},
		{"dlq other", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": "arn:aws:s3:::bucket"}}, 400, ipve, "must be an SQS queue ARN"},
		{"dlq bad queue", map[string]any{"DeadLetterConfig": map[string]any{"TargetArn": "arn:aws:sqs:us-east-1:123456789012:a/b"}}, 400, ipve, "not a valid SQS queue ARN"},
		{"image config", map[string]any{"ImageConfig": map[string]any{"Command": []string{"x"}}}, 400, ipve, "ImageConfig is not supported"},
		{"json logs", map[string]any{"LoggingConfig": map[string]any{"LogFormat": "JSON"}}, 400, ipve, "LogFormat JSON is not supported"},
		{"log group", map[string]any{"LoggingConfig": map[string]any{"LogGroup": "/custom"}}, 400, ipve, "LogGroup /custom is not supported"},
		{"code signing", map[string]any{"CodeSigningConfigArn": "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1"}, 400, ipve, "CodeSigningConfigArn is not supported"},
		{"too many tags", map[string]any{"Tags": manyTags(51)}, 400, ipve, "tag limit of 50"},
		{"aws tag", map[string]any{"Tags": map[string]string{"aws:x": "y"}}, 400, ipve, "reserved for AWS use"},
		{"wrong type", map[string]any{"MemorySize": "big"}, 400, "InvalidRequestContentException", "Could not parse request body into json"},
		{"wrong nested type", map[string]any{"Environment": map[string]any{"Variables": []string{"x"}}}, 400, "InvalidRequestContentException", "Environment.Variables"},
		{"bad base64", map[string]any{"Code": map[string]any{"ZipFile": "%%%"}}, 400, "InvalidRequestContentException", "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := createRequest(t, "fn")
			for k, v := range tc.change {
				if v == nil {
					delete(req, k)
				} else {
					req[k] = v
				}
			}
			w := e.do(t, "POST", "/2015-03-31/functions", req)
			wantError(t, w, tc.status, tc.code, tc.msg)
			assertEmpty(t, e)
		})
	}
}

func TestCreateFunctionMalformedBody(t *testing.T) {
	for name, body := range map[string]string{
		"empty":    "",
		"not json": "FunctionName=x",
		"trailing": `{"FunctionName":"x"} {}`,
		"array":    `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			wantError(t, e.do(t, "POST", "/2015-03-31/functions", body), 400, "InvalidRequestContentException", "Could not parse request body into json")
			assertEmpty(t, e)
		})
	}
}

func TestCreateFunctionTooLarge(t *testing.T) {
	e := newEnv(t)
	r := strings.NewReader("{}")
	req := newRequest("POST", "/2015-03-31/functions", r)
	req.ContentLength = 69905068
	w := serve(e, req)
	wantError(t, w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "Request must be smaller than 69905067 bytes for the CreateFunction operation")

	// A zip over the zipped limit (set low here) is 413 as well.
	e.h = newHandlerWithLimits(e, 100)
	w = e.do(t, "POST", "/2015-03-31/functions", createRequest(t, "fn"))
	wantError(t, w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "")
	assertEmpty(t, e)
}

func TestCreateFunctionConflict(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	keys := e.fns.CodeKeys()
	req := createRequest(t, "fn")
	req["Code"] = map[string]any{"ZipFile": makeZip(t, map[string]string{"bootstrap": "other"})}
	wantError(t, e.do(t, "POST", "/2015-03-31/functions", req), 409, "ResourceConflictException", "Function already exist: fn")
	if got := e.fns.CodeKeys(); len(got) != len(keys) {
		t.Errorf("conflicting create stored code: %v", got)
	}
}

func manyTags(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["k"+strings.Repeat("x", i)] = "v"
	}
	return m
}

func assertEmpty(t *testing.T, e *testEnv) {
	t.Helper()
	fns, _ := e.fns.Functions(context.Background())
	if len(fns) != 0 || len(e.fns.CodeKeys()) != 0 {
		t.Fatalf("a rejected request stored %d functions and %d packages", len(fns), len(e.fns.CodeKeys()))
	}
}
