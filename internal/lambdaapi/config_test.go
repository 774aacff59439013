package lambdaapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestConfigurationGolden pins the FunctionConfiguration wire shape:
// member names, order, formats and defaults (reference §2.3).
func TestConfigurationGolden(t *testing.T) {
	h := newEnv(t).h
	base := stratus.Function{
		Name:             "my-function",
		Version:          stratus.LatestVersion,
		Runtime:          "provided.al2023",
		Role:             testRole,
		MemorySize:       128,
		Timeout:          3,
		EphemeralStorage: 512,
		Architectures:    []string{"x86_64"},
		PackageType:      "Zip",
		Code:             stratus.Code{Key: "4ab3", Sha256: "SrO+nTOA+N9PUaCaPELvWFqRXsqPDwjV5H8H/WnNmF4=", Size: 148},
		RevisionID:       "0d3e1f5c-2b8a-4c1e-9f5a-1b2c3d4e5f60",
		LastModified:     time.Date(2020, 4, 10, 19, 6, 32, 563_000_000, time.FixedZone("CEST", 7200)),
	}
	full := base
	full.Handler = "bootstrap.handler"
	full.Description = "does things"
	full.MemorySize, full.Timeout, full.EphemeralStorage = 1024, 30, 2048
	full.Environment = map[string]string{"B": "2", "A": "1"}
	full.TracingMode = "Active"
	full.Tags = map[string]string{"team": "x"} // tags are not part of the configuration
	for _, tc := range []struct {
		name string
		fn   stratus.Function
	}{
		{"minimal", base},
		{"full", full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(h.Configuration(&tc.fn), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "configuration-"+tc.name+".json"), got)
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", path, got, want)
	}
}
