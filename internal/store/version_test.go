package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
	"github.com/stratus-dev/stratus/internal/store"
)

// stamp is a snapshot func giving each version a recognisable revision.
func stamp(rev string) func(*stratus.Function) {
	return func(v *stratus.Function) { v.RevisionID = rev; v.Description = "v-" + rev }
}

// touch changes $LATEST the way the API does: a new RevisionID.
func touch(t testing.TB, s *store.Store, name string, change func(*stratus.Function)) {
	t.Helper()
	_, err := s.UpdateFunction(context.Background(), name, func(f *stratus.Function) error {
		change(f)
		f.RevisionID = fmt.Sprintf("rev-%d", time.Now().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustPublish(t testing.TB, s *store.Store, name string, wantCreated bool) *stratus.Function {
	t.Helper()
	v, created, err := s.PublishVersion(context.Background(), name, nil, stamp(fmt.Sprint(time.Now().UnixNano())))
	if err != nil {
		t.Fatalf("PublishVersion(%s): %v", name, err)
	}
	if created != wantCreated {
		t.Fatalf("PublishVersion(%s) created = %v, want %v (version %s)", name, created, wantCreated, v.Version)
	}
	return v
}

func TestPublishVersion(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	fn := newFunction("f")
	fn.RevisionID = "r0"
	fn.Tags = map[string]string{"team": "x"}
	if err := s.CreateFunction(ctx, fn); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.PublishVersion(ctx, "nope", nil, nil)
	requireCode(t, err, stratus.ENOTFOUND)

	v1 := mustPublish(t, s, "f", true)
	if v1.Version != "1" || v1.Name != "f" || v1.Environment["A"] != "1" || v1.Tags != nil ||
		!strings.HasPrefix(v1.Description, "v-") || v1.LastPublished != 0 {
		t.Fatalf("version 1 = %+v", v1)
	}
	// Nothing changed: the same version comes back, nothing is created.
	if again := mustPublish(t, s, "f", false); again.Version != "1" || again.RevisionID != v1.RevisionID {
		t.Fatalf("republish = %+v, want version 1 unchanged", again)
	}

	// Changing $LATEST does not change version 1.
	touch(t, s, "f", func(f *stratus.Function) { f.Environment = map[string]string{"A": "2"}; f.Timeout = 9 })
	got, err := s.Version(ctx, "f", "1")
	if err != nil || got.Environment["A"] != "1" || got.Timeout != 3 {
		t.Fatalf("version 1 after updating $LATEST = %+v, %v", got, err)
	}
	v2 := mustPublish(t, s, "f", true)
	if v2.Version != "2" || v2.Environment["A"] != "2" {
		t.Fatalf("version 2 = %+v", v2)
	}

	// update runs inside the compare-and-swap; its error aborts.
	sentinel := errors.New("guard")
	if _, _, err := s.PublishVersion(ctx, "f", func(*stratus.Function) error { return sentinel }, nil); err != sentinel {
		t.Fatalf("guard error = %v", err)
	}
	// An update that changes $LATEST is published with it.
	v3, created, err := s.PublishVersion(ctx, "f", func(f *stratus.Function) error {
		f.MemorySize = 512
		f.RevisionID = "r3"
		return nil
	}, stamp("x"))
	if err != nil || !created || v3.Version != "3" || v3.MemorySize != 512 {
		t.Fatalf("publish with update = %+v, %v, %v", v3, created, err)
	}
	if latest, _ := s.Function(ctx, "f"); latest.MemorySize != 512 || latest.LastPublished != 3 {
		t.Fatalf("$LATEST after publish with update = %+v", latest)
	}

	vs, err := s.Versions(ctx, "f")
	if err != nil || len(vs) != 3 || vs[0].Version != "1" || vs[2].Version != "3" {
		t.Fatalf("Versions = %v, %v", vs, err)
	}
	for _, q := range []string{"4", "0", "01", "x", "$LATEST"} {
		_, err := s.Version(ctx, "f", q)
		requireCode(t, err, stratus.ENOTFOUND)
	}
	_, err = s.Versions(ctx, "nope")
	requireCode(t, err, stratus.ENOTFOUND)
}

func TestDeleteVersion(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	if err := s.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, s, "f", true)
	touch(t, s, "f", func(f *stratus.Function) { f.Timeout = 5 })
	mustPublish(t, s, "f", true)

	if err := s.CreateAlias(ctx, &stratus.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1",
		AdditionalVersionWeights: map[string]float64{"2": 0.5}, RevisionID: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1", "2"} {
		err := s.DeleteVersion(ctx, "f", v)
		requireCode(t, err, stratus.ECONFLICT)
		if msg := stratus.ErrorMessage(err); msg != "Unable to delete version because the following aliases reference it: [live]" {
			t.Errorf("conflict message = %q", msg)
		}
	}
	if _, err := s.UpdateAlias(ctx, "f", "live", func(a *stratus.Alias) error {
		a.AdditionalVersionWeights = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "f", "2"); err != nil {
		t.Fatalf("DeleteVersion(2): %v", err)
	}
	requireCode(t, s.DeleteVersion(ctx, "f", "2"), stratus.ENOTFOUND)
	_, err := s.Version(ctx, "f", "2")
	requireCode(t, err, stratus.ENOTFOUND)

	// Numbers are never reused, and publishing after deleting the newest
	// version creates a new one even though $LATEST did not change.
	if v := mustPublish(t, s, "f", true); v.Version != "3" || v.Timeout != 5 {
		t.Fatalf("publish after delete = %+v, want version 3", v)
	}
}

func TestDeleteFunctionDeletesVersionsAndAliases(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	if err := s.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, s, "f", true)
	if err := s.CreateAlias(ctx, &stratus.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	// The name starts afresh: no version 1, no alias, numbering from 1.
	if err := s.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Version(ctx, "f", "1"); stratus.ErrorCode(err) != stratus.ENOTFOUND {
		t.Fatalf("version 1 of the re-created function: %v", err)
	}
	if as, err := s.Aliases(ctx, "f"); err != nil || len(as) != 0 {
		t.Fatalf("aliases of the re-created function: %v, %v", as, err)
	}
	if v := mustPublish(t, s, "f", true); v.Version != "1" {
		t.Fatalf("first version of the re-created function = %s", v.Version)
	}
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	requireCode(t, s.CreateAlias(ctx, &stratus.Alias{FunctionName: "nope", Name: "a"}), stratus.ENOTFOUND)
	if err := s.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b", "a"} {
		if err := s.CreateAlias(ctx, &stratus.Alias{FunctionName: "f", Name: n, FunctionVersion: "$LATEST", RevisionID: n}); err != nil {
			t.Fatal(err)
		}
	}
	requireCode(t, s.CreateAlias(ctx, &stratus.Alias{FunctionName: "f", Name: "a", FunctionVersion: "$LATEST"}), stratus.ECONFLICT)
	as, err := s.Aliases(ctx, "f")
	if err != nil || len(as) != 2 || as[0].Name != "a" || as[1].Name != "b" {
		t.Fatalf("Aliases = %v, %v", as, err)
	}
	a, err := s.UpdateAlias(ctx, "f", "a", func(a *stratus.Alias) error {
		a.Description = "d"
		a.Name = "renamed" // restored by the store
		return nil
	})
	if err != nil || a.Description != "d" || a.Name != "a" {
		t.Fatalf("UpdateAlias = %+v, %v", a, err)
	}
	if got, _ := s.Alias(ctx, "f", "a"); got.Description != "d" {
		t.Fatalf("Alias after update = %+v", got)
	}
	_, err = s.UpdateAlias(ctx, "f", "zz", func(*stratus.Alias) error { return nil })
	requireCode(t, err, stratus.ENOTFOUND)
	if err := s.DeleteAlias(ctx, "f", "a"); err != nil {
		t.Fatal(err)
	}
	requireCode(t, s.DeleteAlias(ctx, "f", "a"), stratus.ENOTFOUND)
	_, err = s.Alias(ctx, "f", "a")
	requireCode(t, err, stratus.ENOTFOUND)
}

// TestConcurrentPublish: racing publishers of an unchanged $LATEST agree
// on one version; racing publishers of changes never share a number.
func TestConcurrentPublish(t *testing.T) {
	ctx := context.Background()
	js := natsdtest.Run(t).JetStream()
	a, b := MustOpen(t, js), MustOpen(t, js)
	if err := a.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error { _, err := b.Function(ctx, "f"); return err })

	var mu sync.Mutex
	got := map[string]string{} // version → revision
	var wg sync.WaitGroup
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			v, _, err := s.PublishVersion(ctx, "f", nil, stamp(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[v.Version] = v.RevisionID
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 1 || got["1"] == "" {
		t.Fatalf("publishers of one unchanged $LATEST got versions %v, want only 1", got)
	}

	clear(got)
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			v, created, err := s.PublishVersion(ctx, "f", func(f *stratus.Function) error {
				f.RevisionID = fmt.Sprintf("change-%d-%d", i, time.Now().UnixNano())
				return nil
			}, stamp(fmt.Sprint(i)))
			if err != nil || !created {
				t.Errorf("publish %d: created %v, %v", i, created, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if _, dup := got[v.Version]; dup {
				t.Errorf("version %s handed out twice", v.Version)
			}
			got[v.Version] = v.RevisionID
		})
	}
	wg.Wait()
	if len(got) != 8 {
		t.Fatalf("8 publishers of changes got versions %v", got)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		for _, s := range []*store.Store{a, b} {
			if vs, err := s.Versions(ctx, "f"); err != nil || len(vs) != 9 {
				return fmt.Errorf("Versions = %d, %v; want 9", len(vs), err)
			}
		}
		return nil
	})
}

func TestLayerVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natsdtest.RunDir(t, dir)
	s := MustOpen(t, srv.JetStream())
	code, err := s.PutCode(ctx, []byte("layer zip"))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"b", "a", "b", "b"} {
		lv, err := s.PublishLayerVersion(ctx, &stratus.LayerVersion{Name: name, Code: code, Description: fmt.Sprint(i),
			CompatibleRuntimes: []string{"python3.12"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int64{0: 1, 1: 1, 2: 2, 3: 3}[i]; lv.Version != want {
			t.Fatalf("publish %d of %s: version %d, want %d", i, name, lv.Version, want)
		}
	}
	all, err := s.LayerVersions(ctx)
	if err != nil || len(all) != 4 || all[0].Name != "a" || all[1].Name != "b" || all[1].Version != 3 || all[3].Version != 1 {
		t.Fatalf("LayerVersions = %v, %v", all, err)
	}
	if err := s.DeleteLayerVersion(ctx, "b", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLayerVersion(ctx, "b", 3); err != nil {
		t.Fatalf("deleting a deleted layer version: %v", err)
	}
	_, err = s.LayerVersion(ctx, "b", 3)
	requireCode(t, err, stratus.ENOTFOUND)
	// Numbers are not reused, and the package stays for functions using it.
	lv, err := s.PublishLayerVersion(ctx, &stratus.LayerVersion{Name: "b", Code: code})
	if err != nil || lv.Version != 4 {
		t.Fatalf("publish after delete = %+v, %v", lv, err)
	}
	if b, err := s.GetCode(ctx, code.Key); err != nil || string(b) != "layer zip" {
		t.Fatalf("layer package after delete: %q, %v", b, err)
	}

	// Everything survives a restart.
	s.Close()
	srv.Shutdown()
	s2 := MustOpen(t, natsdtest.RunDir(t, dir).JetStream())
	if got, err := s2.LayerVersion(ctx, "b", 2); err != nil || got.Description != "2" || got.CompatibleRuntimes[0] != "python3.12" {
		t.Fatalf("after restart LayerVersion(b, 2) = %+v, %v", got, err)
	}
	if lv, err := s2.PublishLayerVersion(ctx, &stratus.LayerVersion{Name: "b", Code: code}); err != nil || lv.Version != 5 {
		t.Fatalf("publish after restart = %+v, %v", lv, err)
	}
}

func TestVersionsPersistAndWatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natsdtest.RunDir(t, dir)
	js := srv.JetStream()
	a, b := MustOpen(t, js), MustOpen(t, js)
	if err := a.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, a, "f", true)
	if err := a.CreateAlias(ctx, &stratus.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	// Node b sees what node a wrote.
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if _, err := b.Version(ctx, "f", "1"); err != nil {
			return err
		}
		_, err := b.Alias(ctx, "f", "live")
		return err
	})
	a.Close()
	b.Close()
	srv.Shutdown()

	s := MustOpen(t, natsdtest.RunDir(t, dir).JetStream())
	if v, err := s.Version(ctx, "f", "1"); err != nil || v.Version != "1" {
		t.Fatalf("after restart Version = %+v, %v", v, err)
	}
	if al, err := s.Alias(ctx, "f", "live"); err != nil || al.FunctionVersion != "1" {
		t.Fatalf("after restart Alias = %+v, %v", al, err)
	}
	if latest, _ := s.Function(ctx, "f"); latest.LastPublished != 1 {
		t.Fatalf("after restart LastPublished = %d", latest.LastPublished)
	}
}
