package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/natsd/natsdtest"
	"github.com/stratus-dev/stratus/internal/store"
)

// MustOpen opens a Store on js and closes it in t.Cleanup.
func MustOpen(t testing.TB, js jetstream.JetStream) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.Open(ctx, js, store.DefaultConfig())
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newFunction(name string) *stratus.Function {
	return &stratus.Function{
		Name: name, Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r",
		Handler: "bootstrap", MemorySize: 128, Timeout: 3, EphemeralStorage: 512,
		Architectures: []string{"x86_64"}, PackageType: "Zip",
		Environment: map[string]string{"A": "1"},
	}
}

// checkFor calls f every interval until it returns nil or total passes.
func checkFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(interval)
	}
}

func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := stratus.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := store.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	err := store.Config{}.Validate()
	for _, w := range []string{"FunctionsBucket", "CodeBucket", "Replicas", "History", "MaxUpdateRetries"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate(zero) = %v, want mention of %s", err, w)
		}
	}
}

func TestFunctionCRUD(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())

	if err := s.CreateFunction(ctx, newFunction("b")); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if err := s.CreateFunction(ctx, newFunction("a")); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	err := s.CreateFunction(ctx, newFunction("a"))
	requireCode(t, err, stratus.ECONFLICT)
	if msg := stratus.ErrorMessage(err); msg != "Function already exist: a" {
		t.Errorf("conflict message = %q", msg)
	}
	requireCode(t, s.CreateFunction(ctx, newFunction("bad.name")), stratus.EINVALID)

	fn, err := s.Function(ctx, "a")
	if err != nil || fn.Version != stratus.LatestVersion || fn.Environment["A"] != "1" {
		t.Fatalf("Function = %+v, %v", fn, err)
	}
	fn.Environment["A"] = "mutated" // must not leak into the cache
	fn.Architectures[0] = "mutated"
	if again, _ := s.Function(ctx, "a"); again.Environment["A"] != "1" || again.Architectures[0] != "x86_64" {
		t.Fatalf("cache was mutated through a returned copy: %+v", again)
	}
	fns, err := s.Functions(ctx)
	if err != nil || len(fns) != 2 || fns[0].Name != "a" || fns[1].Name != "b" {
		t.Fatalf("Functions = %v, %v", fns, err)
	}

	got, err := s.UpdateFunction(ctx, "a", func(f *stratus.Function) error {
		f.MemorySize = 256
		f.Name = "renamed" // restored by the store
		return nil
	})
	if err != nil || got.MemorySize != 256 || got.Name != "a" {
		t.Fatalf("UpdateFunction = %+v, %v", got, err)
	}
	sentinel := errors.New("no thanks")
	if _, err := s.UpdateFunction(ctx, "a", func(*stratus.Function) error { return sentinel }); err != sentinel {
		t.Fatalf("update error = %v, want the update's own error", err)
	}
	_, err = s.UpdateFunction(ctx, "nope", func(*stratus.Function) error { return nil })
	requireCode(t, err, stratus.ENOTFOUND)

	if err := s.DeleteFunction(ctx, "a"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	err = s.DeleteFunction(ctx, "a")
	requireCode(t, err, stratus.ENOTFOUND)
	if msg := stratus.ErrorMessage(err); msg != "Function not found: a" {
		t.Errorf("not found message = %q", msg)
	}
	_, err = s.Function(ctx, "a")
	requireCode(t, err, stratus.ENOTFOUND)
	// A deleted name can be created again.
	if err := s.CreateFunction(ctx, newFunction("a")); err != nil {
		t.Fatalf("re-creating: %v", err)
	}
	if fn, err := s.Function(ctx, "a"); err != nil || fn.MemorySize != 128 {
		t.Fatalf("re-created = %+v, %v", fn, err)
	}
}

