// Package lambdaapi serves the AWS Lambda API (rest-json protocol, signing
// name "lambda"): the control plane for functions, versions, aliases,
// layers and tags, account settings, and the Invoke data plane.
//
// The handler speaks AWS's wire formats exactly — paths, status codes,
// headers, JSON member names, error codes and messages — and reaches
// functions only through stratus.FunctionService (with its optional
// stratus.VersionService and stratus.LayerService, found by type
// assertion) and stratus.Invoker. Every response, success or error,
// carries an x-amzn-RequestId header.
//
// Operations not implemented yet (function URLs, policies, streaming invoke...) get
// 404 UnknownOperationException, so a client fails fast instead of
// retrying. Settings that would be stored but could not take effect are
// rejected with InvalidParameterValueException (DESIGN principle 4).
package lambdaapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

// CodePathPrefix is where the handler serves deployment packages: GetFunction
// returns Code.Location as http://<host>/_stratus/code/<key>.zip.
const CodePathPrefix = "/_stratus/code/"

// Config configures a Handler.
type Config struct {
	Region    string // e.g. "us-east-1"
	AccountID string // 12 digits
	// HostArch is "x86_64" or "arm64": the architecture functions run on.
	// Functions asking for another one are rejected, and it is the default
	// of Architectures.
	HostArch string
	// Limits bound deployment packages; zero fields take pkgzip's defaults.
	Limits pkgzip.Limits
	// AccountConcurrency is reported by GetAccountSettings as
	// ConcurrentExecutions; zero means 1000.
	AccountConcurrency int
	// Concurrency stores reserved and provisioned concurrency settings;
	// nil makes those operations fail as unsupported.
	Concurrency stratus.ConcurrencyService
	// Async queues Event invocations and EventInvokeConfigs stores their
	// configurations; nil refuses Event invokes and those operations.
	Async              stratus.AsyncInvoker
	EventInvokeConfigs stratus.EventInvokeConfigService
	// RuntimeVersion reports the version of the interpreter that runs
	// functions of a managed runtime ("" if none or unknown); it becomes
	// RuntimeVersionConfig. nil omits RuntimeVersionConfig.
	RuntimeVersion func(runtime string) string
	// EventSourceMappings stores and runs event source mappings; nil
	// makes those operations fail as unsupported.
	EventSourceMappings stratus.EventSourceMappingService
	// Logger receives 5xx errors; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the defaults of DESIGN.md: us-east-1, account
// 000000000000, the architecture of this process, AWS's package limits.
func DefaultConfig() Config {
	return Config{
		Region:             "us-east-1",
		AccountID:          "000000000000",
		HostArch:           hostArch(),
		Limits:             pkgzip.DefaultLimits(),
		AccountConcurrency: 1000,
	}
}

func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if !isRegion(c.Region) {
		errs = append(errs, fmt.Errorf("lambdaapi: Region %q is not a region name like us-east-1", c.Region))
	}
	if !isAccountID(c.AccountID) {
		errs = append(errs, fmt.Errorf("lambdaapi: AccountID %q is not 12 digits", c.AccountID))
	}
	if c.HostArch != "x86_64" && c.HostArch != "arm64" {
		errs = append(errs, fmt.Errorf("lambdaapi: HostArch %q is not x86_64 or arm64", c.HostArch))
	}
	if c.AccountConcurrency < 0 {
		errs = append(errs, fmt.Errorf("lambdaapi: AccountConcurrency %d is negative", c.AccountConcurrency))
	}
	return errors.Join(errs...)
}

