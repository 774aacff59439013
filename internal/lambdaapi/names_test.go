package lambdaapi_test

import (
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

func TestFunctionARN(t *testing.T) {
	if got := lambdaapi.FunctionARN("us-east-1", "000000000000", "f", ""); got != "arn:aws:lambda:us-east-1:000000000000:function:f" {
		t.Error(got)
	}
	if got := lambdaapi.FunctionARN("eu-west-1", "123456789012", "f", "$LATEST"); got != "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST" {
		t.Error(got)
	}
}

func TestParseFunctionName(t *testing.T) {
	h := newEnv(t).h
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		in, query  string
		name, qual string
		code       string // error code, "" for success
		msg        string
	}{
		{in: "my-fn", name: "my-fn"},
		{in: "My_Fn-1", name: "My_Fn-1"},
		{in: long, name: long},
		{in: "my-fn:live", name: "my-fn", qual: "live"},
		{in: "my-fn%3Alive", name: "my-fn", qual: "live"},
		{in: "my-fn:$LATEST", name: "my-fn", qual: "$LATEST"},
		{in: "my-fn%3A%24LATEST", name: "my-fn", qual: "$LATEST"},
		{in: "my-fn:7", name: "my-fn", qual: "7"},
		{in: testARN + "my-fn", name: "my-fn"},
		{in: "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn", name: "my-fn"},
		{in: testARN + "my-fn:prod", name: "my-fn", qual: "prod"},
		{in: "123456789012:function:my-fn", name: "my-fn"},
		{in: "123456789012:function:my-fn:3", name: "my-fn", qual: "3"},
		// ?Qualifier= alone, and agreeing with the name's.
		{in: "my-fn", query: "prod", name: "my-fn", qual: "prod"},
		{in: "my-fn:prod", query: "prod", name: "my-fn", qual: "prod"},
		{in: testARN + "my-fn:1", query: "1", name: "my-fn", qual: "1"},
		// A conflicting qualifier is InvalidParameterValueException.
		{in: "my-fn:prod", query: "dev", code: stratus.EINVALID, msg: "The derived qualifier from the function name does not match the specified qualifier."},
		{in: "my-fn", query: "bad qual", code: stratus.EVALIDATION, msg: "'qualifier'"},
		// Other regions, accounts and partitions are not found.
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:my-fn", code: stratus.ENOTFOUND, msg: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"},
		{in: "arn:aws:lambda:us-east-1:999999999999:function:my-fn", code: stratus.ENOTFOUND, msg: "Function not found: arn:aws:lambda:us-east-1:999999999999:function:my-fn"},
		{in: "999999999999:function:my-fn:1", code: stratus.ENOTFOUND, msg: "Function not found: arn:aws:lambda:us-east-1:999999999999:function:my-fn:1"},
		{in: "arn:aws-cn:lambda:us-east-1:123456789012:function:my-fn", code: stratus.ENOTFOUND, msg: "Function not found"},
		// Malformed.
		{in: "", code: stratus.EVALIDATION, msg: "'functionName'"},
		{in: long + "a", code: stratus.EVALIDATION, msg: "'functionName'"},
		{in: strings.Repeat("a", 257), code: stratus.EVALIDATION, msg: "length"},
		{in: "my fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my.fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my-fn:", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: ":q", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "a:b:c", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my-fn:a:b:c:d:e:f:g:h:i", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my-fn%2Fx", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my-fn%zz", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "12345:function:my-fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "arn:aws:s3:us-east-1:123456789012:function:my-fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:my-fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "arn:aws:lambda:useast1:123456789012:function:my-fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:my-fn:bad.q", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "arn:gcp:lambda:us-east-1:123456789012:function:my-fn", code: stratus.EVALIDATION, msg: "regular expression"},
		{in: "my-fn:" + strings.Repeat("q", 129), code: stratus.EVALIDATION, msg: "regular expression"},
	} {
		t.Run(tc.in+"?"+tc.query, func(t *testing.T) {
			name, qual, err := h.ParseFunctionParam(tc.in, tc.query)
			if tc.code != "" {
				if stratus.ErrorCode(err) != tc.code || !strings.Contains(stratus.ErrorMessage(err), tc.msg) {
					t.Fatalf("err = %v, want code %s with %q", err, tc.code, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if name != tc.name || qual != tc.qual {
				t.Fatalf("got %q %q, want %q %q", name, qual, tc.name, tc.qual)
			}
		})
	}
}
