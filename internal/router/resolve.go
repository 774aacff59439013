package router

import (
	"context"
	"fmt"

	"github.com/stratus-dev/stratus"
)

// resolve finds the function version an invocation runs: $LATEST for an
// unqualified name.
func (r *Router) resolve(ctx context.Context, req *stratus.InvokeRequest) (*stratus.Function, error) {
	fn, err := r.fns.Function(ctx, req.FunctionName)
	if stratus.ErrorCode(err) == stratus.ENOTFOUND {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", r.FunctionARN(req.FunctionName, req.Qualifier))
	} else if err != nil {
		return nil, fmt.Errorf("looking up function %s: %w", req.FunctionName, err)
	}
	if q := req.Qualifier; q != "" && q != stratus.LatestVersion {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", r.FunctionARN(req.FunctionName, q))
	}
	return fn, nil
}
