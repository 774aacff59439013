package lambdaapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
)

// mustPublish calls PublishVersion and returns the configuration.
func (e *testEnv) mustPublish(tb testing.TB, name string, body any) map[string]any {
	tb.Helper()
	w := e.do(tb, "POST", "/2015-03-31/functions/"+name+"/versions", body)
	if w.Code != http.StatusCreated {
		tb.Fatalf("PublishVersion %s: %d %s", name, w.Code, w.Body)
	}
	return decode(tb, w)
}

func TestPublishVersion(t *testing.T) {
	e := newEnv(t)
	created := e.mustCreate(t, "fn", map[string]any{
		"Environment": map[string]any{"Variables": map[string]string{"A1": "one"}},
		"Description": "latest",
	})
	v1 := e.mustPublish(t, "fn", nil)
	for k, want := range map[string]any{
		"Version": "1", "FunctionArn": testARN + "fn:1", "FunctionName": "fn", "Description": "latest",
		"CodeSha256": created["CodeSha256"], "State": "Active",
	} {
		if v1[k] != want {
			t.Errorf("version 1 %s = %v, want %v", k, v1[k], want)
		}
	}
	if v1["RevisionId"] == created["RevisionId"] {
		t.Error("version 1 has $LATEST's RevisionId; want its own")
	}
	// Nothing changed: version 1 again, not version 2.
	if again := e.mustPublish(t, "fn", map[string]any{"Description": "ignored"}); again["Version"] != "1" || again["RevisionId"] != v1["RevisionId"] {
		t.Errorf("publishing an unchanged $LATEST = %v %v, want version 1", again["Version"], again["RevisionId"])
	}

	// Guards.
	latest := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil))
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn/versions", map[string]any{"RevisionId": "stale"}),
		412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn/versions", map[string]any{"CodeSha256": "bogus"}),
		400, ipve, "CodeSHA256 (bogus) is different from current CodeSHA256 in $LATEST")

	// A change of $LATEST makes version 2; version 1 is untouched.
	w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{
		"Environment": map[string]any{"Variables": map[string]string{"A1": "two"}},
	})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	v2 := e.mustPublish(t, "fn", map[string]any{"Description": "second", "CodeSha256": latest["CodeSha256"], "RevisionId": decode(t, w)["RevisionId"]})
	if v2["Version"] != "2" || v2["Description"] != "second" {
		t.Fatalf("version 2 = %v", v2)
	}
	got := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn:1/configuration", nil))
	if vars := got["Environment"].(map[string]any)["Variables"].(map[string]any); vars["A1"] != "one" {
		t.Errorf("version 1 environment = %v after updating $LATEST", vars)
	}

	wantError(t, e.do(t, "POST", "/2015-03-31/functions/nope/versions", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn:1/versions", nil), 400, ipve, "$LATEST")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn/versions", map[string]any{"Description": strings.Repeat("d", 257)}), 400, vex, "description")
}

func TestQualifiedGet(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", map[string]any{"Tags": map[string]string{"team": "core"}, "Timeout": 5})
	e.mustPublish(t, "fn", nil)
	if w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Timeout": 9}); w.Code != 200 {
		t.Fatal(w.Body)
	}
	for _, path := range []string{
		"/2015-03-31/functions/fn:1/configuration",
		"/2015-03-31/functions/fn/configuration?Qualifier=1",
		"/2015-03-31/functions/" + testARN + "fn:1/configuration",
		"/2015-03-31/functions/" + strings.ReplaceAll(testARN+"fn:1", ":", "%3A") + "/configuration?Qualifier=1",
	} {
		w := e.do(t, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		got := decode(t, w)
		if got["Version"] != "1" || got["FunctionArn"] != testARN+"fn:1" || got["Timeout"] != 5.0 {
			t.Errorf("GET %s = version %v, arn %v, timeout %v", path, got["Version"], got["FunctionArn"], got["Timeout"])
		}
	}
	// GetFunction of a version carries the function's tags.
	got := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn?Qualifier=1", nil))
	if got["Configuration"].(map[string]any)["Version"] != "1" || got["Tags"].(map[string]any)["team"] != "core" {
		t.Errorf("GetFunction of version 1 = %v", got)
	}
	// Unqualified is still $LATEST.
	if got := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil)); got["Version"] != "$LATEST" || got["Timeout"] != 9.0 {
		t.Errorf("$LATEST = %v", got)
	}
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn:2", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:2")
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn:1/configuration?Qualifier=2", nil), 400, ipve, "The derived qualifier from the function name does not match the specified qualifier.")
	// Updating a version is refused.
	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/fn:1/configuration", map[string]any{"Timeout": 5}), 400, ipve, "$LATEST")
}

