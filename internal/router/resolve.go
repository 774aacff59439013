package router

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/stratus-dev/stratus"
)

// resolve finds the function version an invocation runs: $LATEST for an
// unqualified name or "$LATEST", the published version a number names,
// and for an alias the version it points to — or, when the alias routes
// a share of its traffic to an additional version, that version with
// that probability (drawn from Config.Rand). The invocation's ARN keeps
// the qualifier it was invoked with; the returned function's Version is
// what X-Amz-Executed-Version reports.
//
// It also makes sure the function's layers are unpacked (once per set of
// layers), so that starting an environment finds /opt ready.
func (r *Router) resolve(ctx context.Context, req *stratus.InvokeRequest) (*stratus.Function, error) {
	return r.resolveWith(ctx, req, r.rand())
}

// resolvePrimary is resolve without weighted routing: an alias always
// resolves to its FunctionVersion. For what must not flip between
// versions at random (e.g. a pool of environments kept for an alias).
func (r *Router) resolvePrimary(ctx context.Context, req *stratus.InvokeRequest) (*stratus.Function, error) {
	return r.resolveWith(ctx, req, nil)
}

// resolveWith is resolve with the random source rnd; nil means the
// alias's FunctionVersion, always.
func (r *Router) resolveWith(ctx context.Context, req *stratus.InvokeRequest, rnd func() float64) (*stratus.Function, error) {
	fn, err := r.fns.Function(ctx, req.FunctionName)
	if stratus.ErrorCode(err) == stratus.ENOTFOUND {
		return nil, r.notFound(req)
	} else if err != nil {
		return nil, fmt.Errorf("looking up function %s: %w", req.FunctionName, err)
	}
	if q := req.Qualifier; q != "" && q != stratus.LatestVersion {
		vs, ok := r.fns.(stratus.VersionService)
		if !ok {
			return nil, r.notFound(req)
		}
		version := q
		if !isVersionNumber(q) {
			a, err := vs.Alias(ctx, req.FunctionName, q)
			if stratus.ErrorCode(err) == stratus.ENOTFOUND {
				return nil, r.notFound(req)
			} else if err != nil {
				return nil, fmt.Errorf("looking up alias %s:%s: %w", req.FunctionName, q, err)
			}
			version = a.FunctionVersion
			if rnd != nil {
				version = pickVersion(a, rnd)
			}
		}
		if version != stratus.LatestVersion {
			fn, err = vs.Version(ctx, req.FunctionName, version)
			if stratus.ErrorCode(err) == stratus.ENOTFOUND {
				return nil, r.notFound(req)
			} else if err != nil {
				return nil, fmt.Errorf("looking up version %s:%s: %w", req.FunctionName, version, err)
			}
		}
	}
	if len(fn.Layers) > 0 {
		if _, err := r.code.optDir(ctx, fn.Layers); err != nil {
			return nil, fmt.Errorf("preparing layers of %s: %w", fn.Name, err)
		}
	}
	return fn, nil
}

func (r *Router) notFound(req *stratus.InvokeRequest) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", r.FunctionARN(req.FunctionName, req.Qualifier))
}

// rand returns Config.Rand, or a uniform [0,1) generator.
func (r *Router) rand() func() float64 {
	if r.cfg.Rand != nil {
		return r.cfg.Rand
	}
	return rand.Float64
}

// pickVersion chooses the version an invocation through alias a runs:
// the additional version with its weight's probability, else the
// alias's FunctionVersion.
func pickVersion(a *stratus.Alias, rnd func() float64) string {
	for v, w := range a.AdditionalVersionWeights { // at most one entry
		if w > 0 && rnd() < w {
			return v
		}
	}
	return a.FunctionVersion
}

// isVersionNumber reports whether a qualifier names a version (digits)
// rather than an alias.
func isVersionNumber(q string) bool {
	if q == "" {
		return false
	}
	for i := 0; i < len(q); i++ {
		if q[i] < '0' || q[i] > '9' {
			return false
		}
	}
	return true
}
