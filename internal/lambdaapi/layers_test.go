package lambdaapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratus-dev/stratus/internal/lambdaapi"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

const layerARN = "arn:aws:lambda:us-east-1:123456789012:layer:"

// mustPublishLayer publishes a layer version with the given files.
func (e *testEnv) mustPublishLayer(tb testing.TB, name string, files map[string]string, extra map[string]any) map[string]any {
	tb.Helper()
	body := map[string]any{"Content": map[string]any{"ZipFile": makeZip(tb, files)}}
	for k, v := range extra {
		body[k] = v
	}
	w := e.do(tb, "POST", "/2018-10-31/layers/"+name+"/versions", body)
	if w.Code != http.StatusCreated {
		tb.Fatalf("PublishLayerVersion %s: %d %s", name, w.Code, w.Body)
	}
	return decode(tb, w)
}

func TestLayerLifecycle(t *testing.T) {
	e := newEnv(t)
	l1 := e.mustPublishLayer(t, "libs", map[string]string{"bin/tool": "#!/bin/sh\n"}, map[string]any{
		"Description": "tools", "CompatibleRuntimes": []string{"provided.al2023", "python3.12"},
		"CompatibleArchitectures": []string{"x86_64"}, "LicenseInfo": "MIT",
	})
	for k, want := range map[string]any{
		"LayerArn": layerARN + "libs", "LayerVersionArn": layerARN + "libs:1", "Version": 1.0,
		"Description": "tools", "LicenseInfo": "MIT", "CreatedDate": "2024-04-10T19:06:32.563+0000",
	} {
		if l1[k] != want {
			t.Errorf("%s = %v, want %v", k, l1[k], want)
		}
	}
	content := l1["Content"].(map[string]any)
	if s, _ := content["CodeSha256"].(string); len(s) != 44 || content["CodeSize"].(float64) <= 0 ||
		!strings.HasPrefix(content["Location"].(string), "http://example.com/_stratus/code/") {
		t.Errorf("Content = %v", content)
	}
	l2 := e.mustPublishLayer(t, "libs", map[string]string{"lib/x.so": "x"}, nil)
	if l2["Version"] != 2.0 {
		t.Fatalf("second version = %v", l2["Version"])
	}
	e.mustPublishLayer(t, "other", map[string]string{"f": "x"}, map[string]any{"CompatibleRuntimes": []string{"nodejs20.x"}})

	// Get, by name or layer ARN, and by version ARN.
	for _, path := range []string{
		"/2018-10-31/layers/libs/versions/1",
		"/2018-10-31/layers/" + url.PathEscape(layerARN+"libs") + "/versions/1",
		"/2018-10-31/layers?find=LayerVersion&Arn=" + url.QueryEscape(layerARN+"libs:1"),
	} {
		w := e.do(t, "GET", path, nil)
		if w.Code != 200 || decode(t, w)["LayerVersionArn"] != layerARN+"libs:1" {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	wantError(t, e.do(t, "GET", "/2018-10-31/layers/libs/versions/9", nil), 404, "ResourceNotFoundException", "The resource you requested does not exist.")
	wantError(t, e.do(t, "GET", "/2018-10-31/layers?find=LayerVersion&Arn="+url.QueryEscape("arn:aws:lambda:eu-west-1:123456789012:layer:libs:1"), nil),
		404, "ResourceNotFoundException", "does not exist")
	wantError(t, e.do(t, "GET", "/2018-10-31/layers?find=LayerVersion&Arn=nope", nil), 400, vex, "arn")

	// ListLayerVersions: newest first; ListLayers: the newest matching version.
	lv := decode(t, e.do(t, "GET", "/2018-10-31/layers/libs/versions", nil))["LayerVersions"].([]any)
	if len(lv) != 2 || lv[0].(map[string]any)["Version"] != 2.0 {
		t.Fatalf("ListLayerVersions = %v", lv)
	}
	lv = decode(t, e.do(t, "GET", "/2018-10-31/layers/libs/versions?CompatibleRuntime=python3.12", nil))["LayerVersions"].([]any)
	if len(lv) != 1 || lv[0].(map[string]any)["Version"] != 1.0 {
		t.Fatalf("ListLayerVersions python3.12 = %v", lv)
	}
	ls := decode(t, e.do(t, "GET", "/2018-10-31/layers", nil))["Layers"].([]any)
	if len(ls) != 2 || ls[0].(map[string]any)["LayerName"] != "libs" ||
		ls[0].(map[string]any)["LatestMatchingVersion"].(map[string]any)["Version"] != 2.0 {
		t.Fatalf("ListLayers = %v", ls)
	}
	page := decode(t, e.do(t, "GET", "/2018-10-31/layers?MaxItems=1", nil))
	if len(page["Layers"].([]any)) != 1 || page["NextMarker"] == nil {
		t.Fatalf("ListLayers page = %v", page)
	}
	page = decode(t, e.do(t, "GET", "/2018-10-31/layers?MaxItems=1&Marker="+page["NextMarker"].(string), nil))
	if l := page["Layers"].([]any); len(l) != 1 || l[0].(map[string]any)["LayerName"] != "other" || page["NextMarker"] != nil {
		t.Fatalf("ListLayers second page = %v", page)
	}
	ls = decode(t, e.do(t, "GET", "/2018-10-31/layers?CompatibleRuntime=nodejs20.x", nil))["Layers"].([]any)
	if len(ls) != 1 || ls[0].(map[string]any)["LayerName"] != "other" {
		t.Fatalf("ListLayers nodejs20.x = %v", ls)
	}

	// Delete is idempotent.
	for range 2 {
		if w := e.do(t, "DELETE", "/2018-10-31/layers/libs/versions/1", nil); w.Code != http.StatusNoContent {
			t.Fatalf("DeleteLayerVersion: %d %s", w.Code, w.Body)
		}
	}
	wantError(t, e.do(t, "GET", "/2018-10-31/layers/libs/versions/1", nil), 404, "ResourceNotFoundException", "does not exist")
	if l3 := e.mustPublishLayer(t, "libs", map[string]string{"a": "b"}, nil); l3["Version"] != 3.0 {
		t.Fatalf("version after delete = %v, want 3 (never reused)", l3["Version"])
	}
}

func TestPublishLayerValidation(t *testing.T) {
	e := newEnv(t)
	zip := makeZip(t, map[string]string{"f": "x"})
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		status     int
		code, msg  string
	}{
		{"no content", "libs", map[string]any{}, 400, vex, "Value null at 'content'"},
		{"empty zip", "libs", map[string]any{"Content": map[string]any{}}, 400, ipve, "Please provide a source"},
		{"s3", "libs", map[string]any{"Content": map[string]any{"S3Bucket": "b", "S3Key": "k"}}, 400, ipve, "S3Bucket"},
		{"junk", "libs", map[string]any{"Content": map[string]any{"ZipFile": []byte("junk")}}, 400, ipve, pkgzip.UnzipMessage},
		{"runtime", "libs", map[string]any{"Content": map[string]any{"ZipFile": zip}, "CompatibleRuntimes": []string{"cobol"}}, 400, vex, "compatibleRuntimes"},
		{"arch", "libs", map[string]any{"Content": map[string]any{"ZipFile": zip}, "CompatibleArchitectures": []string{"sparc"}}, 400, vex, "compatibleArchitectures"},
		{"license", "libs", map[string]any{"Content": map[string]any{"ZipFile": zip}, "LicenseInfo": strings.Repeat("l", 513)}, 400, vex, "licenseInfo"},
		{"name", "bad.name", map[string]any{"Content": map[string]any{"ZipFile": zip}}, 400, vex, "layerName"},
		{"other account", url.PathEscape("arn:aws:lambda:us-east-1:999999999999:layer:x"), map[string]any{"Content": map[string]any{"ZipFile": zip}}, 404, "ResourceNotFoundException", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", "/2018-10-31/layers/"+tc.path+"/versions", tc.body), tc.status, tc.code, tc.msg)
		})
	}
	// Hostile zips are refused by the same rules as function code.
	evil := makeZip(t, map[string]string{"../escape": "x"})
	wantError(t, e.do(t, "POST", "/2018-10-31/layers/libs/versions", map[string]any{"Content": map[string]any{"ZipFile": evil}}), 400, ipve, pkgzip.UnzipMessage)
}