func TestPublishOnCreateAndUpdateCode(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreate(t, "fn", map[string]any{"Publish": true})
	if c["Version"] != "1" || c["FunctionArn"] != testARN+"fn:1" {
		t.Fatalf("CreateFunction with Publish = %v %v, want version 1", c["Version"], c["FunctionArn"])
	}
	if latest := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil)); latest["Version"] != "$LATEST" {
		t.Fatalf("$LATEST = %v", latest)
	}
	zip2 := makeZip(t, map[string]string{"bootstrap": "#!/bin/sh\necho v2\n"})
	w := e.do(t, "PUT", "/2015-03-31/functions/fn/code", map[string]any{"ZipFile": zip2, "Publish": true})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	v2 := decode(t, w)
	if v2["Version"] != "2" || v2["CodeSha256"] == c["CodeSha256"] {
		t.Fatalf("UpdateFunctionCode with Publish = %v", v2)
	}
	if v1 := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn:1/configuration", nil)); v1["CodeSha256"] != c["CodeSha256"] {
		t.Errorf("version 1 code changed: %v", v1["CodeSha256"])
	}
	if latest := decode(t, e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil)); latest["CodeSha256"] != v2["CodeSha256"] {
		t.Errorf("$LATEST code = %v, want the new code", latest["CodeSha256"])
	}
}

func TestListVersionsByFunction(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	for i := range 60 {
		if w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Timeout": i + 1}); w.Code != 200 {
			t.Fatal(w.Body)
		}
		e.mustPublish(t, "fn", nil)
	}
	var versions []string
	marker := ""
	for pages := 0; ; pages++ {
		path := "/2015-03-31/functions/fn/versions?MaxItems=25"
		if marker != "" {
			path += "&Marker=" + marker
		}
		w := e.do(t, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		got := decode(t, w)
		for _, v := range got["Versions"].([]any) {
			c := v.(map[string]any)
			versions = append(versions, c["Version"].(string))
			if c["Version"] == "$LATEST" && c["FunctionArn"] != testARN+"fn:$LATEST" {
				t.Errorf("$LATEST item FunctionArn = %v", c["FunctionArn"])
			}
			if _, ok := c["State"]; ok {
				t.Error("list items carry State")
			}
		}
		marker, _ = got["NextMarker"].(string)
		if marker == "" {
			break
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(versions) != 61 || versions[0] != "$LATEST" || versions[1] != "1" || versions[60] != "60" {
		t.Fatalf("versions = %v", versions)
	}
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/nope/versions", nil), 404, "ResourceNotFoundException", "nope")
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn/versions?MaxItems=0", nil), 400, vex, "maxItems")

	// ListFunctions with FunctionVersion=ALL lists them too, paged.
	e.mustCreate(t, "other", nil)
	var all []string
	marker = ""
	for {
		path := "/2015-03-31/functions/?FunctionVersion=ALL&MaxItems=50"
		if marker != "" {
			path += "&Marker=" + marker
		}
		got := decode(t, e.do(t, "GET", path, nil))
		for _, v := range got["Functions"].([]any) {
			c := v.(map[string]any)
			all = append(all, c["FunctionName"].(string)+":"+c["Version"].(string))
		}
		if marker, _ = got["NextMarker"].(string); marker == "" {
			break
		}
	}
	if len(all) != 62 || all[0] != "fn:$LATEST" || all[60] != "fn:60" || all[61] != "other:$LATEST" {
		t.Fatalf("ListFunctions ALL = %d items %v...", len(all), all[:3])
	}
}

func TestDeleteVersionAPI(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", map[string]any{"Publish": true})
	if w := e.do(t, "POST", "/2015-03-31/functions/fn/aliases", map[string]any{"Name": "live", "FunctionVersion": "1"}); w.Code != 201 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn?Qualifier=1", nil), 409, "ResourceConflictException",
		"Unable to delete version because the following aliases reference it: [live]")
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn:live", nil), 400, ipve, "DeleteAlias")
	if w := e.do(t, "DELETE", "/2015-03-31/functions/fn/aliases/live", nil); w.Code != 204 {
		t.Fatalf("DeleteAlias: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, "DELETE", "/2015-03-31/functions/fn:1", nil); w.Code != 204 {
		t.Fatalf("DeleteFunction fn:1: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn:1", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:1")
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn:1", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:1")
	// $LATEST is still there; deleting the function removes everything.
	e.mustPublish(t, "fn", nil)
	if w := e.do(t, "DELETE", "/2015-03-31/functions/fn", nil); w.Code != 204 {
		t.Fatal(w.Body)
	}
	if vs, err := e.fns.Versions(context.Background(), "fn"); stratus.ErrorCode(err) != stratus.ENOTFOUND {
		t.Fatalf("versions after DeleteFunction: %v, %v", vs, err)
	}
}

func TestInvokeDryRunQualified(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", map[string]any{"Publish": true})
	e.do(t, "POST", "/2015-03-31/functions/fn/aliases", map[string]any{"Name": "live", "FunctionVersion": "1"})
	for _, q := range []string{"fn:1", "fn:live", "fn:$LATEST"} {
		if w := e.do(t, "POST", "/2015-03-31/functions/"+q+"/invocations", "{}", "X-Amz-Invocation-Type", "DryRun"); w.Code != 204 {
			t.Errorf("DryRun %s: %d %s", q, w.Code, w.Body)
		}
	}
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn:2/invocations", "{}", "X-Amz-Invocation-Type", "DryRun"), 404, "ResourceNotFoundException", testARN+"fn:2")
	wantError(t, e.do(t, "POST", "/2015-03-31/functions/fn:dev/invocations", "{}", "X-Amz-Invocation-Type", "DryRun"), 404, "ResourceNotFoundException", testARN+"fn:dev")
}
