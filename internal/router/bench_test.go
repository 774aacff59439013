package router_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/router"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

var (
	gofnOnce sync.Once
	gofnZip  []byte
	gofnErr  error
)

// gofnPackage builds test/fixtures/gofn as a static bootstrap and zips it.
func gofnPackage(b *testing.B) []byte {
	gofnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "router-bench-")
		if err != nil {
			gofnErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../../test/fixtures/gofn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			gofnErr = err
			b.Logf("%s", out)
			return
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			gofnErr = err
			return
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		_, _ = w.Write(data)
		_ = zw.Close()
		gofnZip = buf.Bytes()
	})
	if gofnErr != nil {
		b.Fatalf("building the test function: %v", gofnErr)
	}
	return gofnZip
}

// linuxRouter returns a router on the linux driver (needs root) with the
// test function "f" deployed.
func linuxRouter(b *testing.B, freezeDelay time.Duration) *router.Router {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("the linux sandbox needs root")
	}
	lcfg := sandbox.DefaultLinuxConfig()
	lcfg.RunDir = filepath.Join(b.TempDir(), "run")
	lcfg.CgroupName = "stratus-router-bench"
	lcfg.UIDBase = 300000
	d, err := sandbox.NewLinux(lcfg)
	if err != nil {
		b.Skipf("no linux sandbox: %v", err)
	}
	b.Cleanup(func() { _ = d.Close() })
	fns := &fakeFunctions{fns: map[string]*stratus.Function{}, code: map[string][]byte{}}
	code, _ := fns.PutCode(context.Background(), gofnPackage(b))
	_ = fns.CreateFunction(context.Background(), &stratus.Function{
		Name: "f", Version: stratus.LatestVersion, Runtime: "provided.al2023", MemorySize: 1769, Timeout: 10,
		EphemeralStorage: 512, Code: code, RevisionID: "r1",
	})
	cfg := router.DefaultConfig()
	cfg.CodeDir = b.TempDir()
	cfg.FreezeDelay = freezeDelay
	r, err := router.New(cfg, fns, d, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	return r
}

func warmInvoke(b *testing.B, r *router.Router) {
	resp, err := r.Invoke(context.Background(), &stratus.InvokeRequest{FunctionName: "f", Payload: []byte(`{"action":"echo"}`)})
	if err != nil || resp.FunctionError != "" {
		b.Fatalf("invoke: %v %+v", err, resp)
	}
}

// frozen waits until r's one environment is frozen.
func frozen(b *testing.B, r *router.Router) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := r.Status(context.Background())
		if st.Environments["frozen"] == 1 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("environment not frozen: %v", st.Environments)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkWarmInvoke measures a warm synchronous invoke of a Go function
// in a linux sandbox (1,769 MB: one full CPU), and what freezing costs it:
//
//	never-frozen:  freezing disabled (the floor)
//	back-to-back:  the default 10 ms freeze delay with invokes back to back: never frozen
//	thaw:          every invoke finds its environment frozen and thaws it first
//	freeze+thaw:   the freezer operations alone (freeze-ns/op, thaw-ns/op); freezing
//	               happens off the invocation's path, once the delay has passed
func BenchmarkWarmInvoke(b *testing.B) {
	for _, bc := range []struct {
		name       string
		delay      time.Duration
		waitFrozen bool
	}{
		{"never-frozen", time.Hour, false},
		{"back-to-back", 10 * time.Millisecond, false},
		{"thaw", 0, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := linuxRouter(b, bc.delay)
			warmInvoke(b, r) // cold start
			b.ResetTimer()
			for b.Loop() {
				if bc.waitFrozen {
					b.StopTimer()
					frozen(b, r)
					b.StartTimer()
				}
				warmInvoke(b, r)
			}
		})
	}
	b.Run("freeze+thaw", func(b *testing.B) {
		r := linuxRouter(b, time.Hour)
		warmInvoke(b, r)
		var freeze, thaw time.Duration
		for b.Loop() {
			f, t, err := router.FreezeThaw(r)
			if err != nil {
				b.Fatal(err)
			}
			freeze += f
			thaw += t
		}
		b.ReportMetric(float64(freeze.Nanoseconds())/float64(b.N), "freeze-ns/op")
		b.ReportMetric(float64(thaw.Nanoseconds())/float64(b.N), "thaw-ns/op")
	})
}
