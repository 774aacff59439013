package lambdaapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

// layerRoutes are the layer operations (reference §2.11).
func (h *Handler) layerRoutes() []route {
	two := func(op func(w http.ResponseWriter, r *http.Request, layer, version string) error) func(http.ResponseWriter, *http.Request, []string) error {
		return func(w http.ResponseWriter, r *http.Request, args []string) error { return op(w, r, args[0], args[1]) }
	}
	return []route{
		{method: http.MethodPost, pattern: "2018-10-31/layers/*/versions", op: one(h.publishLayerVersion)},
		{method: http.MethodGet, pattern: "2018-10-31/layers/*/versions", op: one(h.listLayerVersions)},
		{method: http.MethodGet, pattern: "2018-10-31/layers/*/versions/*", op: two(h.getLayerVersion)},
		{method: http.MethodDelete, pattern: "2018-10-31/layers/*/versions/*", op: two(h.deleteLayerVersion)},
		{method: http.MethodGet, pattern: "2018-10-31/layers", op: one(h.listLayersOrFind)},
	}
}

// Layer limits (reference §2.11, §4.3).
const (
	maxFunctionLayers       = 5
	maxLayerNameLen         = 140
	maxCompatibleRuntimes   = 15
	maxCompatibleArchs      = 2
	maxLicenseInfoLen       = 512
	maxLayerListPage        = 50
	layerVersionArnPattern  = `arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`
	layerNameParamPattern   = `(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`
	layerVersionFindPattern = `arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`
)

// layerService returns the store's layer support.
func (h *Handler) layerService() (stratus.LayerService, error) {
	ls, ok := h.fns.(stratus.LayerService)
	if !ok {
		return nil, unsupported("Layers are not supported by this server's function store.")
	}
	return ls, nil
}

// LayerARN returns arn:aws:lambda:<region>:<account>:layer:<name>.
func LayerARN(region, account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":layer:" + name
}

func (h *Handler) layerARN(name string) string {
	return LayerARN(h.cfg.Region, h.cfg.AccountID, name)
}

func (h *Handler) layerVersionARN(name string, version int64) string {
	return h.layerARN(name) + ":" + strconv.FormatInt(version, 10)
}

func layerNotFound() error {
	return stratus.Errorf(stratus.ENOTFOUND, "The resource you requested does not exist.")
}

func isNameChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// parseLayerName parses the {LayerName} path parameter: a name or an
// unversioned layer ARN. A layer of another region or account cannot be
// found here.
func (h *Handler) parseLayerName(escaped string) (string, error) {
	s, err := url.PathUnescape(escaped)
	if err != nil {
		s = escaped
	}
	bad := constraint(s, "layerName", "Member must satisfy regular expression pattern: "+layerNameParamPattern)
	if len(s) < 1 || len(s) > maxLayerNameLen {
		return "", constraint(s, "layerName", "Member must have length less than or equal to 140, Member must have length greater than or equal to 1")
	}
	if !strings.HasPrefix(s, "arn:") {
		if !isNameChars(s) {
			return "", bad
		}
		return s, nil
	}
	p := strings.Split(s, ":")
	if len(p) != 7 || p[2] != "lambda" || p[5] != "layer" || !isAccountID(p[4]) || !isNameChars(p[6]) {
		return "", bad
	}
	if p[1] != "aws" || p[3] != h.cfg.Region || p[4] != h.cfg.AccountID {
		return "", layerNotFound()
	}
	return p[6], nil
}

// parseLayerVersionARN parses arn:aws:lambda:<region>:<account>:layer:<name>:<n>.
// ok is false when s does not have that shape; name is "" when it names a
// layer of another partition, region or account.
func (h *Handler) parseLayerVersionARN(s string) (name string, version int64, ok bool) {
	p := strings.Split(s, ":")
	if len(s) > maxLayerNameLen || len(p) != 8 || p[0] != "arn" || p[2] != "lambda" || p[5] != "layer" ||
		!isAccountID(p[4]) || !isNameChars(p[6]) || !isVersionNumber(p[7]) || p[1] == "" || p[3] == "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(p[7], 10, 64)
	if err != nil {
		return "", 0, false
	}
	if p[1] != "aws" || p[3] != h.cfg.Region || p[4] != h.cfg.AccountID {
		return "", n, true
	}
	return p[6], n, true
}

