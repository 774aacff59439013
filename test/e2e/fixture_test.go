package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// zipEntry is one file of a deployment package built by makeZip.
type zipEntry struct {
	Name string
	// Mode is the file mode; fs.ModeSymlink makes Data the link target.
	Mode fs.FileMode
	Data []byte
	// Store skips compression (for incompressible data).
	Store bool
}

// makeZip builds a zip archive from entries, in order, names verbatim (so
// that tests can build hostile archives).
func makeZip(entries ...zipEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		if e.Store || e.Mode&fs.ModeSymlink != 0 {
			h.Method = zip.Store
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mustZip is makeZip for tests.
func mustZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	b, err := makeZip(entries...)
	if err != nil {
		t.Fatalf("building zip: %v", err)
	}
	return b
}

// mustFixtureZip returns the test function's deployment package.
func mustFixtureZip(t testing.TB) []byte {
	t.Helper()
	if fixtureErr != nil {
		t.Fatalf("building the test function (test/fixtures/gofn): %v", fixtureErr)
	}
	return fixtureZip
}

// mustFixtureZipWith returns the test function's package plus extra files
// next to bootstrap in /var/task.
func mustFixtureZipWith(t testing.TB, extra ...zipEntry) []byte {
	t.Helper()
	mustFixtureZip(t)
	entries := append([]zipEntry{{Name: "bootstrap", Mode: 0o755, Data: fixtureBootstrap}}, extra...)
	return mustZip(t, entries...)
}

// tinyZip is a valid but minimal provided-runtime package (a shell script
// bootstrap), for tests that create many functions and never invoke them.
func tinyZip(t testing.TB) []byte {
	t.Helper()
	return mustZip(t, zipEntry{Name: "bootstrap", Mode: 0o755, Data: []byte("#!/bin/sh\necho never invoked\nexit 1\n")})
}

// codeSha256 is CodeSha256 as AWS reports it: base64 of the zip's SHA-256.
func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// writeTempFile writes data to a new file in a test temp dir and returns
// its path.
func writeTempFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Event is the test function's input; Action selects what it does (see
// test/fixtures/gofn).
type Event struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	MS      int    `json:"ms,omitempty"`
	MB      int    `json:"mb,omitempty"`
	Path    string `json:"path,omitempty"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content,omitempty"`
	Bytes   int    `json:"bytes,omitempty"`
	Lines   int    `json:"lines,omitempty"`
	Marker  string `json:"marker,omitempty"`
	Code    int    `json:"code,omitempty"`
	Max     int    `json:"max,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// envResult is what the "env" action returns.
type envResult struct {
	Env                map[string]string `json:"env"`
	Instance           string            `json:"instance"`
	Invocations        int               `json:"invocations"`
	UID                int               `json:"uid"`
	EUID               int               `json:"euid"`
	GID                int               `json:"gid"`
	Pid                int               `json:"pid"`
	NowMs              int64             `json:"nowMs"`
	LcFunctionName     string            `json:"lcFunctionName"`
	LcFunctionVersion  string            `json:"lcFunctionVersion"`
	LcMemoryLimitInMB  int               `json:"lcMemoryLimitInMB"`
	LcLogGroupName     string            `json:"lcLogGroupName"`
	LcLogStreamName    string            `json:"lcLogStreamName"`
	TraceID            string            `json:"traceId"`
	RequestID          string            `json:"requestId"`
	InvokedFunctionArn string            `json:"invokedFunctionArn"`
	DeadlineMs         int64             `json:"deadlineMs"`
	Hostname           string            `json:"hostname"`
	Cwd                string            `json:"cwd"`
}

// opResult is what the file-system and system-call actions return.
type opResult struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error"`
	Errno   string   `json:"errno"`
	Content string   `json:"content"`
	Names   []string `json:"names"`
}

// sleepResult is what the "sleep" action returns.
type sleepResult struct {
	Instance  string `json:"instance"`
	Pid       int    `json:"pid"`
	StartNano int64  `json:"startNano"`
	EndNano   int64  `json:"endNano"`
}

// functionError is the body of an invoke that failed inside the function.
type functionError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
	StackTrace   []any  `json:"stackTrace"`
}
