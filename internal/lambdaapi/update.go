package lambdaapi

import (
	"net/http"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// errRevision is AWS's answer to a RevisionId that is not the latest.
func errRevision() error {
	return stratus.Errorf(stratus.EPRECONDITION, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

func checkRevision(want *string, fn *stratus.Function) error {
	if want != nil && *want != fn.RevisionID {
		return errRevision()
	}
	return nil
}

// unqualified parses the FunctionName of an operation that acts on
// $LATEST only.
func (h *Handler) unqualified(arg string) (functionRef, error) {
	ref, err := h.parseFunctionParam(arg, "")
	if err == nil && !isLatest(ref.Qualifier) {
		err = invalidf("Cannot modify version %s of function %s: only the unpublished version $LATEST can be modified.", ref.Qualifier, ref.Name)
	}
	return ref, err
}

// touch marks fn as changed: a new RevisionId and LastModified.
func (h *Handler) touch(fn *stratus.Function) {
	fn.RevisionID = awsapi.NewRequestID()
	fn.LastModified = h.cfg.Now()
}

// updateFunctionConfiguration serves PUT /2015-03-31/functions/{name}/configuration.
// Members that are present replace the stored ones; Environment is
// replaced wholesale. RevisionId, when given, must be the current one.
func (h *Handler) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, err := h.unqualified(arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "UpdateFunctionConfiguration")
	if err != nil {
		return err
	}
	req, err := decodeUpdateFunctionConfiguration(body)
	if err != nil {
		return err
	}
	if err := req.validate(ref.Name); err != nil {
		return err
	}
	ctx := r.Context()
	var layers []stratus.FunctionLayer
	if req.Layers != nil { // replaces the list; an empty one removes every layer
		if layers, err = h.resolveLayers(ctx, req.Layers); err != nil {
			return err
		}
	}
	fn, err := h.fns.UpdateFunction(ctx, ref.Name, func(fn *stratus.Function) error {
		if err := checkRevision(req.RevisionId, fn); err != nil {
			return err
		}
		req.apply(fn)
		if req.Layers != nil {
			fn.Layers = layers
			if err := h.checkTotalSize(ctx, fn.Code, fn.Layers); err != nil {
				return err
			}
		}
		if ri, err := lookupRuntime(fn.Runtime); err == nil && !ri.NeedsBootstrap && fn.Handler == "" {
			return invalidf("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
		}
		h.touch(fn)
		return nil
	})
	if err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	awsapi.WriteJSON(w, http.StatusOK, h.configuration(fn))
	return nil
}

// updateFunctionCode serves PUT /2015-03-31/functions/{name}/code. With
// DryRun the request is validated and the current configuration returned;
// nothing is stored. With Publish the new $LATEST is published as a
// version in the same compare-and-swap, and the answer is that version.
func (h *Handler) updateFunctionCode(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, err := h.unqualified(arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, zipBodyLimit(h.maxZip()), "UpdateFunctionCode")
	if err != nil {
		return err
	}
	req, err := decodeUpdateFunctionCode(body)
	if err != nil {
		return err
	}
	var vs stratus.VersionService
	if req.Publish {
		if vs, err = h.versionService(); err != nil {
			return err
		}
	}
	if req.Architectures != nil {
		if err := h.validateArchitectures(req.Architectures); err != nil {
			return err
		}
	}
	ctx := r.Context()
	cur, err := h.fns.Function(ctx, ref.Name)
	if err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	if err := checkRevision(req.RevisionId, cur); err != nil {
		return err
	}
	info, err := h.checkCode(&req.functionCode)
	if err != nil {
		return err
	}
	ri, err := lookupRuntime(cur.Runtime)
	if err != nil {
		return err
	}
	if err := checkBootstrap(cur.Runtime, ri, info); err != nil {
		return err
	}
	if req.DryRun {
		awsapi.WriteJSON(w, http.StatusOK, h.configuration(cur))
		return nil
	}
	code, err := h.fns.PutCode(ctx, req.ZipFile)
	if err != nil {
		return err
	}
	code.UnzippedSize = info.UnzippedBytes
	update := func(fn *stratus.Function) error {
		if err := checkRevision(req.RevisionId, fn); err != nil {
			return err
		}
		if fn.Runtime != cur.Runtime { // changed meanwhile: check again
			ri, err := lookupRuntime(fn.Runtime)
			if err != nil {
				return err
			}
			if err := checkBootstrap(fn.Runtime, ri, info); err != nil {
				return err
			}
		}
		if err := h.checkTotalSize(ctx, code, fn.Layers); err != nil {
			return err
		}
		fn.Code = code
		if req.Architectures != nil {
			fn.Architectures = req.Architectures
		}
		h.touch(fn)
		return nil
	}
	var fn *stratus.Function
	if req.Publish {
		fn, _, err = vs.PublishVersion(ctx, ref.Name, update, h.snapshot(nil))
	} else {
		fn, err = h.fns.UpdateFunction(ctx, ref.Name, update)
	}
	if err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	awsapi.WriteJSON(w, http.StatusOK, h.configuration(fn))
	return nil
}
