package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stratus-dev/stratus/internal/logs"
)

// runLogs prints a function's log through the CloudWatch Logs API of a
// running server, like `aws logs tail`.
func runLogs(ctx context.Context, args, environ []string) int {
	fs := flag.NewFlagSet("stratus logs", flag.ContinueOnError)
	endpoint := fs.String("endpoint", envOr(environ, "STRATUS_ENDPOINT", "http://127.0.0.1:4566"), "server URL (STRATUS_ENDPOINT)")
	follow := fs.Bool("follow", false, "keep printing new log lines")
	since := fs.Duration("since", 0, "only lines newer than this (e.g. 10m); 0 means all")
	// Accept flags before or after the function name.
	var name string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if name != "" {
				fmt.Fprintln(os.Stderr, "stratus logs: one function name expected")
				return 2
			}
			name, rest = rest[0], rest[1:]
		}
	}
	if name == "" {
		fmt.Fprintln(os.Stderr, "usage: stratus logs NAME [--follow] [--since DURATION] [--endpoint URL]")
		return 2
	}
	group := name
	if !strings.HasPrefix(group, "/") {
		group = "/aws/lambda/" + name
	}
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
	}
	c := &logs.Client{Endpoint: *endpoint}
	if err := logs.Tail(ctx, c, group, from, *follow, os.Stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "stratus logs: %v\n", err)
		return 1
	}
	return 0
}

func envOr(environ []string, key, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return def
}
