package lambdaapi_test

import (
	"strings"
	"testing"
)

// TestEnvironmentUpdate covers the environment rules on
// UpdateFunctionConfiguration: replaced wholesale, reserved names
// refused, and the 4 KB limit (names plus values) at its boundary.
func TestEnvironmentUpdate(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", map[string]any{"Environment": map[string]any{"Variables": map[string]string{"OLD": "1", "KEEP": "2"}}})
	path := "/2015-03-31/functions/fn/configuration"
	env := func(vars map[string]string) map[string]any {
		return map[string]any{"Environment": map[string]any{"Variables": vars}}
	}

	got := decode(t, e.do(t, "PUT", path, env(map[string]string{"KEEP": "3"})))
	vars := got["Environment"].(map[string]any)["Variables"].(map[string]any)
	if len(vars) != 1 || vars["KEEP"] != "3" {
		t.Fatalf("variables = %v, want exactly KEEP=3 (no merge)", vars)
	}

	// 4096 bytes of names and values are allowed, 4097 are not.
	exact := map[string]string{"BIG": strings.Repeat("v", 4096-len("BIG"))}
	if w := e.do(t, "PUT", path, env(exact)); w.Code != 200 {
		t.Fatalf("4096 bytes: %d %s", w.Code, w.Body)
	}
	over := map[string]string{"BIG": strings.Repeat("v", 4097-len("BIG"))}
	wantError(t, e.do(t, "PUT", path, env(over)), 400, ipve, "exceeded the 4KB limit")

	for _, k := range []string{"AWS_REGION", "AWS_LAMBDA_FUNCTION_VERSION", "LAMBDA_TASK_ROOT"} {
		wantError(t, e.do(t, "PUT", path, env(map[string]string{k: "x"})), 400, ipve, "Reserved keys used in this request: "+k)
	}
	// The rejected updates changed nothing.
	got = decode(t, e.do(t, "GET", path, nil))
	if v := got["Environment"].(map[string]any)["Variables"].(map[string]any); len(v["BIG"].(string)) != 4093 {
		t.Fatalf("variables after rejected updates = %d keys", len(v))
	}
}
