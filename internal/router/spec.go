package router

import (
	"context"
	"sort"
	"strconv"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// sandboxSpec describes the sandbox of a new environment of fn whose code
// is unpacked in codeDir: what to run (the package's bootstrap, or a
// managed runtime's interpreter and client, see managed.go), its
// environment and its limits.
func (r *Router) sandboxSpec(fn *stratus.Function, codeDir, id, stream string) sandbox.Spec {
	l := r.launchOf(fn)
	return sandbox.Spec{
		ID:         id,
		CodeDir:    codeDir,
		OptDir:     r.optDir(fn),
		RuntimeDir: l.runtimeDir,
		Args:       l.args,
		Env:        r.environ(fn, stream, l.env),
		MemoryMB:   fn.MemorySize,
		TmpMB:      fn.EphemeralStorage,
		CPUMillis:  1000, // a full CPU while initialising, as Lambda gives
		PidsMax:    r.cfg.PidsMax,
	}
}

// environ builds the process environment of reference §3.6, plus the
// runtime's own variables (AWS_EXECUTION_ENV, PYTHONPATH, NODE_PATH).
// Customer variables may override the non-reserved defaults (TZ, LANG,
// PATH, NODE_PATH, ...); reserved names were rejected when the
// configuration was stored.
func (r *Router) environ(fn *stratus.Function, stream string, runtimeEnv map[string]string) []string {
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      r.cfg.Region,
		"AWS_DEFAULT_REGION":              r.cfg.Region,
		"AWS_ACCESS_KEY_ID":               "stratus",
		"AWS_SECRET_ACCESS_KEY":           "stratus",
		"_HANDLER":                        fn.Handler,
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":                 "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"AWS_XRAY_CONTEXT_MISSING":        "LOG_ERROR",
	}
	for k, v := range runtimeEnv {
		vars[k] = v
	}
	for k, v := range fn.Environment {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// optDir is the merged directory of fn's layers shown at /opt, "" when
// it has none. resolve has built it; should it not have, it is built
// here, and a failure leaves /opt empty (and is logged) rather than
// failing the start.
func (r *Router) optDir(fn *stratus.Function) string {
	if len(fn.Layers) == 0 {
		return ""
	}
	if d := r.code.optPath(fn.Layers); d != "" {
		return d
	}
	d, err := r.code.optDir(context.Background(), fn.Layers)
	if err != nil {
		r.log.Error("preparing layers", "function", fn.Name, "version", fn.Version, "err", err)
		return ""
	}
	return d
}
