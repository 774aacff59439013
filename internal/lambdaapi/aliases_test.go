package lambdaapi_test

import (
	"net/http"
	"strings"
	"testing"
)

const aliasesPath = "/2015-03-31/functions/fn/aliases"

// versionedEnv has function fn with published versions 1, 2 and 3.
func versionedEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.mustCreate(t, "fn", map[string]any{"Publish": true})
	for i := 2; i <= 3; i++ {
		if w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Timeout": i}); w.Code != 200 {
			t.Fatal(w.Body)
		}
		e.mustPublish(t, "fn", nil)
	}
	return e
}

func TestAliasLifecycle(t *testing.T) {
	e := versionedEnv(t)
	w := e.do(t, "POST", aliasesPath, map[string]any{
		"Name": "live", "FunctionVersion": "1", "Description": "prod",
		"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"2": 0.3}},
	})
	if w.Code != http.StatusCreated {
		t.Fatalf("CreateAlias: %d %s", w.Code, w.Body)
	}
	a := decode(t, w)
	if a["AliasArn"] != testARN+"fn:live" || a["Name"] != "live" || a["FunctionVersion"] != "1" || a["Description"] != "prod" {
		t.Errorf("AliasConfiguration = %v", a)
	}
	if wt := a["RoutingConfig"].(map[string]any)["AdditionalVersionWeights"].(map[string]any)["2"]; wt != 0.3 {
		t.Errorf("weight = %v", wt)
	}
	wantError(t, e.do(t, "POST", aliasesPath, map[string]any{"Name": "live", "FunctionVersion": "2"}), 409,
		"ResourceConflictException", "Alias already exists: "+testARN+"fn:live")

	got := decode(t, e.do(t, "GET", aliasesPath+"/live", nil))
	if got["RevisionId"] != a["RevisionId"] {
		t.Errorf("GetAlias = %v", got)
	}

	// Update: present members replace; a stale RevisionId is refused.
	wantError(t, e.do(t, "PUT", aliasesPath+"/live", map[string]any{"FunctionVersion": "3", "RevisionId": "stale"}), 412, "PreconditionFailedException", "Revision Id")
	w = e.do(t, "PUT", aliasesPath+"/live", map[string]any{"FunctionVersion": "3", "RevisionId": a["RevisionId"]})
	if w.Code != 200 {
		t.Fatalf("UpdateAlias: %d %s", w.Code, w.Body)
	}
	u := decode(t, w)
	if u["FunctionVersion"] != "3" || u["Description"] != "prod" || u["RoutingConfig"] == nil || u["RevisionId"] == a["RevisionId"] {
		t.Errorf("after update = %v", u)
	}
	// An empty RoutingConfig removes the routing.
	u = decode(t, e.do(t, "PUT", aliasesPath+"/live", map[string]any{"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{}}}))
	if _, ok := u["RoutingConfig"]; ok {
		t.Errorf("routing not removed: %v", u)
	}

	// Listing, with the FunctionVersion filter and paging.
	for _, n := range []string{"a1", "b2", "c3"} {
		if w := e.do(t, "POST", aliasesPath, map[string]any{"Name": n, "FunctionVersion": "2"}); w.Code != 201 {
			t.Fatal(w.Body)
		}
	}
	l := decode(t, e.do(t, "GET", aliasesPath+"?MaxItems=2", nil))
	if items := l["Aliases"].([]any); len(items) != 2 || items[0].(map[string]any)["Name"] != "a1" || l["NextMarker"] == nil {
		t.Fatalf("first page = %v", l)
	}
	l = decode(t, e.do(t, "GET", aliasesPath+"?MaxItems=2&Marker="+l["NextMarker"].(string), nil))
	if items := l["Aliases"].([]any); len(items) != 2 || items[1].(map[string]any)["Name"] != "live" || l["NextMarker"] != nil {
		t.Fatalf("second page = %v", l)
	}
	l = decode(t, e.do(t, "GET", aliasesPath+"?FunctionVersion=3", nil))
	if items := l["Aliases"].([]any); len(items) != 1 || items[0].(map[string]any)["Name"] != "live" {
		t.Fatalf("aliases of version 3 = %v", l)
	}

	if w := e.do(t, "DELETE", aliasesPath+"/live", nil); w.Code != http.StatusNoContent {
		t.Fatalf("DeleteAlias: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "GET", aliasesPath+"/live", nil), 404, "ResourceNotFoundException", "Alias not found: "+testARN+"fn:live")
	wantError(t, e.do(t, "DELETE", aliasesPath+"/live", nil), 404, "ResourceNotFoundException", "Alias not found: "+testARN+"fn:live")
	wantError(t, e.do(t, "PUT", aliasesPath+"/live", map[string]any{"Description": "x"}), 404, "ResourceNotFoundException", "Alias not found: "+testARN+"fn:live")
}

func TestAliasValidation(t *testing.T) {
	e := versionedEnv(t)
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{"no name", map[string]any{"FunctionVersion": "1"}, 400, vex, "Value null at 'name'"},
		{"no version", map[string]any{"Name": "a"}, 400, vex, "Value null at 'functionVersion'"},
		{"digits", map[string]any{"Name": "123", "FunctionVersion": "1"}, 400, vex, "(?!^[0-9]+$)"},
		{"latest name", map[string]any{"Name": "$LATEST", "FunctionVersion": "1"}, 400, vex, "regular expression"},
		{"bad chars", map[string]any{"Name": "a.b", "FunctionVersion": "1"}, 400, vex, "regular expression"},
		{"too long", map[string]any{"Name": strings.Repeat("a", 129), "FunctionVersion": "1"}, 400, vex, "length"},
		{"bad version", map[string]any{"Name": "a", "FunctionVersion": "x"}, 400, vex, "functionVersion"},
		{"missing version", map[string]any{"Name": "a", "FunctionVersion": "9"}, 404, "ResourceNotFoundException", "Function not found: " + testARN + "fn:9"},
		{"two extra versions", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"2": 0.1, "3": 0.1}}}, 400, ipve, "at most 1 additional version"},
		{"weight above 1", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"2": 1.5}}}, 400, vex, "less than or equal to 1.0"},
		{"negative weight", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"2": -0.1}}}, 400, vex, "greater than or equal to 0.0"},
		{"same version", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"1": 0.5}}}, 400, ipve, "already included in routing configuration"},
		{"latest with weights", map[string]any{"Name": "a", "FunctionVersion": "$LATEST",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"1": 0.5}}}, 400, ipve, "$LATEST is not supported for an alias pointing to more than 1 version"},
		{"latest as extra", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"$LATEST": 0.5}}}, 400, vex, "[0-9]+"},
		{"missing extra version", map[string]any{"Name": "a", "FunctionVersion": "1",
			"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"9": 0.5}}}, 404, "ResourceNotFoundException", "fn:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", aliasesPath, tc.body), tc.status, tc.code, tc.msg)
		})
	}
	// An alias may point to $LATEST without routing.
	if w := e.do(t, "POST", aliasesPath, map[string]any{"Name": "dev", "FunctionVersion": "$LATEST"}); w.Code != 201 {
		t.Fatalf("alias to $LATEST: %d %s", w.Code, w.Body)
	}
	// Routing that becomes invalid by an update is refused too.
	if w := e.do(t, "POST", aliasesPath, map[string]any{"Name": "live", "FunctionVersion": "1",
		"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]float64{"2": 0.5}}}); w.Code != 201 {
		t.Fatal(w.Body)
	}
	wantError(t, e.do(t, "PUT", aliasesPath+"/live", map[string]any{"FunctionVersion": "2"}), 400, ipve, "already included")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/nope/aliases", map[string]any{"Name": "a", "FunctionVersion": "1"}), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	wantError(t, e.do(t, "GET", aliasesPath+"/123", nil), 400, vex, "regular expression")
}

// TestGetThroughAlias: configuration reached through an alias names the
// alias in FunctionArn and the version it points to in Version.
func TestGetThroughAlias(t *testing.T) {
	e := versionedEnv(t)
	e.do(t, "POST", aliasesPath, map[string]any{"Name": "live", "FunctionVersion": "2"})
	for _, path := range []string{"/2015-03-31/functions/fn:live/configuration", "/2015-03-31/functions/fn/configuration?Qualifier=live"} {
		got := decode(t, e.do(t, "GET", path, nil))
		if got["FunctionArn"] != testARN+"fn:live" || got["Version"] != "2" || got["Timeout"] != 2.0 {
			t.Errorf("GET %s = arn %v version %v timeout %v", path, got["FunctionArn"], got["Version"], got["Timeout"])
		}
	}
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn:nope", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:nope")
}
