package lambdaapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus"
)

func TestCreateAndGetFunction(t *testing.T) {
	e := newEnv(t)
	zip := bootstrapZip(t)
	created := e.mustCreate(t, "fn", map[string]any{
		"Code":        map[string]any{"ZipFile": zip},
		"Environment": map[string]any{"Variables": map[string]string{"GREETING": "hi"}},
		"Tags":        map[string]string{"team": "core"},
		"MemorySize":  256,
	})
	for k, want := range map[string]any{
		"FunctionName": "fn", "FunctionArn": testARN + "fn", "Version": "$LATEST",
		"Timeout": 3.0, "MemorySize": 256.0, "State": "Active", "LastUpdateStatus": "Successful",
		"PackageType": "Zip", "LastModified": "2024-04-10T19:06:32.563+0000",
		"CodeSize": float64(len(zip)),
	} {
		if created[k] != want {
			t.Errorf("%s = %v, want %v", k, created[k], want)
		}
	}
	if _, ok := created["Handler"]; ok {
		t.Error("Handler present though none was given to a provided runtime")
	}
	if s, _ := created["CodeSha256"].(string); len(s) != 44 {
		t.Errorf("CodeSha256 = %q, want base64 SHA-256", s)
	}

	for _, path := range []string{"/2015-03-31/functions/fn", "/2015-03-31/functions/" + testARN + "fn", "/2015-03-31/functions/fn?Qualifier=%24LATEST"} {
		w := e.do(t, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("GetFunction %s: %d %s", path, w.Code, w.Body)
		}
		got := decode(t, w)
		if got["Configuration"].(map[string]any)["RevisionId"] != created["RevisionId"] {
			t.Errorf("GetFunction configuration differs from CreateFunction's")
		}
		code := got["Code"].(map[string]any)
		loc, _ := code["Location"].(string)
		if code["RepositoryType"] != "S3" || !strings.HasPrefix(loc, "http://example.com/_stratus/code/") {
			t.Errorf("Code = %v", code)
		}
		if got["Tags"].(map[string]any)["team"] != "core" {
			t.Errorf("Tags = %v", got["Tags"])
		}
		if _, ok := got["Concurrency"]; ok {
			t.Error("Concurrency present though never set")
		}
		// The code location serves the zip.
		dl := e.do(t, "GET", strings.TrimPrefix(loc, "http://example.com"), nil)
		if dl.Code != 200 || !bytes.Equal(dl.Body.Bytes(), zip) || dl.Header().Get("Content-Type") != "application/zip" {
			t.Errorf("downloading %s: %d %q", loc, dl.Code, dl.Header())
		}
	}

	w := e.do(t, "GET", "/2015-03-31/functions/fn/configuration", nil)
	if w.Code != 200 || decode(t, w)["RevisionId"] != created["RevisionId"] {
		t.Fatalf("GetFunctionConfiguration: %d %s", w.Code, w.Body)
	}
}

func TestGetFunctionNotFound(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	for path, msg := range map[string]string{
		"/2015-03-31/functions/nope":                            "Function not found: " + testARN + "nope",
		"/2015-03-31/functions/nope/configuration":              "Function not found: " + testARN + "nope",
		"/2015-03-31/functions/fn:3":                            "Function not found: " + testARN + "fn:3",
		"/2015-03-31/functions/fn/configuration?Qualifier=live": "Function not found: " + testARN + "fn:live",
	} {
		w := e.do(t, "GET", path, nil)
		wantError(t, w, 404, "ResourceNotFoundException", msg)
		if !strings.Contains(w.Body.String(), `"Message":`) {
			t.Errorf("ResourceNotFoundException body %s: want capitalised Message", w.Body)
		}
	}
	wantError(t, e.do(t, "GET", "/_stratus/code/"+strings.Repeat("0", 64)+".zip", nil), 404, "ResourceNotFoundException", "Code not found")
}

