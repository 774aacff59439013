// Command stratus runs the Stratus serverless platform (stratus server) and
// talks to it (stratus logs, ...).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stratus-dev/stratus/internal/sandbox"
)

func main() {
	sandbox.Init() // returns at once unless this process is a sandbox shim
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ()))
}

const usage = `Stratus: a self-hosted serverless platform that speaks AWS's contracts.

Usage:
  stratus server [flags]          run the platform (see stratus server -h)
  stratus logs NAME [--follow]    print a function's logs
  stratus status                  print environments, concurrency and provisioned readiness
  stratus version                 print the version

`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(ctx context.Context, args, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], environ)
	case "logs":
		return runLogs(ctx, args[1:], environ)
	case "status":
		return runStatus(ctx, args[1:], environ)
	case "version", "--version", "-v":
		fmt.Println("stratus", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "stratus: unknown command %q\n\n%s", args[0], usage)
	return 2
}
