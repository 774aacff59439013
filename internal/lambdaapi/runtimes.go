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
// accepts, and which of them Stratus runs. Managed runtimes (python3.x,
// nodejs2x.x) are added here by setting Supported once they can run; a
// change of runtime that starts to need a bootstrap must then check the
// stored package (UpdateFunctionConfiguration).
var runtimes = map[string]runtimeInfo{
	"provided.al2023": {Supported: true, NeedsBootstrap: true},
	"provided.al2":    {Supported: true, NeedsBootstrap: true},
	"provided":        {Deprecated: true, NeedsBootstrap: true},
	"go1.x":           {Deprecated: true},

	"python2.7": {Deprecated: true}, "python3.6": {Deprecated: true},
	"python3.7": {Deprecated: true}, "python3.8": {}, "python3.9": {},
	"python3.10": {}, "python3.11": {}, "python3.12": {}, "python3.13": {},
	"python3.14": {},

	"nodejs": {Deprecated: true}, "nodejs4.3": {Deprecated: true},
	"nodejs4.3-edge": {Deprecated: true}, "nodejs6.10": {Deprecated: true},
	"nodejs8.10": {Deprecated: true}, "nodejs10.x": {Deprecated: true},
	"nodejs12.x": {Deprecated: true}, "nodejs14.x": {Deprecated: true},
	"nodejs16.x": {}, "nodejs18.x": {}, "nodejs20.x": {}, "nodejs22.x": {},
	"nodejs24.x": {},

	"java8": {Deprecated: true}, "java8.al2": {}, "java11": {}, "java17": {},
	"java21": {}, "java25": {},

	"dotnetcore1.0": {Deprecated: true}, "dotnetcore2.0": {Deprecated: true},
	"dotnetcore2.1": {Deprecated: true}, "dotnetcore3.1": {Deprecated: true},
	"dotnet6": {}, "dotnet8": {}, "dotnet10": {},

	"ruby2.5": {Deprecated: true}, "ruby2.7": {Deprecated: true},
	"ruby3.2": {}, "ruby3.3": {}, "ruby3.4": {},
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
