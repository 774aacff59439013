// Package runtimes ships Stratus's own Runtime API clients for the managed
// runtimes inside the binary: plain standard-library Python and Node.js
// programs that load a function's handler and serve the Lambda Runtime API,
// as AWS's python3.x and nodejs*.x runtimes do.
//
// The router writes FS to a directory at start-up and shows it read-only at
// /var/runtime in every managed-runtime environment:
//
//	/var/runtime/python/bootstrap.py          python3.x entry point
//	/var/runtime/python/_stratus_runtime.py   the Python client
//	/var/runtime/node/bootstrap.cjs           nodejs*.x entry point and client
//
// Tests of the clients' behaviour live next to them (python/test_*.py,
// node/test_*.cjs) and are not shipped.
package runtimes

import (
	"embed"
	"io/fs"
)

// Paths of the entry points inside FS (and below /var/runtime).
const (
	PythonBootstrap = "python/bootstrap.py"
	NodeBootstrap   = "node/bootstrap.cjs"
)

//go:embed python/bootstrap.py python/_stratus_runtime.py node/bootstrap.cjs
var files embed.FS

// FS returns the clients' files, read-only.
func FS() fs.FS { return files }