func TestFunctionLayers(t *testing.T) {
	e := newEnv(t)
	e.mustPublishLayer(t, "a", map[string]string{"bin/a": "aaaa"}, nil)
	e.mustPublishLayer(t, "a", map[string]string{"bin/a": "aaaaaaaa"}, nil)
	lb := e.mustPublishLayer(t, "b", map[string]string{"lib/b": "b"}, nil)

	c := e.mustCreate(t, "fn", map[string]any{"Layers": []string{layerARN + "a:2", layerARN + "b:1"}})
	layers := c["Layers"].([]any)
	if len(layers) != 2 || layers[0].(map[string]any)["Arn"] != layerARN+"a:2" || layers[1].(map[string]any)["Arn"] != layerARN+"b:1" ||
		layers[1].(map[string]any)["CodeSize"] != lb["Content"].(map[string]any)["CodeSize"] {
		t.Fatalf("Layers = %v", layers)
	}
	fn, _ := e.fns.Function(context.Background(), "fn")
	if len(fn.Layers) != 2 || fn.Layers[0].Code.Key == "" || fn.Layers[0].Code.UnzippedSize != 8 {
		t.Fatalf("stored layers = %+v", fn.Layers)
	}

	path := "/2015-03-31/functions/fn/configuration"
	for _, tc := range []struct {
		layers    []string
		status    int
		code, msg string
	}{
		{[]string{layerARN + "a:9"}, 400, ipve, "Layer version " + layerARN + "a:9 does not exist."},
		{[]string{"arn:aws:lambda:us-east-1:999999999999:layer:a:1"}, 400, ipve, "does not exist"},
		{[]string{layerARN + "a:1", layerARN + "a:2"}, 400, ipve, "Two different versions of the same layer"},
		{[]string{"a:1"}, 400, vex, "layers"},
		{[]string{layerARN + "a:1", layerARN + "b:1", layerARN + "c:1", layerARN + "d:1", layerARN + "e:1", layerARN + "f:1"}, 400, ipve, "Cannot reference more than 5 layers."},
	} {
		wantError(t, e.do(t, "PUT", path, map[string]any{"Layers": tc.layers}), tc.status, tc.code, tc.msg)
	}
	// Replaced wholesale, and removed with an empty list.
	got := decode(t, e.do(t, "PUT", path, map[string]any{"Layers": []string{layerARN + "b:1"}}))
	if l := got["Layers"].([]any); len(l) != 1 {
		t.Fatalf("Layers after update = %v", l)
	}
	if got := decode(t, e.do(t, "PUT", path, map[string]any{"Timeout": 7})); len(got["Layers"].([]any)) != 1 {
		t.Fatalf("an update without Layers changed them: %v", got["Layers"])
	}
	got = decode(t, e.do(t, "PUT", path, map[string]any{"Layers": []string{}}))
	if _, ok := got["Layers"]; ok {
		t.Fatalf("Layers not removed: %v", got["Layers"])
	}

	// Deleting a layer version does not touch functions using it.
	e.do(t, "PUT", path, map[string]any{"Layers": []string{layerARN + "b:1"}})
	e.do(t, "DELETE", "/2018-10-31/layers/b/versions/1", nil)
	if got := decode(t, e.do(t, "GET", path, nil)); len(got["Layers"].([]any)) != 1 {
		t.Fatalf("function lost its layer: %v", got)
	}
	// but it can no longer be added.
	wantError(t, e.do(t, "POST", "/2015-03-31/functions", mergeMaps(createRequest(t, "fn2"), map[string]any{"Layers": []string{layerARN + "b:1"}})),
		400, ipve, "does not exist")
}