func TestListFunctions(t *testing.T) {
	e := newEnv(t)
	var names []string
	for i := range 120 {
		name := "fn-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		names = append(names, name)
		e.mustCreate(t, name, nil)
	}
	var got []string
	marker := ""
	pages := 0
	for {
		path := "/2015-03-31/functions/?MaxItems=1000"
		if marker != "" {
			path += "&Marker=" + marker
		}
		w := e.do(t, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		m := decode(t, w)
		fns := m["Functions"].([]any)
		if len(fns) > 50 {
			t.Fatalf("page of %d functions", len(fns))
		}
		for _, f := range fns {
			item := f.(map[string]any)
			got = append(got, item["FunctionName"].(string))
			for _, k := range []string{"State", "LastUpdateStatus"} {
				if _, ok := item[k]; ok {
					t.Fatalf("list item has %s", k)
				}
			}
		}
		pages++
		marker, _ = m["NextMarker"].(string)
		if marker == "" {
			break
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%d pages, %d names", pages, len(got))
	}

	w := e.do(t, "GET", "/2015-03-31/functions?MaxItems=7&FunctionVersion=ALL", nil)
	if m := decode(t, w); len(m["Functions"].([]any)) != 7 || m["NextMarker"] == nil {
		t.Errorf("MaxItems=7: %s", w.Body)
	}
	w = e.do(t, "GET", "/2015-03-31/functions?MasterRegion=us-east-1&FunctionVersion=ALL", nil)
	if w.Body.String() != `{"Functions":[]}` {
		t.Errorf("MasterRegion: %s", w.Body)
	}
	for _, tc := range []struct{ query, code, msg string }{
		{"MaxItems=0", vex, "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"MaxItems=10001", vex, "Value '10001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"MaxItems=x", vex, "Value 'x' at 'maxItems' failed to satisfy constraint: Member must be an integer"},
		{"Marker=%25%25", ipve, "Invalid Marker: %%"},
		{"FunctionVersion=1", vex, "Value '1' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"},
	} {
		wantError(t, e.do(t, "GET", "/2015-03-31/functions/?"+tc.query, nil), 400, tc.code, tc.msg)
	}
}

func TestListFunctionsEmpty(t *testing.T) {
	w := newEnv(t).do(t, "GET", "/2015-03-31/functions/", nil)
	if w.Code != 200 || w.Body.String() != `{"Functions":[]}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestDeleteFunction(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn?Qualifier=%24LATEST", nil), 400, ipve, "$LATEST version cannot be deleted without deleting the function.")
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn?Qualifier=1", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn:1")
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/nope?Qualifier=1", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")

	w := e.do(t, "DELETE", "/2015-03-31/functions/"+testARN+"fn", nil)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("DeleteFunction: %d %q", w.Code, w.Body)
	}
	wantError(t, e.do(t, "DELETE", "/2015-03-31/functions/fn", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"fn")
	wantError(t, e.do(t, "GET", "/2015-03-31/functions/fn", nil), 404, "ResourceNotFoundException", "")
}

func TestAccountSettings(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "a", nil)
	e.mustCreate(t, "b", map[string]any{"Code": map[string]any{"ZipFile": makeZip(t, map[string]string{"bootstrap": "x", "more": "y"})}})
	w := e.do(t, "GET", "/2016-08-19/account-settings", nil)
	m := decode(t, w)
	lim := m["AccountLimit"].(map[string]any)
	for k, want := range map[string]float64{
		"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
		"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000,
	} {
		if lim[k] != want {
			t.Errorf("AccountLimit.%s = %v, want %v", k, lim[k], want)
		}
	}
	fns, _ := e.fns.Functions(context.Background())
	usage := m["AccountUsage"].(map[string]any)
	if usage["FunctionCount"] != 2.0 || usage["TotalCodeSize"] != float64(fns[0].Code.Size+fns[1].Code.Size) {
		t.Errorf("AccountUsage = %v", usage)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	created := e.mustCreate(t, "fn", map[string]any{"Tags": map[string]string{"a": "1"}})
	res := "/2017-03-31/tags/" + strings.ReplaceAll(testARN+"fn", ":", "%3A")

	w := e.do(t, "POST", res, map[string]any{"Tags": map[string]string{"b": "2", "a": "0"}})
	if w.Code != http.StatusNoContent {
		t.Fatalf("TagResource: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", res, nil)
	if w.Code != 200 || w.Body.String() != `{"Tags":{"a":"0","b":"2"}}` {
		t.Fatalf("ListTags: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "DELETE", res+"?tagKeys=a&tagKeys=b&tagKeys=zz", nil)
	if w.Code != http.StatusNoContent {
		t.Fatalf("UntagResource: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", res, nil)
	if w.Body.String() != `{"Tags":{}}` {
		t.Fatalf("ListTags after untag: %s", w.Body)
	}
	fn, _ := e.fns.Function(context.Background(), "fn")
	if fn.RevisionID != created["RevisionId"] {
		t.Error("tagging changed the RevisionId")
	}

	wantError(t, e.do(t, "GET", "/2017-03-31/tags/"+testARN+"nope", nil), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	wantError(t, e.do(t, "GET", "/2017-03-31/tags/fn", nil), 400, vex, "'resource'")
	wantError(t, e.do(t, "GET", "/2017-03-31/tags/"+testARN+"fn:1", nil), 400, ipve, "versions or aliases")
	wantError(t, e.do(t, "POST", res, map[string]any{}), 400, vex, "Value null at 'tags' failed to satisfy constraint: Member must not be null")
	wantError(t, e.do(t, "POST", res, map[string]any{"Tags": manyTags(51)}), 400, ipve, "tag limit")
	wantError(t, e.do(t, "DELETE", res, nil), 400, vex, "Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
}

func TestRequestIDOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	e.mustCreate(t, "fn", nil)
	seen := map[string]bool{}
	for _, path := range []string{"/2015-03-31/functions/fn", "/2015-03-31/functions/nope", "/2016-08-19/account-settings", "/2099-01-01/x"} {
		w := e.do(t, "GET", path, nil) // do checks the header is there
		id := w.Header().Get("X-Amzn-Requestid")
		if seen[id] {
			t.Errorf("request id %s reused", id)
		}
		seen[id] = true
	}
	fn, _ := e.fns.Function(context.Background(), "fn")
	if fn.Version != stratus.LatestVersion {
		t.Errorf("stored Version = %q", fn.Version)
	}
}
