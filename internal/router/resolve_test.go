package router

import (
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/mock"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// newTestRouter returns a Router over fns that never starts a sandbox in
// these tests.
func newTestRouter(t *testing.T, fns stratus.FunctionService, rnd func() float64) *Router {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CodeDir = t.TempDir()
	cfg.Rand = rnd
	r, err := New(cfg, fns, sandbox.NewNone(sandbox.NoneConfig{}), &mock.LogSink{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// versioned stores function f with versions 1 (Timeout 1) and 2
// (Timeout 2), $LATEST at Timeout 3, alias "live" → 1 with 30% to 2 and
// alias "dev" → $LATEST.
func versioned(t *testing.T) *mock.MemoryFunctionService {
	t.Helper()
	ctx := context.Background()
	fns := mock.NewMemoryFunctionService()
	fn := &stratus.Function{Name: "f", Version: stratus.LatestVersion, Runtime: "provided.al2023", Timeout: 1, RevisionID: "r1"}
	if err := fns.CreateFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if i > 1 {
			if _, err := fns.UpdateFunction(ctx, "f", func(f *stratus.Function) error {
				f.Timeout, f.RevisionID = i, "r"+string(rune('0'+i))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if i < 3 {
			if _, _, err := fns.PublishVersion(ctx, "f", nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, a := range []*stratus.Alias{
		{FunctionName: "f", Name: "live", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0.3}},
		{FunctionName: "f", Name: "dev", FunctionVersion: stratus.LatestVersion},
	} {
		if err := fns.CreateAlias(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return fns
}

func TestResolve(t *testing.T) {
	fns := versioned(t)
	next := 0.0
	r := newTestRouter(t, fns, func() float64 { return next })
	ctx := context.Background()
	for _, tc := range []struct {
		qualifier   string
		rnd         float64
		wantVersion string
		wantTimeout int
	}{
		{"", 0, "$LATEST", 3},
		{"$LATEST", 0, "$LATEST", 3},
		{"1", 0, "1", 1},
		{"2", 0, "2", 2},
		{"dev", 0, "$LATEST", 3},
		{"live", 0.0, "2", 2},    // below the weight: the additional version
		{"live", 0.2999, "2", 2}, // still below
		{"live", 0.3, "1", 1},    // at or above: the alias's version
		{"live", 0.99, "1", 1},
	} {
		next = tc.rnd
		fn, err := r.resolve(ctx, &stratus.InvokeRequest{FunctionName: "f", Qualifier: tc.qualifier})
		if err != nil {
			t.Fatalf("resolve(f:%s): %v", tc.qualifier, err)
		}
		if fn.Version != tc.wantVersion || fn.Timeout != tc.wantTimeout {
			t.Errorf("resolve(f:%s) with rand %v = version %s timeout %d, want %s %d",
				tc.qualifier, tc.rnd, fn.Version, fn.Timeout, tc.wantVersion, tc.wantTimeout)
		}
	}
	next = 0 // would pick version 2
	if fn, err := r.resolvePrimary(ctx, &stratus.InvokeRequest{FunctionName: "f", Qualifier: "live"}); err != nil || fn.Version != "1" {
		t.Errorf("resolvePrimary(f:live) = %v, %v; want version 1", fn, err)
	}
	for _, q := range []string{"3", "nope", "0"} {
		_, err := r.resolve(ctx, &stratus.InvokeRequest{FunctionName: "f", Qualifier: q})
		if stratus.ErrorCode(err) != stratus.ENOTFOUND || stratus.ErrorMessage(err) != "Function not found: "+r.FunctionARN("f", q) {
			t.Errorf("resolve(f:%s) = %v, want Function not found with the qualified ARN", q, err)
		}
	}
	if _, err := r.resolve(ctx, &stratus.InvokeRequest{FunctionName: "g"}); stratus.ErrorCode(err) != stratus.ENOTFOUND {
		t.Errorf("resolve(g) = %v", err)
	}
}

// TestPickVersionShare: with the real random source, the additional
// version gets its weight's share. n = 100,000 and weight 0.3 give a
// standard deviation of sqrt(0.3*0.7/n) ≈ 0.00145; ±0.01 is ~6.9σ.
func TestPickVersionShare(t *testing.T) {
	a := &stratus.Alias{FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0.3}}
	r := &Router{}
	const n = 100_000
	hits := 0
	for range n {
		if pickVersion(a, r.rand()) == "2" {
			hits++
		}
	}
	if share := float64(hits) / n; share < 0.29 || share > 0.31 {
		t.Fatalf("additional version got %.4f of invocations, want 0.30±0.01", share)
	}
	zero := &stratus.Alias{FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0}}
	if v := pickVersion(zero, func() float64 { return 0 }); v != "1" {
		t.Errorf("weight 0 picked version %s", v)
	}
}

func layerZip(t *testing.T, files map[string]string, links map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		w.Write([]byte(body))
	}
	for name, target := range links {
		h := &zip.FileHeader{Name: name, Method: zip.Store}
		h.SetMode(fs.ModeSymlink | 0o777)
		w, _ := zw.CreateHeader(h)
		w.Write([]byte(target))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOptDir: layers are merged in order into one directory per ordered
// set; later layers overwrite files, replace links and files by
// directories, and nothing is written through a link.
func TestOptDir(t *testing.T) {
	ctx := context.Background()
	fns := mock.NewMemoryFunctionService()
	r := newTestRouter(t, fns, nil)
	put := func(files, links map[string]string) stratus.FunctionLayer {
		code, err := fns.PutCode(ctx, layerZip(t, files, links))
		if err != nil {
			t.Fatal(err)
		}
		return stratus.FunctionLayer{ARN: "arn:test:" + code.Key[:8], Code: code}
	}
	l1 := put(map[string]string{"bin/tool": "one", "lib/a": "a1", "python/mod.py": "x=1", "data/keep": "k"},
		map[string]string{"etc": "data"}) // etc -> data
	l2 := put(map[string]string{"bin/tool": "two", "lib/b": "b2", "etc/conf": "c"}, nil)

	d, err := r.code.optDir(ctx, []stratus.FunctionLayer{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	read := func(dir, p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	for p, want := range map[string]string{
		"bin/tool": "two", "lib/a": "a1", "lib/b": "b2", "python/mod.py": "x=1", "etc/conf": "c", "data/keep": "k",
	} {
		if got := read(d, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(d, "etc")); err != nil || !fi.IsDir() {
		t.Errorf("etc is %v (%v), want the directory of the later layer, not the link", fi, err)
	}
	if _, err := os.Stat(filepath.Join(d, "data", "conf")); err == nil {
		t.Error("the later layer's etc/conf was written through the earlier layer's link into data/")
	}
	if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("merged directory mode = %v, %v; want 0755", fi, err)
	}
	if got := r.code.optPath([]stratus.FunctionLayer{l1, l2}); got != d {
		t.Errorf("optPath = %q, want %q", got, d)
	}

	// The other order is another directory, with the other winner.
	d2, err := r.code.optDir(ctx, []stratus.FunctionLayer{l2, l1})
	if err != nil || d2 == d {
		t.Fatalf("reversed order: %q, %v", d2, err)
	}
	if got := read(d2, "bin/tool"); got != "one" {
		t.Errorf("reversed bin/tool = %q, want one", got)
	}
	if fi, err := os.Lstat(filepath.Join(d2, "etc")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("reversed etc = %v, %v; want the later layer's link", fi, err)
	}

	// The spec shows it at /opt; no layers, no /opt.
	fn := &stratus.Function{Name: "f", Version: "$LATEST", Layers: []stratus.FunctionLayer{l1, l2}}
	if got := r.sandboxSpec(fn, t.TempDir(), "id", "stream").OptDir; got != d {
		t.Errorf("Spec.OptDir = %q, want %q", got, d)
	}
	fn.Layers = nil
	if got := r.sandboxSpec(fn, t.TempDir(), "id", "stream").OptDir; got != "" {
		t.Errorf("Spec.OptDir without layers = %q", got)
	}
	var path, ld string
	for _, kv := range r.sandboxSpec(fn, t.TempDir(), "id", "stream").Env {
		if v, ok := cutPrefix(kv, "PATH="); ok {
			path = v
		}
		if v, ok := cutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			ld = v
		}
	}
	if !containsElem(path, "/opt/bin") || !containsElem(ld, "/opt/lib") {
		t.Errorf("PATH %q / LD_LIBRARY_PATH %q lack /opt/bin / /opt/lib", path, ld)
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

func containsElem(list, elem string) bool {
	for _, e := range filepath.SplitList(list) {
		if e == elem {
			return true
		}
	}
	return false
}
