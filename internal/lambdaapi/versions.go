package lambdaapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// versioningRoutes are the operations on versions, aliases and layers.
func (h *Handler) versioningRoutes() []route {
	return slices.Concat(h.versionRoutes(), h.aliasRoutes(), h.layerRoutes())
}

// versionRoutes are the operations on published versions.
func (h *Handler) versionRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: "2015-03-31/functions/*/versions", op: one(h.publishVersion)},
		{method: http.MethodGet, pattern: "2015-03-31/functions/*/versions", op: one(h.listVersionsByFunction)},
	}
}

// versionService returns the store's version support; a store without it
// makes every version and alias operation fail as unsupported.
func (h *Handler) versionService() (stratus.VersionService, error) {
	vs, ok := h.fns.(stratus.VersionService)
	if !ok {
		return nil, unsupported("Versions and aliases are not supported by this server's function store.")
	}
	return vs, nil
}

// isVersionNumber matches ^[0-9]+$: a qualifier that names a version
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

// resolveQualified returns the configuration a function reference names:
// $LATEST when unqualified, a published version, or the primary version
// of an alias. Whatever is missing is "Function not found" with the
// qualified ARN, as AWS answers.
func (h *Handler) resolveQualified(ctx context.Context, ref functionRef) (*stratus.Function, error) {
	fn, err := h.fns.Function(ctx, ref.Name)
	if err != nil {
		return nil, h.orNotFound(err, ref.Name, "")
	}
	if isLatest(ref.Qualifier) {
		return fn, nil
	}
	vs, ok := h.fns.(stratus.VersionService)
	if !ok {
		return nil, notFound(h, ref.Name, ref.Qualifier)
	}
	version := ref.Qualifier
	if !isVersionNumber(version) {
		a, err := vs.Alias(ctx, ref.Name, version)
		if err != nil {
			return nil, h.orNotFound(err, ref.Name, ref.Qualifier)
		}
		if version = a.FunctionVersion; isLatest(version) {
			return fn, nil
		}
	}
	v, err := vs.Version(ctx, ref.Name, version)
	if err != nil {
		return nil, h.orNotFound(err, ref.Name, ref.Qualifier)
	}
	return v, nil
}

// qualifiedConfiguration renders fn as reached through ref: through an
// alias, FunctionArn names the alias while Version says which version it
// points to.
func (h *Handler) qualifiedConfiguration(ref functionRef, fn *stratus.Function) *functionConfiguration {
	c := h.configuration(fn)
	if !isLatest(ref.Qualifier) && !isVersionNumber(ref.Qualifier) {
		c.FunctionArn = FunctionARN(h.cfg.Region, h.cfg.AccountID, fn.Name, ref.Qualifier)
	}
	return c
}

// snapshot returns the function PublishVersion runs on a new version: a
// fresh RevisionId and LastModified, and the given description (nil
// keeps $LATEST's).
func (h *Handler) snapshot(description *string) func(*stratus.Function) {
	return func(v *stratus.Function) {
		v.RevisionID = awsapi.NewRequestID()
		v.LastModified = h.cfg.Now()
		if description != nil {
			v.Description = *description
		}
	}
}

type publishVersionRequest struct {
	CodeSha256  *string
	Description *string
	RevisionId  *string
}

// errCodeSha256 is AWS's answer to a CodeSha256 guard that does not match.
func errCodeSha256(given, current string) error {
	return invalidf("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again.", given, current)
}

// publishVersion serves PublishVersion: POST /2015-03-31/functions/{name}/versions
// → 201 with the version's configuration. When $LATEST did not change
// since the last published version, that version is returned and none is
// created.
func (h *Handler) publishVersion(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, err := h.unqualified(arg)
	if err != nil {
		return err
	}
	vs, err := h.versionService()
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "PublishVersion")
	if err != nil {
		return err
	}
	var req publishVersionRequest
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	if req.Description != nil && len(*req.Description) > maxDescriptionLen {
		return constraint(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	v, _, err := vs.PublishVersion(r.Context(), ref.Name, func(latest *stratus.Function) error {
		if err := checkRevision(req.RevisionId, latest); err != nil {
			return err
		}
		if req.CodeSha256 != nil && *req.CodeSha256 != latest.Code.Sha256 {
			return errCodeSha256(*req.CodeSha256, latest.Code.Sha256)
		}
		return nil
	}, h.snapshot(req.Description))
	if err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	awsapi.WriteJSON(w, http.StatusCreated, h.configuration(v))
	return nil
}

type listVersionsResponse struct {
	Versions   []*functionConfiguration `json:"Versions"`
	NextMarker string                   `json:"NextMarker,omitempty"`
}

// listVersionsByFunction serves GET /2015-03-31/functions/{name}/versions:
// $LATEST (with a qualified ARN, as AWS lists it) and then every
// published version, oldest first, at most 50 per page. The Marker is the
// base64url of the last version of the previous page.
func (h *Handler) listVersionsByFunction(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, err := h.parseFunctionParam(arg, "")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max, err := parseMaxItems(q, 10000, listPageSize)
	if err != nil {
		return err
	}
	after, err := decodeMarker(q)
	if err != nil {
		return err
	}
	ctx := r.Context()
	latest, err := h.fns.Function(ctx, ref.Name)
	if err != nil {
		return h.orNotFound(err, ref.Name, "")
	}
	all := []*stratus.Function{latest}
	if vs, ok := h.fns.(stratus.VersionService); ok {
		versions, err := vs.Versions(ctx, ref.Name)
		if err != nil {
			return h.orNotFound(err, ref.Name, "")
		}
		all = append(all, versions...)
	}
	start := 0
	if after == stratus.LatestVersion {
		start = 1
	} else if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil {
			return invalidf("Invalid Marker: %s", q.Get("Marker"))
		}
		// Resume after version n, even if it was deleted meanwhile.
		for start = 1; start < len(all); start++ {
			if v, _ := strconv.Atoi(all[start].Version); v > n {
				break
			}
		}
	}
	resp := listVersionsResponse{Versions: []*functionConfiguration{}}
	i := start
	for ; i < len(all) && len(resp.Versions) < max; i++ {
		c := h.listItem(all[i])
		if all[i].Version == stratus.LatestVersion {
			c.FunctionArn = FunctionARN(h.cfg.Region, h.cfg.AccountID, ref.Name, stratus.LatestVersion)
		}
		resp.Versions = append(resp.Versions, c)
	}
	if i < len(all) && len(resp.Versions) > 0 {
		resp.NextMarker = encodeMarker(all[i-1].Version)
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

// parseMaxItems reads ?MaxItems= (1..limit) and caps it at page; absent
// means page.
func parseMaxItems(q url.Values, limit, page int) (int, error) {
	s := q.Get("MaxItems")
	if s == "" {
		return page, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, constraint(s, "maxItems", "Member must be an integer")
	}
	if n < 1 {
		return 0, constraint(n, "maxItems", "Member must have value greater than or equal to 1")
	}
	if n > limit {
		return 0, constraint(n, "maxItems", "Member must have value less than or equal to "+strconv.Itoa(limit))
	}
	return min(n, page), nil
}

// Markers are opaque to clients: the base64url of the last key of the
// previous page.
func encodeMarker(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeMarker(q url.Values) (string, error) {
	m := q.Get("Marker")
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) == 0 {
		return "", invalidf("Invalid Marker: %s", m)
	}
	return string(b), nil
}