// resolveLayers checks a function's Layers member: at most 5 layer
// version ARNs of existing layer versions, no layer twice. It returns
// them with their packages, in order.
func (h *Handler) resolveLayers(ctx context.Context, arns []string) ([]stratus.FunctionLayer, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	if len(arns) > maxFunctionLayers {
		return nil, invalidf("Cannot reference more than %d layers.", maxFunctionLayers)
	}
	ls, err := h.layerService()
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(arns))
	out := make([]stratus.FunctionLayer, 0, len(arns))
	for _, arn := range arns {
		name, n, ok := h.parseLayerVersionARN(arn)
		if !ok {
			return nil, constraint(jsonList(arns), "layers", "Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "+layerVersionArnPattern+"]")
		}
		if name == "" {
			return nil, invalidf("Layer version %s does not exist.", arn)
		}
		if seen[name] {
			return nil, invalidf("Two different versions of the same layer are not allowed to be referenced in the same function. %s", arn)
		}
		seen[name] = true
		lv, err := ls.LayerVersion(ctx, name, n)
		if stratus.ErrorCode(err) == stratus.ENOTFOUND {
			return nil, invalidf("Layer version %s does not exist.", arn)
		} else if err != nil {
			return nil, err
		}
		out = append(out, stratus.FunctionLayer{ARN: h.layerVersionARN(name, n), Code: lv.Code})
	}
	return out, nil
}

// unzippedSize returns the unpacked size of a stored package, inspecting
// it when the size was not recorded.
func (h *Handler) unzippedSize(ctx context.Context, code stratus.Code) (int64, error) {
	if code.UnzippedSize > 0 || code.Key == "" {
		return code.UnzippedSize, nil
	}
	zip, err := h.fns.GetCode(ctx, code.Key)
	if err != nil {
		return 0, err
	}
	info, err := pkgzip.Inspect(zip, h.cfg.Limits)
	if err != nil {
		return 0, err
	}
	return info.UnzippedBytes, nil
}

// checkTotalSize enforces the 250 MB limit on a function's package and
// its layers, unpacked.
func (h *Handler) checkTotalSize(ctx context.Context, code stratus.Code, layers []stratus.FunctionLayer) error {
	if len(layers) == 0 {
		return nil
	}
	total, err := h.unzippedSize(ctx, code)
	if err != nil {
		return err
	}
	for _, l := range layers {
		n, err := h.unzippedSize(ctx, l.Code)
		if err != nil {
			return err
		}
		total += n
	}
	limit := orDefault(h.cfg.Limits.MaxUnzippedBytes, pkgzip.DefaultMaxUnzippedBytes)
	if total > limit {
		return invalidf("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", limit, total)
	}
	return nil
}

type layerContentRequest struct {
	ZipFile         []byte
	S3Bucket        *string
	S3Key           *string
	S3ObjectVersion *string
}

type publishLayerVersionRequest struct {
	Content                 *layerContentRequest
	Description             *string
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
	LicenseInfo             *string
}

type layerVersionContent struct {
	Location   string `json:"Location"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// layerVersionResponse is the output of PublishLayerVersion,
// GetLayerVersion and GetLayerVersionByArn.
type layerVersionResponse struct {
	Content                 layerVersionContent `json:"Content"`
	LayerArn                string              `json:"LayerArn"`
	LayerVersionArn         string              `json:"LayerVersionArn"`
	Description             string              `json:"Description"`
	CreatedDate             string              `json:"CreatedDate"`
	Version                 int64               `json:"Version"`
	CompatibleRuntimes      []string            `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string              `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string            `json:"CompatibleArchitectures,omitempty"`
}

// layerVersionsListItem is an item of ListLayerVersions and ListLayers.
type layerVersionsListItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int64    `json:"Version"`
	Description             string   `json:"Description"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
}