// Handler serves the Lambda API. Create it with New.
type Handler struct {
	cfg    Config
	fns    stratus.FunctionService
	inv    stratus.Invoker
	routes []route
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler. Empty fields of cfg take their DefaultConfig
// values; cfg should have passed Validate.
func New(cfg Config, fns stratus.FunctionService, inv stratus.Invoker) *Handler {
	d := DefaultConfig()
	if cfg.Region == "" {
		cfg.Region = d.Region
	}
	if cfg.AccountID == "" {
		cfg.AccountID = d.AccountID
	}
	if cfg.HostArch == "" {
		cfg.HostArch = d.HostArch
	}
	if cfg.AccountConcurrency == 0 {
		cfg.AccountConcurrency = d.AccountConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, fns: fns, inv: inv}
	h.routes = h.functionRoutes()
	h.routes = append(h.routes, h.eventInvokeConfigRoutes()...)
	h.routes = append(h.routes, h.versioningRoutes()...)
	h.routes = append(h.routes, h.concurrencyRoutes()...)
	h.routes = append(h.routes, h.esmRoutes()...)
	return h
}

// apiVersions are the first path segments of Lambda API operations.
var apiVersions = map[string]bool{
	"2014-11-13": true, "2015-03-31": true, "2016-08-19": true,
	"2017-03-31": true, "2017-10-31": true, "2018-10-31": true,
	"2019-09-25": true, "2019-09-30": true, "2021-10-31": true,
	"2021-11-15": true,
}

// Match reports whether r is for this handler: a path under one of the
// Lambda API's date prefixes (/2015-03-31/, /2016-08-19/, ...) or under
// CodePathPrefix.
func Match(r *http.Request) bool {
	p := r.URL.Path
	if strings.HasPrefix(p, CodePathPrefix) {
		return true
	}
	if len(p) < 12 || p[0] != '/' || p[11] != '/' {
		return false
	}
	return apiVersions[p[1:11]]
}

// ServeHTTP dispatches on method and path. The path is split on its
// escaped form, so a FunctionName or ARN may contain percent-encoded
// colons and slashes; path parameters reach operations still escaped.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	if strings.HasPrefix(p, CodePathPrefix) {
		setRequestID(w, awsapi.NewRequestID())
		h.getCode(w, r, p[len(CodePathPrefix):])
		return
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for _, rt := range h.routes {
		args, ok := rt.match(r.Method, segs)
		if !ok {
			continue
		}
		if rt.raw != nil {
			rt.raw(w, r, args) // sets its own request id
			return
		}
		setRequestID(w, awsapi.NewRequestID())
		if err := rt.op(w, r, args); err != nil {
			h.writeError(w, r, err)
		}
		return
	}
	setRequestID(w, awsapi.NewRequestID())
	writeUnknownOperation(w, r)
}

// route maps a method and a path pattern to an operation. In the pattern,
// segments separated by "/" match literally, except "*", which matches any
// one non-empty segment and becomes the next element of args.
type route struct {
	method  string
	pattern string
	op      func(w http.ResponseWriter, r *http.Request, args []string) error
	raw     func(w http.ResponseWriter, r *http.Request, args []string) // writes its own request id and errors
}

func (rt route) match(method string, segs []string) ([]string, bool) {
	if method != rt.method {
		return nil, false
	}
	var args []string
	pat := rt.pattern
	for i := 0; ; i++ { // walks the pattern without splitting it: every request tries many routes
		ps, rest, more := strings.Cut(pat, "/")
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case ps == "*" && segs[i] != "":
			args = append(args, segs[i])
		case ps != segs[i]:
			return nil, false
		}
		if !more {
			if i != len(segs)-1 {
				return nil, false
			}
			return args, true
		}
		pat = rest
	}
}

// one adapts an operation with one path parameter (or none) to a route.
func one(op operation) func(w http.ResponseWriter, r *http.Request, args []string) error {
	return func(w http.ResponseWriter, r *http.Request, args []string) error {
		arg := ""
		if len(args) > 0 {
			arg = args[0]
		}
		return op(w, r, arg)
	}
}

// functionRoutes are the operations on functions, tags and the account.
// Each area of the API lists its routes in its own file; New joins them.
func (h *Handler) functionRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: "2015-03-31/functions/*/invocations",
			raw: func(w http.ResponseWriter, r *http.Request, args []string) { h.invoke(w, r, args[0]) }},
		{method: http.MethodGet, pattern: "2015-03-31/functions/*", op: one(h.getFunction)},
		{method: http.MethodDelete, pattern: "2015-03-31/functions/*", op: one(h.deleteFunction)},
		{method: http.MethodGet, pattern: "2015-03-31/functions/*/configuration", op: one(h.getFunctionConfiguration)},
		{method: http.MethodPut, pattern: "2015-03-31/functions/*/configuration", op: one(h.updateFunctionConfiguration)},
		{method: http.MethodPut, pattern: "2015-03-31/functions/*/code", op: one(h.updateFunctionCode)},
		{method: http.MethodPost, pattern: "2015-03-31/functions", op: one(h.createFunction)},
		{method: http.MethodGet, pattern: "2015-03-31/functions", op: one(h.listFunctions)},
		{method: http.MethodGet, pattern: "2016-08-19/account-settings", op: one(h.getAccountSettings)},
		{method: http.MethodGet, pattern: "2017-03-31/tags/*", op: one(h.listTags)},
		{method: http.MethodPost, pattern: "2017-03-31/tags/*", op: one(h.tagResource)},
		{method: http.MethodDelete, pattern: "2017-03-31/tags/*", op: one(h.untagResource)},
	}
}

// operation is a control-plane operation; arg is the escaped path
// parameter (a FunctionName or an ARN), "" for operations without one.
type operation func(w http.ResponseWriter, r *http.Request, arg string) error
