package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestDebugListener(t *testing.T) {
	if _, err := parseServerFlags([]string{"--debug-listen", "nohost"}, nil); err == nil || !strings.Contains(err.Error(), "--debug-listen") {
		t.Fatalf("bad --debug-listen not reported: %v", err)
	}
	c, err := parseServerFlags(nil, []string{"STRATUS_DEBUG_LISTEN=127.0.0.1:0"})
	if err != nil || c.DebugListen != "127.0.0.1:0" {
		t.Fatalf("STRATUS_DEBUG_LISTEN: %q %v", c.DebugListen, err)
	}
	url, stop, err := serveDebug(c.DebugListen, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get(url + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.100q", resp.StatusCode, body)
	}
}