type layersListItem struct {
	LayerName             string                `json:"LayerName"`
	LayerArn              string                `json:"LayerArn"`
	LatestMatchingVersion layerVersionsListItem `json:"LatestMatchingVersion"`
}

type listLayerVersionsResponse struct {
	LayerVersions []layerVersionsListItem `json:"LayerVersions"`
	NextMarker    string                  `json:"NextMarker,omitempty"`
}

type listLayersResponse struct {
	Layers     []layersListItem `json:"Layers"`
	NextMarker string           `json:"NextMarker,omitempty"`
}

func (h *Handler) layerVersion(r *http.Request, lv *stratus.LayerVersion) *layerVersionResponse {
	return &layerVersionResponse{
		Content: layerVersionContent{
			Location:   codeURL(r, lv.Code),
			CodeSha256: lv.Code.Sha256,
			CodeSize:   lv.Code.Size,
		},
		LayerArn:                h.layerARN(lv.Name),
		LayerVersionArn:         h.layerVersionARN(lv.Name, lv.Version),
		Description:             lv.Description,
		CreatedDate:             formatLastModified(lv.Created),
		Version:                 lv.Version,
		CompatibleRuntimes:      lv.CompatibleRuntimes,
		LicenseInfo:             lv.LicenseInfo,
		CompatibleArchitectures: lv.CompatibleArchitectures,
	}
}

func (h *Handler) layerListItem(lv *stratus.LayerVersion) layerVersionsListItem {
	return layerVersionsListItem{
		LayerVersionArn:         h.layerVersionARN(lv.Name, lv.Version),
		Version:                 lv.Version,
		Description:             lv.Description,
		CreatedDate:             formatLastModified(lv.Created),
		CompatibleRuntimes:      lv.CompatibleRuntimes,
		LicenseInfo:             lv.LicenseInfo,
		CompatibleArchitectures: lv.CompatibleArchitectures,
	}
}

// validateCompatibility checks CompatibleRuntimes and
// CompatibleArchitectures against the model's enums and sizes.
func validateCompatibility(runtimesList, archs []string) error {
	if len(runtimesList) > maxCompatibleRuntimes {
		return constraint(jsonList(runtimesList), "compatibleRuntimes", "Member must have length less than or equal to 15")
	}
	for _, rt := range runtimesList {
		if _, ok := runtimes[rt]; !ok {
			return constraint(jsonList(runtimesList), "compatibleRuntimes", "Member must satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(sortedRuntimes(false), ", ")+"]]")
		}
	}
	if len(archs) > maxCompatibleArchs {
		return constraint(jsonList(archs), "compatibleArchitectures", "Member must have length less than or equal to 2")
	}
	for _, a := range archs {
		if a != "x86_64" && a != "arm64" {
			return constraint(jsonList(archs), "compatibleArchitectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
		}
	}
	return nil
}

