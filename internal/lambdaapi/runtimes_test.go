package lambdaapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
)

func TestSupportedRuntimes(t *testing.T) {
	want := []string{
		"nodejs18.x", "nodejs20.x", "nodejs22.x",
		"provided.al2", "provided.al2023",
		"python3.10", "python3.11", "python3.12", "python3.13", "python3.9",
	}
	if got := sortedRuntimes(true); !slices.Equal(got, want) {
		t.Errorf("supported runtimes = %v, want %v", got, want)
	}
}

func TestLookupRuntime(t *testing.T) {
	for _, tc := range []struct {
		runtime   string
		code      string // "" when accepted
		bootstrap bool
		msg       string
	}{
		{runtime: "provided.al2023", bootstrap: true},
		{runtime: "provided.al2", bootstrap: true},
		{runtime: "python3.9"},
		{runtime: "python3.13"},
		{runtime: "nodejs18.x"},
		{runtime: "nodejs22.x"},
		{runtime: "python3.14", code: stratus.EUNSUPPORTED, msg: "The runtime parameter of python3.14 is not supported by this server. Supported runtimes: nodejs18.x, "},
		{runtime: "python3.8", code: stratus.EUNSUPPORTED, msg: "not supported by this server"},
		{runtime: "nodejs24.x", code: stratus.EUNSUPPORTED, msg: "not supported by this server"},
		{runtime: "java21", code: stratus.EUNSUPPORTED, msg: "not supported by this server"},
		{runtime: "nodejs14.x", code: stratus.EINVALID, msg: "The runtime parameter of nodejs14.x is no longer supported"},
		{runtime: "python3.7", code: stratus.EINVALID, msg: "no longer supported"},
		{runtime: "perl", code: stratus.EVALIDATION, msg: "Value 'perl' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			ri, err := lookupRuntime(tc.runtime)
			if tc.code == "" {
				if err != nil || !ri.Supported || ri.NeedsBootstrap != tc.bootstrap {
					t.Errorf("lookupRuntime = %+v, %v; want supported, NeedsBootstrap %v", ri, err, tc.bootstrap)
				}
				return
			}
			if code := stratus.ErrorCode(err); code != tc.code || !strings.Contains(stratus.ErrorMessage(err), tc.msg) {
				t.Errorf("lookupRuntime = %s %q, want %s containing %q", code, stratus.ErrorMessage(err), tc.code, tc.msg)
			}
		})
	}
}

func TestRuntimeVersionConfig(t *testing.T) {
	h := New(Config{Region: "eu-west-1", RuntimeVersion: func(rt string) string {
		switch {
		case strings.HasPrefix(rt, "python"):
			return "3.11.2"
		case strings.HasPrefix(rt, "nodejs"):
			return "20.20.2"
		}
		return ""
	}}, nil, nil)
	for rt, want := range map[string]string{
		"python3.12":      "arn:aws:lambda:eu-west-1::runtime:python-3.11.2",
		"python3.9":       "arn:aws:lambda:eu-west-1::runtime:python-3.11.2",
		"nodejs22.x":      "arn:aws:lambda:eu-west-1::runtime:nodejs-20.20.2",
		"provided.al2023": "",
	} {
		fn := &stratus.Function{Name: "f", Runtime: rt}
		got := ""
		if c := h.configuration(fn).RuntimeVersionConfig; c != nil {
			got = c.RuntimeVersionArn
		}
		if got != want {
			t.Errorf("%s: RuntimeVersionArn %q, want %q", rt, got, want)
		}
		if c := h.listItem(fn).RuntimeVersionConfig; c != nil {
			t.Errorf("%s: ListFunctions item has RuntimeVersionConfig %+v", rt, c)
		}
	}
	if c := New(Config{}, nil, nil).configuration(&stratus.Function{Runtime: "python3.12"}); c.RuntimeVersionConfig != nil {
		t.Errorf("without RuntimeVersion: %+v", c.RuntimeVersionConfig)
	}
}