// TestLayersSizeLimit: function and layers together stay within the
// unzipped limit.
func TestLayersSizeLimit(t *testing.T) {
	e := newEnv(t)
	h := lambdaapi.New(lambdaapi.Config{
		Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		Limits: pkgzip.Limits{MaxUnzippedBytes: 1000},
		Now:    func() time.Time { return testNow },
	}, e.fns, e.inv)
	e.h = h
	e.mustPublishLayer(t, "big", map[string]string{"blob": strings.Repeat("x", 800)}, nil)
	e.mustCreate(t, "fn", map[string]any{"Code": map[string]any{"ZipFile": makeZip(t, map[string]string{"bootstrap": strings.Repeat("#", 300)})}})
	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Layers": []string{layerARN + "big:1"}}),
		400, ipve, "Function code combined with layers exceeds the maximum allowed size of 1000 bytes. The actual size is 1100 bytes.")
	// The same check guards new code for a function with layers.
	e.do(t, "PUT", "/2015-03-31/functions/fn/code", map[string]any{"ZipFile": makeZip(t, map[string]string{"bootstrap": "#"})})
	if w := e.do(t, "PUT", "/2015-03-31/functions/fn/configuration", map[string]any{"Layers": []string{layerARN + "big:1"}}); w.Code != 200 {
		t.Fatalf("small code with the layer: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "PUT", "/2015-03-31/functions/fn/code", map[string]any{"ZipFile": makeZip(t, map[string]string{"bootstrap": strings.Repeat("#", 300)})}),
		400, ipve, "Function code combined with layers exceeds the maximum allowed size")
}

func mergeMaps(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