func TestUpdateFunctionConcurrent(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	if err := s.CreateFunction(ctx, newFunction("f")); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := s.UpdateFunction(ctx, "f", func(f *stratus.Function) error {
					f.Timeout++
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateFunction: %v", err)
	}
	fn, err := s.Function(ctx, "f")
	if err != nil || fn.Timeout != 3+workers*each {
		t.Fatalf("Timeout = %d (%v), want %d: lost updates", fn.Timeout, err, 3+workers*each)
	}
}

func TestReadOwnWrites(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("f%d", i%3)
		if err := s.CreateFunction(ctx, newFunction(name)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if _, err := s.Function(ctx, name); err != nil {
			t.Fatalf("read after create %s: %v", name, err)
		}
		if _, err := s.UpdateFunction(ctx, name, func(f *stratus.Function) error { f.Timeout = i; return nil }); err != nil {
			t.Fatal(err)
		}
		if fn, _ := s.Function(ctx, name); fn == nil || fn.Timeout != i {
			t.Fatalf("read after update %s: %+v", name, fn)
		}
		if err := s.DeleteFunction(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Function(ctx, name); stratus.ErrorCode(err) != stratus.ENOTFOUND {
			t.Fatalf("read after delete %s: %v", name, err)
		}
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natsdtest.RunDir(t, dir)
	s := MustOpen(t, srv.JetStream())
	for _, n := range []string{"x", "y", "z"} {
		if err := s.CreateFunction(ctx, newFunction(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFunction(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	code, err := s.PutCode(ctx, []byte("zip bytes"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	srv.Shutdown()

	s2 := MustOpen(t, natsdtest.RunDir(t, dir).JetStream())
	fns, err := s2.Functions(ctx)
	if err != nil || len(fns) != 2 || fns[0].Name != "x" || fns[1].Name != "z" {
		t.Fatalf("after restart Functions = %v, %v", fns, err)
	}
	if b, err := s2.GetCode(ctx, code.Key); err != nil || string(b) != "zip bytes" {
		t.Fatalf("after restart GetCode = %q, %v", b, err)
	}
}

// TestWatch uses two Stores on one server as two nodes sharing JetStream.
func TestWatch(t *testing.T) {
	ctx := context.Background()
	js := natsdtest.Run(t).JetStream()
	a, b := MustOpen(t, js), MustOpen(t, js)

	type event struct {
		name    string
		timeout int
		deleted bool
	}
	var mu sync.Mutex
	var seenA, seenB []event
	record := func(dst *[]event) func(*stratus.Function, bool) {
		return func(f *stratus.Function, deleted bool) {
			mu.Lock()
			defer mu.Unlock()
			*dst = append(*dst, event{f.Name, f.Timeout, deleted})
		}
	}
	a.WatchFunctions(record(&seenA))
	cancelB := b.WatchFunctions(record(&seenB))

	if err := a.CreateFunction(ctx, newFunction("w")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateFunction(ctx, "w", func(f *stratus.Function) error { f.Timeout = 9; return nil }); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if fn, err := b.Function(ctx, "w"); err != nil || fn.Timeout != 9 {
			return fmt.Errorf("node b sees %+v, %v", fn, err)
		}
		return nil
	})
	if err := b.DeleteFunction(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if _, err := a.Function(ctx, "w"); stratus.ErrorCode(err) != stratus.ENOTFOUND {
			return fmt.Errorf("node a still sees w: %v", err)
		}
		return nil
	})
	want := []event{{"w", 3, false}, {"w", 9, false}, {"w", 9, true}}
	for _, seen := range []*[]event{&seenA, &seenB} {
		checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(*seen) != fmt.Sprint(want) {
				return fmt.Errorf("callbacks = %v, want %v", *seen, want)
			}
			return nil
		})
	}
	cancelB()
	if err := a.CreateFunction(ctx, newFunction("v")); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		_, err := b.Function(ctx, "v")
		return err
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seenB) != len(want) {
		t.Errorf("callback ran after unsubscribing: %v", seenB)
	}
}

func TestCodeDedupe(t *testing.T) {
	ctx := context.Background()
	js := natsdtest.Run(t).JetStream()
	s := MustOpen(t, js)
	zip := []byte("PK\x03\x04 pretend zip")
	c1, err := s.PutCode(ctx, zip)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zip)
	if c1.Sha256 != base64.StdEncoding.EncodeToString(sum[:]) || c1.Size != int64(len(zip)) || len(c1.Key) != 64 {
		t.Fatalf("Code = %+v", c1)
	}
	obs, err := js.ObjectStore(ctx, "stratus_code")
	if err != nil {
		t.Fatal(err)
	}
	before, err := obs.GetInfo(ctx, c1.Key)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.PutCode(ctx, zip)
	if err != nil || c2 != c1 {
		t.Fatalf("second PutCode = %+v, %v", c2, err)
	}
	after, _ := obs.GetInfo(ctx, c1.Key)
	if after.NUID != before.NUID {
		t.Errorf("identical code uploaded twice (NUID %s -> %s)", before.NUID, after.NUID)
	}
	_, err = s.GetCode(ctx, strings.Repeat("0", 64))
	requireCode(t, err, stratus.ENOTFOUND)
	_, err = s.GetCode(ctx, "../etc")
	requireCode(t, err, stratus.ENOTFOUND)
}

func TestLargeCode(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, natsdtest.Run(t).JetStream())
	zip := make([]byte, 10<<20)
	rand.Read(zip)
	start := time.Now()
	code, err := s.PutCode(ctx, zip)
	if err != nil {
		t.Fatal(err)
	}
	put := time.Since(start)
	start = time.Now()
	got, err := s.GetCode(ctx, code.Key)
	if err != nil || !bytes.Equal(got, zip) {
		t.Fatalf("GetCode: %d bytes, %v", len(got), err)
	}
	t.Logf("10 MB code: put %s, get %s", put, time.Since(start))
}
