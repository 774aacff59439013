package lambdaapi_test

import (
	"context"
	"net/http"
	"testing"
)

func TestUpdateFunctionConfiguration(t *testing.T) {
	e := newEnv(t)
	created := e.mustCreate(t, "fn", map[string]any{
		"Environment": map[string]any{"Variables": map[string]string{"A1": "1", "B1": "2"}},
		"Description": "old",
	})
	path := "/2015-03-31/functions/fn/configuration"

	w := e.do(t, "PUT", path, map[string]any{
		"Environment": map[string]any{"Variables": map[string]string{"C1": "3"}},
		"Timeout":     60,
		"RevisionId":  created["RevisionId"],
	})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got := decode(t, w)
	vars := got["Environment"].(map[string]any)["Variables"].(map[string]any)
	if len(vars) != 1 || vars["C1"] != "3" {
		t.Errorf("Environment not replaced wholesale: %v", vars)
	}
	if got["Timeout"] != 60.0 || got["Description"] != "old" || got["MemorySize"] != 128.0 {
		t.Errorf("absent members changed or present ones ignored: %s", w.Body)
	}
	if got["RevisionId"] == created["RevisionId"] {
		t.Error("RevisionId unchanged")
	}

	// A stale RevisionId is 412 and changes nothing.
	wantError(t, e.do(t, "PUT", path, map[string]any{"Timeout": 5, "RevisionId": created["RevisionId"]}),
		http.StatusPreconditionFailed, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id")

	// Clearing the environment.
	w = e.do(t, "PUT", path, map[string]any{"Environment": map[string]any{}})
	if _, ok := decode(t, w)["Environment"]; ok || w.Code != 200 {
		t.Errorf("Environment not cleared: %s", w.Body)
	}

	fn, _ := e.fns.Function(context.Background(), "fn")
	before := fn.RevisionID
	for _, tc := range []struct {
		body map[string]any
		code string
		msg  string
	}{
		{map[string]any{"MemorySize": 64}, vex, "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
		{map[string]any{"Runtime": "ruby3.3"}, ipve, "not supported by this server"},
		{map[string]any{"Role": "nope"}, vex, "Value 'nope' at 'role' failed to satisfy constraint"},
		{map[string]any{"Environment": map[string]any{"Variables": map[string]string{"AWS_SESSION_TOKEN": "x"}}}, ipve, "reserved keys"},
		{map[string]any{"Layers": []string{"arn:aws:lambda:us-east-1:123456789012:layer:x:1"}}, ipve, "Layer version arn:aws:lambda:us-east-1:123456789012:layer:x:1 does not exist."},
		{map[string]any{"Handler": "has space"}, vex, "Value 'has space' at 'handler' failed to satisfy constraint"},
	} {
		wantError(t, e.do(t, "PUT", path, tc.body), 400, tc.code, tc.msg)
	}
	if fn, _ := e.fns.Function(context.Background(), "fn"); fn.RevisionID != before || fn.Timeout != 60 {
		t.Error("a rejected update changed the function")
	}

	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/nope/configuration", map[string]any{"Timeout": 5}), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/fn:1/configuration", map[string]any{"Timeout": 5}), 400, ipve, "$LATEST")
	wantError(t, e.do(t, "PUT", path, "{"), 400, "InvalidRequestContentException", "")
}

func TestUpdateFunctionCode(t *testing.T) {
	e := newEnv(t)
	created := e.mustCreate(t, "fn", nil)
	path := "/2015-03-31/functions/fn/code"
	zip2 := makeZip(t, map[string]string{"bootstrap": "#!/bin/sh\necho v2\n"})

	// DryRun validates and stores nothing.
	w := e.do(t, "PUT", path, map[string]any{"ZipFile": zip2, "DryRun": true})
	if w.Code != 200 || decode(t, w)["CodeSha256"] != created["CodeSha256"] || len(e.fns.CodeKeys()) != 1 {
		t.Fatalf("DryRun: %d %s, %d packages", w.Code, w.Body, len(e.fns.CodeKeys()))
	}

	for _, tc := range []struct {
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{map[string]any{"ZipFile": zip2, "RevisionId": "stale"}, 412, "PreconditionFailedException", "Revision Id"},
		{map[string]any{"ZipFile": makeZip(t, map[string]string{"app": "x"})}, 400, ipve, "bootstrap"},
		{map[string]any{"ZipFile": []byte("junk")}, 400, ipve, "Could not unzip uploaded file"},
		{map[string]any{}, 400, ipve, "Please provide a source for function code."},
		{map[string]any{"S3Bucket": "b", "S3Key": "k"}, 400, ipve, "S3Bucket"},
		{map[string]any{"ImageUri": "x"}, 400, ipve, "ImageUri"},
		{map[string]any{"ZipFile": zip2, "Architectures": []string{"arm64"}}, 400, ipve, "arm64"},
	} {
		wantError(t, e.do(t, "PUT", path, tc.body), tc.status, tc.code, tc.msg)
	}
	if len(e.fns.CodeKeys()) != 1 {
		t.Fatalf("rejected updates stored code: %v", e.fns.CodeKeys())
	}

	w = e.do(t, "PUT", path, map[string]any{"ZipFile": zip2, "RevisionId": created["RevisionId"], "Architectures": []string{"x86_64"}})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	got := decode(t, w)
	if got["CodeSha256"] == created["CodeSha256"] || got["CodeSize"] != float64(len(zip2)) || got["RevisionId"] == created["RevisionId"] {
		t.Errorf("code not updated: %s", w.Body)
	}
	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/nope/code", map[string]any{"ZipFile": zip2}), 404, "ResourceNotFoundException", "Function not found: "+testARN+"nope")
}
