package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Built once per test binary by TestMain.
var (
	// stratusBin is the server binary built from ./cmd/stratus.
	stratusBin      string
	stratusBuildErr error

	// fixtureBootstrap is the test function (test/fixtures/gofn) built as a
	// static linux/amd64 binary; fixtureZip is it alone, zipped as
	// "bootstrap" with mode 0755.
	fixtureBootstrap []byte
	fixtureZip       []byte
	fixtureErr       error
)

// defaultParallel is how many tests run at once unless -parallel is given:
// the tests mostly wait on the server, so more than GOMAXPROCS (2 in CI)
// keeps the package's wall time down.
const defaultParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	setDefaultParallel(defaultParallel)

	dir, err := os.MkdirTemp("", "stratus-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	statSources(root)

	var wg sync.WaitGroup
	wg.Go(func() {
		stratusBin = filepath.Join(dir, "stratus")
		stratusBuildErr = goBuild(root, nil, "-o", stratusBin, "./cmd/stratus")
	})
	wg.Go(func() {
		fixtureBootstrap, fixtureZip, fixtureErr = buildFixture(root, dir)
	})
	wg.Wait()

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setDefaultParallel sets -test.parallel to n unless the user gave it.
func setDefaultParallel(n int) {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// statSources stats every Go source and module file of the module, so that
// `go test`'s result cache notices when the server (which this package
// builds but does not import) changes.
func statSources(root string) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if n := d.Name(); strings.HasSuffix(n, ".go") || n == "go.mod" || n == "go.sum" || strings.HasSuffix(n, ".py") || strings.HasSuffix(n, ".js") || strings.HasSuffix(n, ".cjs") {
			_, _ = os.Stat(p)
		}
		return nil
	})
}

// goBuild runs `go build args...` in the module root.
func goBuild(root string, env []string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// buildFixture builds test/fixtures/gofn as a static linux/amd64
// `bootstrap` and zips it.
func buildFixture(root, dir string) (bootstrap, zipped []byte, err error) {
	out := filepath.Join(dir, "bootstrap")
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}
	if err := goBuild(root, env, "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", out, "./test/fixtures/gofn"); err != nil {
		return nil, nil, err
	}
	bootstrap, err = os.ReadFile(out)
	if err != nil {
		return nil, nil, err
	}
	zipped, err = makeZip(zipEntry{Name: "bootstrap", Mode: 0o755, Data: bootstrap})
	return bootstrap, zipped, err
}
