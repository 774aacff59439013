package lambdaapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

// createFunction serves CreateFunction: POST /2015-03-31/functions → 201.
// Everything is validated before anything is stored.
func (h *Handler) createFunction(w http.ResponseWriter, r *http.Request, _ string) error {
	body, err := readBody(r, zipBodyLimit(h.maxZip()), "CreateFunction")
	if err != nil {
		return err
	}
	req, err := decodeCreateFunction(body)
	if err != nil {
		return err
	}
	fn, zip, err := h.newFunction(req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var vs stratus.VersionService
	if req.Publish {
		if vs, err = h.versionService(); err != nil {
			return err
		}
	}
	if len(req.Layers) > 0 {
		if fn.Layers, err = h.resolveLayers(ctx, req.Layers); err != nil {
			return err
		}
		if err := h.checkTotalSize(ctx, fn.Code, fn.Layers); err != nil {
			return err
		}
	}
	if _, err := h.fns.Function(ctx, fn.Name); err == nil {
		return conflict(fn.Name)
	} else if stratus.ErrorCode(err) != stratus.ENOTFOUND {
		return err
	}
	unzipped := fn.Code.UnzippedSize
	if fn.Code, err = h.fns.PutCode(ctx, zip); err != nil {
		return err
	}
	fn.Code.UnzippedSize = unzipped
	if err := h.fns.CreateFunction(ctx, fn); err != nil {
		if stratus.ErrorCode(err) == stratus.ECONFLICT {
			return conflict(fn.Name)
		}
		return err
	}
	if req.Publish { // version 1, whose configuration is the answer
		name := fn.Name
		if fn, _, err = vs.PublishVersion(ctx, name, nil, h.snapshot(nil)); err != nil {
			return h.orNotFound(err, name, "")
		}
	}
	awsapi.WriteJSON(w, http.StatusCreated, h.configuration(fn))
	return nil
}

func conflict(name string) error {
	return stratus.Errorf(stratus.ECONFLICT, "Function already exist: %s", name)
}

// newFunction validates a CreateFunction request and returns the function
// to store (without its Code) and the zip bytes.
func (h *Handler) newFunction(req *createFunctionRequest) (*stratus.Function, []byte, error) {
	if req.FunctionName == nil {
		return nil, nil, notNull("functionName")
	}
	name := *req.FunctionName
	if err := validateName(name); err != nil {
		return nil, nil, err
	}
	if req.Role == nil {
		return nil, nil, notNull("role")
	}
	if err := req.functionSettings.validate(name); err != nil {
		return nil, nil, err
	}
	switch pt := deref(req.PackageType); pt {
	case "", "Zip":
	case "Image":
		return nil, nil, unsupported("PackageType Image is not supported by this server: container images cannot run here. Use a Zip package.")
	default:
		return nil, nil, constraint(pt, "packageType", "Member must satisfy enum value set: [Image, Zip]")
	}
	archs := []string{h.cfg.HostArch}
	if req.Architectures != nil {
		if err := h.validateArchitectures(req.Architectures); err != nil {
			return nil, nil, err
		}
		archs = req.Architectures
	}
	if err := validateTags(req.Tags); err != nil {
		return nil, nil, err
	}
	if deref(req.CodeSigningConfigArn) != "" {
		return nil, nil, unsupported("CodeSigningConfigArn is not supported by this server.")
	}
	if req.Runtime == nil {
		return nil, nil, invalidf("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	ri, _ := lookupRuntime(*req.Runtime) // validated above
	if !ri.NeedsBootstrap && req.Handler == nil {
		return nil, nil, invalidf("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if req.Code == nil {
		return nil, nil, notNull("code")
	}
	info, err := h.checkCode(req.Code)
	if err != nil {
		return nil, nil, err
	}
	if err := checkBootstrap(*req.Runtime, ri, info); err != nil {
		return nil, nil, err
	}
	fn := &stratus.Function{
		Name:             name,
		Version:          stratus.LatestVersion,
		MemorySize:       defaultMemory,
		Timeout:          defaultTimeout,
		EphemeralStorage: defaultEphemeral,
		Architectures:    archs,
		PackageType:      "Zip",
		TracingMode:      "PassThrough",
		Tags:             req.Tags,
		RevisionID:       awsapi.NewRequestID(),
		LastModified:     h.cfg.Now(),
	}
	req.functionSettings.apply(fn)
	if len(fn.Tags) == 0 {
		fn.Tags = nil
	}
	fn.Code.UnzippedSize = info.UnzippedBytes // the rest of Code once stored
	return fn, req.Code.ZipFile, nil
}

// checkCode validates the Code member of a request: only ZipFile is
// supported.
func (h *Handler) checkCode(c *functionCode) (pkgzip.Info, error) {
	switch {
	case c.ImageUri != nil:
		return pkgzip.Info{}, unsupported("ImageUri is not supported by this server: container images cannot run here. Upload the code as ZipFile.")
	case c.S3Bucket != nil || c.S3Key != nil || c.S3ObjectVersion != nil:
		return pkgzip.Info{}, unsupported("S3Bucket and S3Key are not supported by this server. Upload the code as ZipFile.")
	case deref(c.SourceKMSKeyArn) != "":
		return pkgzip.Info{}, unsupported("SourceKMSKeyArn is not supported by this server.")
	case len(c.ZipFile) == 0:
		return pkgzip.Info{}, invalidf("Please provide a source for function code.")
	}
	return pkgzip.Inspect(c.ZipFile, h.cfg.Limits)
}

// checkBootstrap requires a root bootstrap file for custom runtimes.
func checkBootstrap(runtime string, ri runtimeInfo, info pkgzip.Info) error {
	if ri.NeedsBootstrap && !info.HasFile("bootstrap") {
		return invalidf("Runtime %s needs an executable file named bootstrap at the root of the deployment package, but the zip does not contain a bootstrap file.", runtime)
	}
	return nil
}

func (h *Handler) maxZip() int64 {
	return orDefault(h.cfg.Limits.MaxZipBytes, pkgzip.DefaultMaxZipBytes)
}

// lookup parses a FunctionName path parameter with ?Qualifier= and fetches
// what it names: $LATEST, a published version, or an alias's version.
func (h *Handler) lookup(r *http.Request, arg string) (functionRef, *stratus.Function, error) {
	ref, err := h.parseFunctionParam(arg, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return ref, nil, err
	}
	fn, err := h.resolveQualified(r.Context(), ref)
	return ref, fn, err
}

// getFunction serves GetFunction: GET /2015-03-31/functions/{name}.
// Tags belong to the function, whichever version is asked for.
func (h *Handler) getFunction(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, fn, err := h.lookup(r, arg)
	if err != nil {
		return err
	}
	tags := fn.Tags
	if fn.Version != stratus.LatestVersion {
		latest, err := h.fns.Function(r.Context(), ref.Name)
		if err != nil {
			return h.orNotFound(err, ref.Name, "")
		}
		tags = latest.Tags
	}
	awsapi.WriteJSON(w, http.StatusOK, &getFunctionResponse{
		Configuration: h.qualifiedConfiguration(ref, fn),
		Code:          codeLocation{RepositoryType: "S3", Location: codeURL(r, fn.Code)},
		Tags:          tags,
		Concurrency:   h.functionConcurrency(r.Context(), ref.Name),
	})
	return nil
}

// getFunctionConfiguration serves GET /2015-03-31/functions/{name}/configuration.
func (h *Handler) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, fn, err := h.lookup(r, arg)
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.qualifiedConfiguration(ref, fn))
	return nil
}

// deleteFunction serves DELETE /2015-03-31/functions/{name} → 204: the
// function with all its versions and aliases. A qualifier deletes one
// published version: not $LATEST, not an alias, and not a version an
// alias routes to (ResourceConflictException).
func (h *Handler) deleteFunction(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, err := h.parseFunctionParam(arg, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if ref.Qualifier != "" {
		if _, err := h.fns.Function(ctx, ref.Name); err != nil {
			return h.orNotFound(err, ref.Name, "")
		}
		if ref.Qualifier == stratus.LatestVersion {
			return invalidf("$LATEST version cannot be deleted without deleting the function.")
		}
		if !isVersionNumber(ref.Qualifier) {
			return invalidf("Deletion of aliases is not supported by DeleteFunction; use DeleteAlias to delete alias %s.", ref.Qualifier)
		}
		vs, ok := h.fns.(stratus.VersionService)
		if !ok {
			return notFound(h, ref.Name, ref.Qualifier)
		}
		if err := vs.DeleteVersion(ctx, ref.Name, ref.Qualifier); err != nil {
			return h.orNotFound(err, ref.Name, ref.Qualifier)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := h.fns.DeleteFunction(ctx, ref.Name); err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getCode serves the package download behind Code.Location.
func (h *Handler) getCode(w http.ResponseWriter, r *http.Request, file string) {
	key, ok := strings.CutSuffix(file, ".zip")
	if r.Method != http.MethodGet && r.Method != http.MethodHead || !ok || !isCodeKey(key) {
		writeUnknownOperation(w, r)
		return
	}
	zip, err := h.fns.GetCode(r.Context(), key)
	if err != nil {
		if stratus.ErrorCode(err) == stratus.ENOTFOUND {
			err = stratus.Errorf(stratus.ENOTFOUND, "Code not found: %s", key)
		}
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set(hdrContentType, "application/zip")
	hd.Set(hdrContentLength, strconv.Itoa(len(zip)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(zip)
	}
}

// isCodeKey matches the lower-case hex SHA-256 keys of the code store.
func isCodeKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
