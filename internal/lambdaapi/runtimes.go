package lambdaapi

import (
	"slices"
	"strings"
)

// runtimeInfo says what Stratus knows about one value of Runtime.
type runtimeInfo struct {
	// Supported runtimes can be created and run here.
	Supported bool
	// Deprecated runtimes are refused by AWS itself for new functions and
	// updates.
	Deprecated bool
	// NeedsBootstrap runtimes execute a "bootstrap" file at the root of
	// the package (custom runtimes); they take no Handler.
	NeedsBootstrap bool
}

// runtimes is the one table of Runtime values: every value AWS's model
// accepts, and which of them Stratus runs. The managed runtimes (python3.9
// to python3.13, nodejs18.x to nodejs22.x) all run on the host's one
// python3 and node with Stratus's own Runtime API clients (package
// runtimes); GetFunctionConfiguration's RuntimeVersionConfig names the
// interpreter version that actually runs. Switching a function to a
// runtime that needs a bootstrap is not checked against the stored
// package, as on AWS: the invoke then fails with Runtime.InvalidEntrypoint.
var runtimes = map[string]runtimeInfo{
	"provided.al2023": {Supported: true, NeedsBootstrap: true},
	"provided.al2":    {Supported: true, NeedsBootstrap: true},
	"provided":        {Deprecated: true, NeedsBootstrap: true},
	"go1.x":           {Deprecated: true},

	"python2.7": {Deprecated: true}, "python3.6": {Deprecated: true},
	"python3.7": {Deprecated: true}, "python3.8": {},
	"python3.9": {Supported: true}, "python3.10": {Supported: true},
	"python3.11": {Supported: true}, "python3.12": {Supported: true},
	"python3.13": {Supported: true}, "python3.14": {},

	"nodejs": {Deprecated: true}, "nodejs4.3": {Deprecated: true},
	"nodejs4.3-edge": {Deprecated: true}, "nodejs6.10": {Deprecated: true},
	"nodejs8.10": {Deprecated: true}, "nodejs10.x": {Deprecated: true},
	"nodejs12.x": {Deprecated: true}, "nodejs14.x": {Deprecated: true},
	"nodejs16.x": {}, "nodejs18.x": {Supported: true},
	"nodejs20.x": {Supported: true}, "nodejs22.x": {Supported: true},
	"nodejs24.x": {},

	"java8": {Deprecated: true}, "java8.al2": {}, "java11": {}, "java17": {},
	"java21": {}, "java25": {},

	"dotnetcore1.0": {Deprecated: true}, "dotnetcore2.0": {Deprecated: true},
	"dotnetcore2.1": {Deprecated: true}, "dotnetcore3.1": {Deprecated: true},
	"dotnet6": {}, "dotnet8": {}, "dotnet10": {},

	"ruby2.5": {Deprecated: true}, "ruby2.7": {Deprecated: true},
	"ruby3.2": {}, "ruby3.3": {}, "ruby3.4": {},
}

// runtimeVersionConfig is FunctionConfiguration.RuntimeVersionConfig.
type runtimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

// runtimeVersionConfig says which interpreter actually runs functions of a
// managed runtime: AWS's ARN shape, with the host interpreter's version
// where AWS has an opaque hash, e.g.
// arn:aws:lambda:us-east-1::runtime:python-3.11.2 for any python3.x on a
// host whose python3 is 3.11.2. nil for provided.* runtimes.
func (h *Handler) runtimeVersionConfig(runtime string) *runtimeVersionConfig {
	if h.cfg.RuntimeVersion == nil {
		return nil
	}
	family := ""
	switch {
	case strings.HasPrefix(runtime, "python"):
		family = "python"
	case strings.HasPrefix(runtime, "nodejs"):
		family = "nodejs"
	default:
		return nil
	}
	v := h.cfg.RuntimeVersion(runtime)
	if v == "" {
		return nil
	}
	return &runtimeVersionConfig{RuntimeVersionArn: "arn:aws:lambda:" + h.cfg.Region + "::runtime:" + family + "-" + v}
}

// lookupRuntime returns the entry of a supported runtime, or the
// InvalidParameterValueException AWS-style message for any other value.
func lookupRuntime(name string) (runtimeInfo, error) {
	ri, ok := runtimes[name]
	switch {
	case !ok:
		return ri, constraint(name, "runtime", "Member must satisfy enum value set: ["+strings.Join(sortedRuntimes(false), ", ")+"]")
	case ri.Deprecated:
		return ri, invalidf("The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.", name)
	case !ri.Supported:
		return ri, unsupported("The runtime parameter of %s is not supported by this server. Supported runtimes: %s.", name, strings.Join(sortedRuntimes(true), ", "))
	}
	return ri, nil
}

// sortedRuntimes lists runtime names in order; only supported ones when
// supportedOnly.
func sortedRuntimes(supportedOnly bool) []string {
	var names []string
	for n, ri := range runtimes {
		if !supportedOnly || ri.Supported {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