// publishLayerVersion serves POST /2018-10-31/layers/{name}/versions → 201.
// The zip is checked with the same rules as function code.
func (h *Handler) publishLayerVersion(w http.ResponseWriter, r *http.Request, arg string) error {
	name, err := h.parseLayerName(arg)
	if err != nil {
		return err
	}
	ls, err := h.layerService()
	if err != nil {
		return err
	}
	body, err := readBody(r, zipBodyLimit(h.maxZip()), "PublishLayerVersion")
	if err != nil {
		return err
	}
	var req publishLayerVersionRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Content == nil {
		return notNull("content")
	}
	switch c := req.Content; {
	case c.S3Bucket != nil || c.S3Key != nil || c.S3ObjectVersion != nil:
		return unsupported("S3Bucket and S3Key are not supported by this server. Upload the layer as ZipFile.")
	case len(c.ZipFile) == 0:
		return invalidf("Please provide a source for the layer content.")
	}
	if req.Description != nil && len(*req.Description) > maxDescriptionLen {
		return constraint(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	if req.LicenseInfo != nil && len(*req.LicenseInfo) > maxLicenseInfoLen {
		return constraint(*req.LicenseInfo, "licenseInfo", "Member must have length less than or equal to 512")
	}
	if err := validateCompatibility(req.CompatibleRuntimes, req.CompatibleArchitectures); err != nil {
		return err
	}
	info, err := pkgzip.Inspect(req.Content.ZipFile, h.cfg.Limits)
	if err != nil {
		return err
	}
	ctx := r.Context()
	code, err := h.fns.PutCode(ctx, req.Content.ZipFile)
	if err != nil {
		return err
	}
	code.UnzippedSize = info.UnzippedBytes
	lv, err := ls.PublishLayerVersion(ctx, &stratus.LayerVersion{
		Name:                    name,
		Description:             deref(req.Description),
		CompatibleRuntimes:      req.CompatibleRuntimes,
		CompatibleArchitectures: req.CompatibleArchitectures,
		LicenseInfo:             deref(req.LicenseInfo),
		Code:                    code,
		Created:                 h.cfg.Now(),
	})
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusCreated, h.layerVersion(r, lv))
	return nil
}

// parseLayerVersionNumber reads the {VersionNumber} path parameter.
func parseLayerVersionNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, constraint(s, "versionNumber", "Member must be a long integer")
	}
	return n, nil
}

// getLayerVersion serves GET /2018-10-31/layers/{name}/versions/{n}.
func (h *Handler) getLayerVersion(w http.ResponseWriter, r *http.Request, arg, versionArg string) error {
	name, err := h.parseLayerName(arg)
	if err != nil {
		return err
	}
	n, err := parseLayerVersionNumber(versionArg)
	if err != nil {
		return err
	}
	return h.writeLayerVersion(w, r, name, n)
}

func (h *Handler) writeLayerVersion(w http.ResponseWriter, r *http.Request, name string, n int64) error {
	ls, err := h.layerService()
	if err != nil {
		return err
	}
	lv, err := ls.LayerVersion(r.Context(), name, n)
	if err != nil {
		if stratus.ErrorCode(err) == stratus.ENOTFOUND {
			return layerNotFound()
		}
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.layerVersion(r, lv))
	return nil
}

