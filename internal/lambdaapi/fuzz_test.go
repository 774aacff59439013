package lambdaapi_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// checkCode fails on errors that are not AWS client errors: decoders must
// never produce a 5xx. Model-constraint messages ("1 validation error
// detected") must carry EVALIDATION (ValidationException), and EVALIDATION
// nothing else.
func checkCode(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	c := stratus.ErrorCode(err)
	switch c {
	case stratus.EVALIDATION, stratus.EINVALID, stratus.EBADREQUEST, stratus.EUNSUPPORTED, stratus.ENOTFOUND, stratus.ETOOLARGE:
	default:
		t.Fatalf("code %q: %v", c, err)
	}
	if model := strings.HasPrefix(stratus.ErrorMessage(err), modelErrorPrefix); model != (c == stratus.EVALIDATION) {
		t.Fatalf("code %q with message %q: model-constraint messages, and only they, are EVALIDATION", c, stratus.ErrorMessage(err))
	}
}

func FuzzParseFunctionName(f *testing.F) {
	h := newEnv(f).h
	f.Fuzz(func(t *testing.T, in, qualifier string) {
		name, q, err := h.ParseFunctionParam(in, qualifier)
		checkCode(t, err)
		if err != nil {
			return
		}
		if len(name) == 0 || len(name) > 64 || strings.ContainsAny(name, ":/%") {
			t.Fatalf("parsed name %q from %q", name, in)
		}
		// What parsed round-trips through the full ARN.
		arn := lambdaapi.FunctionARN(testRegion, testAccount, name, q)
		name2, q2, err := h.ParseFunctionParam(arn, "")
		if err != nil || name2 != name || q2 != q {
			t.Fatalf("%q -> %q %q -> %s -> %q %q %v", in, name, q, arn, name2, q2, err)
		}
	})
}

func FuzzDecodeCreateFunction(f *testing.F) {
	h := newEnv(f).h
	f.Fuzz(func(t *testing.T, body []byte) {
		fn, err := h.DecodeCreateFunction(body)
		checkCode(t, err)
		if err != nil {
			return
		}
		if fn.MemorySize < 128 || fn.MemorySize > 10240 || fn.Timeout < 1 || fn.Timeout > 900 ||
			fn.EphemeralStorage < 512 || fn.EphemeralStorage > 10240 || len(fn.Architectures) != 1 {
			t.Fatalf("accepted out-of-range function %+v", fn)
		}
	})
}

func FuzzDecodeUpdateFunctionConfiguration(f *testing.F) {
	h := newEnv(f).h
	f.Fuzz(func(t *testing.T, body []byte) {
		fn := &stratus.Function{Name: "fn", MemorySize: 128, Timeout: 3, EphemeralStorage: 512,
			Runtime: "provided.al2023", Role: testRole, LastModified: time.Unix(0, 0)}
		err := h.DecodeUpdateFunctionConfiguration(body, fn)
		checkCode(t, err)
		if err != nil {
			return
		}
		if fn.MemorySize < 128 || fn.Timeout < 1 || fn.EphemeralStorage < 512 || len(fn.Layers) > 0 {
			t.Fatalf("accepted out-of-range update %+v", fn)
		}
		if _, err := json.Marshal(h.Configuration(fn)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriteSeeds rewrites testdata/fuzz/<Fuzz>/ with -write-seeds.
func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite the corpora")
	}
	names := [][2]string{
		{"my-fn", ""}, {"my-fn%3Alive", ""}, {"my-fn:$LATEST", "$LATEST"},
		{testARN + "my-fn:prod", "prod"}, {"123456789012:function:my-fn:1", ""},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f", ""}, {"a:b:c:d:e:f:g:h:i:j", ""},
		{"my-fn:1", "2"}, {"%zz", ""},
	}
	for i, n := range names {
		writeSeed(t, "FuzzParseFunctionName", i, strconv.Quote(n[0])+"\nstring("+strconv.Quote(n[1])+")", "string")
	}
	zip := bootstrapZip(t)
	creates := []map[string]any{
		createRequest(t, "fn"),
		{"FunctionName": "fn", "Runtime": "provided.al2", "Role": testRole, "Code": map[string]any{"ZipFile": zip},
			"MemorySize": 1024, "Timeout": 900, "EphemeralStorage": map[string]any{"Size": 10240}, "Architectures": []string{"x86_64"},
			"Environment": map[string]any{"Variables": map[string]string{"KEY": "v"}}, "TracingConfig": map[string]any{"Mode": "Active"},
			"Tags": map[string]string{"t": "v"}, "LoggingConfig": map[string]any{"LogFormat": "Text"}},
		{"FunctionName": "fn", "Runtime": "python3.12", "Handler": "a.b", "Role": testRole, "Code": map[string]any{"S3Bucket": "b"}},
		{"FunctionName": 7, "MemorySize": "x"},
	}
	for i, c := range creates {
		b, _ := json.Marshal(c)
		writeSeed(t, "FuzzDecodeCreateFunction", i, "[]byte("+strconv.Quote(string(b))+")", "")
	}
	writeSeed(t, "FuzzDecodeCreateFunction", len(creates), `[]byte("{\"FunctionName\":")`, "")
	updates := []string{
		`{"Environment":{"Variables":{"A1":"x"}},"Timeout":10,"RevisionId":"r"}`,
		`{"Environment":{},"MemorySize":10240,"Handler":"h","Description":"d"}`,
		`{"Environment":{"Variables":{"AWS_REGION":"x"}}}`,
		`{"Layers":[],"VpcConfig":{"SubnetIds":[]},"DeadLetterConfig":{"TargetArn":""},"SnapStart":{"ApplyOn":"None"}}`,
		`{"EphemeralStorage":{"Size":null}}`,
		`nul`,
	}
	for i, u := range updates {
		writeSeed(t, "FuzzDecodeUpdateFunctionConfiguration", i, "[]byte("+strconv.Quote(u)+")", "")
	}
}

// writeSeed writes one corpus file; args are the Go-syntax values, and
// typ, when set, wraps the first one (e.g. string(...)).
func writeSeed(t *testing.T, fuzz string, i int, args, typ string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if typ != "" {
		args = typ + "(" + strings.Replace(args, "\n", ")\n", 1)
	}
	body := fmt.Sprintf("go test fuzz v1\n%s\n", args)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