// deleteLayerVersion serves DELETE /2018-10-31/layers/{name}/versions/{n}
// → 204, also when the version does not exist (AWS's DeleteLayerVersion
// has no not-found error). Functions using it keep their copy.
func (h *Handler) deleteLayerVersion(w http.ResponseWriter, r *http.Request, arg, versionArg string) error {
	name, err := h.parseLayerName(arg)
	if err != nil {
		return err
	}
	n, err := parseLayerVersionNumber(versionArg)
	if err != nil {
		return err
	}
	ls, err := h.layerService()
	if err != nil {
		return err
	}
	if err := ls.DeleteLayerVersion(r.Context(), name, n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// matchesCompat reports whether lv fits the ?CompatibleRuntime= and
// ?CompatibleArchitecture= filters ("" matches everything).
func matchesCompat(lv *stratus.LayerVersion, rt, arch string) bool {
	return (rt == "" || slices.Contains(lv.CompatibleRuntimes, rt)) &&
		(arch == "" || slices.Contains(lv.CompatibleArchitectures, arch))
}

// compatFilters reads and checks the compatibility filters of the list
// operations.
func compatFilters(q url.Values) (rt, arch string, err error) {
	rt, arch = q.Get("CompatibleRuntime"), q.Get("CompatibleArchitecture")
	if rt != "" {
		if _, ok := runtimes[rt]; !ok {
			return "", "", constraint(rt, "compatibleRuntime", "Member must satisfy enum value set: ["+strings.Join(sortedRuntimes(false), ", ")+"]")
		}
	}
	if arch != "" && arch != "x86_64" && arch != "arm64" {
		return "", "", constraint(arch, "compatibleArchitecture", "Member must satisfy enum value set: [x86_64, arm64]")
	}
	return rt, arch, nil
}

// listLayerVersions serves GET /2018-10-31/layers/{name}/versions: the
// layer's versions, newest first, at most 50 per page. An unknown layer
// has no versions.
func (h *Handler) listLayerVersions(w http.ResponseWriter, r *http.Request, arg string) error {
	name, err := h.parseLayerName(arg)
	if err != nil {
		return err
	}
	ls, err := h.layerService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max, err := parseMaxItems(q, maxLayerListPage, maxLayerListPage)
	if err != nil {
		return err
	}
	rt, arch, err := compatFilters(q)
	if err != nil {
		return err
	}
	after, err := decodeMarker(q)
	if err != nil {
		return err
	}
	var before int64 = -1 // versions below this number are on this page
	if after != "" {
		if before, err = strconv.ParseInt(after, 10, 64); err != nil {
			return invalidf("Invalid Marker: %s", q.Get("Marker"))
		}
	}
	all, err := ls.LayerVersions(r.Context())
	if err != nil {
		return err
	}
	resp := listLayerVersionsResponse{LayerVersions: []layerVersionsListItem{}}
	more := false
	for _, lv := range all {
		if lv.Name != name || before >= 0 && lv.Version >= before || !matchesCompat(lv, rt, arch) {
			continue
		}
		if len(resp.LayerVersions) == max {
			more = true
			break
		}
		resp.LayerVersions = append(resp.LayerVersions, h.layerListItem(lv))
	}
	if more {
		resp.NextMarker = encodeMarker(strconv.FormatInt(resp.LayerVersions[len(resp.LayerVersions)-1].Version, 10))
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

// listLayersOrFind serves GET /2018-10-31/layers: ListLayers, or
// GetLayerVersionByArn when ?find=LayerVersion.
func (h *Handler) listLayersOrFind(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	if q.Has("find") {
		if f := q.Get("find"); f != "LayerVersion" {
			return constraint(f, "find", "Member must satisfy enum value set: [LayerVersion]")
		}
		return h.getLayerVersionByArn(w, r, q.Get("Arn"))
	}
	return h.listLayers(w, r, q)
}

// getLayerVersionByArn serves GET /2018-10-31/layers?find=LayerVersion&Arn=.
func (h *Handler) getLayerVersionByArn(w http.ResponseWriter, r *http.Request, arn string) error {
	if arn == "" {
		return notNull("arn")
	}
	name, n, ok := h.parseLayerVersionARN(arn)
	if !ok {
		return constraint(arn, "arn", "Member must satisfy regular expression pattern: "+layerVersionFindPattern)
	}
	if name == "" {
		return layerNotFound()
	}
	return h.writeLayerVersion(w, r, name, n)
}

// listLayers serves ListLayers: every layer with its newest version that
// matches the compatibility filters, by name, at most 50 per page.
func (h *Handler) listLayers(w http.ResponseWriter, r *http.Request, q url.Values) error {
	ls, err := h.layerService()
	if err != nil {
		return err
	}
	max, err := parseMaxItems(q, maxLayerListPage, maxLayerListPage)
	if err != nil {
		return err
	}
	rt, arch, err := compatFilters(q)
	if err != nil {
		return err
	}
	after, err := decodeMarker(q)
	if err != nil {
		return err
	}
	all, err := ls.LayerVersions(r.Context())
	if err != nil {
		return err
	}
	resp := listLayersResponse{Layers: []layersListItem{}}
	more := false
	for _, lv := range all { // by name, newest first
		if lv.Name <= after && after != "" || !matchesCompat(lv, rt, arch) {
			continue
		}
		if n := len(resp.Layers); n > 0 && resp.Layers[n-1].LayerName == lv.Name {
			continue // an older version of a layer already listed
		}
		if len(resp.Layers) == max {
			more = true
			break
		}
		resp.Layers = append(resp.Layers, layersListItem{
			LayerName:             lv.Name,
			LayerArn:              h.layerARN(lv.Name),
			LatestMatchingVersion: h.layerListItem(lv),
		})
	}
	if more {
		resp.NextMarker = encodeMarker(resp.Layers[len(resp.Layers)-1].LayerName)
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}
