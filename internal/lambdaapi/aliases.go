package lambdaapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// aliasRoutes are the alias operations (reference §2.5).
func (h *Handler) aliasRoutes() []route {
	two := func(op func(w http.ResponseWriter, r *http.Request, fn, alias string) error) func(http.ResponseWriter, *http.Request, []string) error {
		return func(w http.ResponseWriter, r *http.Request, args []string) error { return op(w, r, args[0], args[1]) }
	}
	return []route{
		{method: http.MethodPost, pattern: "2015-03-31/functions/*/aliases", op: one(h.createAlias)},
		{method: http.MethodGet, pattern: "2015-03-31/functions/*/aliases", op: one(h.listAliases)},
		{method: http.MethodGet, pattern: "2015-03-31/functions/*/aliases/*", op: two(h.getAlias)},
		{method: http.MethodPut, pattern: "2015-03-31/functions/*/aliases/*", op: two(h.updateAlias)},
		{method: http.MethodDelete, pattern: "2015-03-31/functions/*/aliases/*", op: two(h.deleteAlias)},
	}
}

// Alias limits of the API model.
const (
	maxAliasNameLen      = 128
	maxAdditionalVersion = 1
)

// aliasConfiguration is Lambda's AliasConfiguration shape.
type aliasConfiguration struct {
	AliasArn        string                `json:"AliasArn"`
	Name            string                `json:"Name"`
	FunctionVersion string                `json:"FunctionVersion"`
	Description     string                `json:"Description"`
	RoutingConfig   *aliasRoutingResponse `json:"RoutingConfig,omitempty"`
	RevisionId      string                `json:"RevisionId"`
}

type aliasRoutingResponse struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64
}

type createAliasRequest struct {
	Name            *string
	FunctionVersion *string
	Description     *string
	RoutingConfig   *routingConfig
}

type updateAliasRequest struct {
	FunctionVersion *string
	Description     *string
	RoutingConfig   *routingConfig
	RevisionId      *string
}

type listAliasesResponse struct {
	Aliases    []*aliasConfiguration `json:"Aliases"`
	NextMarker string                `json:"NextMarker,omitempty"`
}

func (h *Handler) aliasConfiguration(a *stratus.Alias) *aliasConfiguration {
	c := &aliasConfiguration{
		AliasArn:        FunctionARN(h.cfg.Region, h.cfg.AccountID, a.FunctionName, a.Name),
		Name:            a.Name,
		FunctionVersion: a.FunctionVersion,
		Description:     a.Description,
		RevisionId:      a.RevisionID,
	}
	if len(a.AdditionalVersionWeights) > 0 {
		c.RoutingConfig = &aliasRoutingResponse{AdditionalVersionWeights: a.AdditionalVersionWeights}
	}
	return c
}

// validateAliasName checks an alias name against the model: 1–128
// characters of [a-zA-Z0-9-_], not all digits (so that it cannot be
// mistaken for a version) and therefore never $LATEST.
func validateAliasName(name, field string) error {
	if len(name) < 1 || len(name) > maxAliasNameLen {
		return constraint(name, field, "Member must have length less than or equal to 128, Member must have length greater than or equal to 1")
	}
	if !isQualifier(name) || name == stratus.LatestVersion || isVersionNumber(name) {
		return constraint(name, field, "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
	}
	return nil
}

// validateFunctionVersion checks an alias's FunctionVersion member.
func validateFunctionVersion(v string) error {
	if v == stratus.LatestVersion || isVersionNumber(v) && len(v) <= 1024 {
		return nil
	}
	return constraint(v, "functionVersion", `Member must satisfy regular expression pattern: (\$LATEST|[0-9]+)`)
}

// validateRouting checks a routing configuration against the alias's
// primary version: at most one additional version, weights 0.0–1.0, a
// published version other than the primary one, which must be published
// too.
func validateRouting(primary string, weights map[string]float64) error {
	if len(weights) == 0 {
		return nil
	}
	if len(weights) > maxAdditionalVersion {
		return invalidf("Invalid RoutingConfig: an alias can route to at most %d additional version, got %d.", maxAdditionalVersion, len(weights))
	}
	for v, wt := range weights {
		if !isVersionNumber(v) || len(v) > 1024 {
			return constraint(v, "routingConfig.additionalVersionWeights", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+]")
		}
		if wt < 0 || wt > 1 {
			return constraint(wt, "routingConfig.additionalVersionWeights", "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]")
		}
		if primary == stratus.LatestVersion {
			return invalidf("$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if v == primary {
			return invalidf("Invalid function version %s. Function version %s is already included in routing configuration.", v, v)
		}
	}
	return nil
}

// checkVersionsExist fails with Function not found (qualified ARN) for
// the first of versions that is not a published version of fn.
func (h *Handler) checkVersionsExist(ctx context.Context, vs stratus.VersionService, fn string, versions ...string) error {
	for _, v := range versions {
		if v == stratus.LatestVersion {
			continue
		}
		if _, err := vs.Version(ctx, fn, v); err != nil {
			return h.orNotFound(err, fn, v)
		}
	}
	return nil
}

func weightVersions(weights map[string]float64) []string {
	out := make([]string, 0, len(weights))
	for v := range weights {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// aliasNotFound is AWS's 404 for a missing alias.
func (h *Handler) aliasNotFound(fn, alias string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Alias not found: %s", FunctionARN(h.cfg.Region, h.cfg.AccountID, fn, alias))
}

// aliasFunction parses the FunctionName of an alias operation and checks
// that the function exists.
func (h *Handler) aliasFunction(ctx context.Context, arg string) (string, stratus.VersionService, error) {
	ref, err := h.unqualified(arg)
	if err != nil {
		return "", nil, err
	}
	vs, err := h.versionService()
	if err != nil {
		return "", nil, err
	}
	if _, err := h.fns.Function(ctx, ref.Name); err != nil {
		return "", nil, h.orNotFound(err, ref.Name, "")
	}
	return ref.Name, vs, nil
}

// aliasTarget parses the FunctionName and {Name} path parameters of an
// operation on one alias and checks that the function exists.
func (h *Handler) aliasTarget(ctx context.Context, arg, aliasArg string) (fn, name string, vs stratus.VersionService, err error) {
	if fn, vs, err = h.aliasFunction(ctx, arg); err != nil {
		return "", "", nil, err
	}
	if name, err = aliasPathName(aliasArg); err != nil {
		return "", "", nil, err
	}
	return fn, name, vs, nil
}

// orAliasNotFound renders a missing alias as AWS's 404.
func (h *Handler) orAliasNotFound(err error, fn, name string) error {
	if stratus.ErrorCode(err) == stratus.ENOTFOUND {
		return h.aliasNotFound(fn, name)
	}
	return err
}

// aliasPathName decodes and checks the {Name} path parameter.
func aliasPathName(escaped string) (string, error) {
	name, err := url.PathUnescape(escaped)
	if err != nil {
		name = escaped
	}
	return name, validateAliasName(name, "name")
}

// createAlias serves POST /2015-03-31/functions/{name}/aliases → 201.
func (h *Handler) createAlias(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	fn, vs, err := h.aliasFunction(ctx, arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "CreateAlias")
	if err != nil {
		return err
	}
	var req createAliasRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return notNull("name")
	}
	if err := validateAliasName(*req.Name, "name"); err != nil {
		return err
	}
	if req.FunctionVersion == nil {
		return notNull("functionVersion")
	}
	if err := validateFunctionVersion(*req.FunctionVersion); err != nil {
		return err
	}
	if req.Description != nil && len(*req.Description) > maxDescriptionLen {
		return constraint(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	a := &stratus.Alias{
		FunctionName:    fn,
		Name:            *req.Name,
		FunctionVersion: *req.FunctionVersion,
		Description:     deref(req.Description),
		RevisionID:      awsapi.NewRequestID(),
	}
	if req.RoutingConfig != nil && len(req.RoutingConfig.AdditionalVersionWeights) > 0 {
		a.AdditionalVersionWeights = req.RoutingConfig.AdditionalVersionWeights
	}
	if err := validateRouting(a.FunctionVersion, a.AdditionalVersionWeights); err != nil {
		return err
	}
	if err := h.checkVersionsExist(ctx, vs, fn, append([]string{a.FunctionVersion}, weightVersions(a.AdditionalVersionWeights)...)...); err != nil {
		return err
	}
	if err := vs.CreateAlias(ctx, a); err != nil {
		if stratus.ErrorCode(err) == stratus.ECONFLICT {
			return stratus.Errorf(stratus.ECONFLICT, "Alias already exists: %s", FunctionARN(h.cfg.Region, h.cfg.AccountID, fn, a.Name))
		}
		return h.orNotFound(err, fn, "")
	}
	awsapi.WriteJSON(w, http.StatusCreated, h.aliasConfiguration(a))
	return nil
}

// getAlias serves GET /2015-03-31/functions/{name}/aliases/{alias}.
func (h *Handler) getAlias(w http.ResponseWriter, r *http.Request, arg, aliasArg string) error {
	ctx := r.Context()
	fn, name, vs, err := h.aliasTarget(ctx, arg, aliasArg)
	if err != nil {
		return err
	}
	a, err := vs.Alias(ctx, fn, name)
	if err != nil {
		return h.orAliasNotFound(err, fn, name)
	}
	awsapi.WriteJSON(w, http.StatusOK, h.aliasConfiguration(a))
	return nil
}

// updateAlias serves PUT /2015-03-31/functions/{name}/aliases/{alias}:
// members that are present replace the stored ones; a RoutingConfig
// replaces the routing (an empty one removes it).
func (h *Handler) updateAlias(w http.ResponseWriter, r *http.Request, arg, aliasArg string) error {
	ctx := r.Context()
	fn, name, vs, err := h.aliasTarget(ctx, arg, aliasArg)
	if err != nil {
		return err
	}
	if _, err := vs.Alias(ctx, fn, name); err != nil {
		return h.orAliasNotFound(err, fn, name)
	}
	body, err := readBody(r, maxJSONBody, "UpdateAlias")
	if err != nil {
		return err
	}
	var req updateAliasRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.FunctionVersion != nil {
		if err := validateFunctionVersion(*req.FunctionVersion); err != nil {
			return err
		}
	}
	if req.Description != nil && len(*req.Description) > maxDescriptionLen {
		return constraint(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	a, err := vs.UpdateAlias(ctx, fn, name, func(a *stratus.Alias) error {
		if req.RevisionId != nil && *req.RevisionId != a.RevisionID {
			return errRevision()
		}
		if req.FunctionVersion != nil {
			a.FunctionVersion = *req.FunctionVersion
		}
		if req.Description != nil {
			a.Description = *req.Description
		}
		if req.RoutingConfig != nil {
			a.AdditionalVersionWeights = nil
			if len(req.RoutingConfig.AdditionalVersionWeights) > 0 {
				a.AdditionalVersionWeights = req.RoutingConfig.AdditionalVersionWeights
			}
		}
		if err := validateRouting(a.FunctionVersion, a.AdditionalVersionWeights); err != nil {
			return err
		}
		if err := h.checkVersionsExist(ctx, vs, fn, append([]string{a.FunctionVersion}, weightVersions(a.AdditionalVersionWeights)...)...); err != nil {
			return err
		}
		a.RevisionID = awsapi.NewRequestID()
		return nil
	})
	if err != nil {
		return err // a missing version was rendered by checkVersionsExist
	}
	awsapi.WriteJSON(w, http.StatusOK, h.aliasConfiguration(a))
	return nil
}

// deleteAlias serves DELETE /2015-03-31/functions/{name}/aliases/{alias} → 204.
func (h *Handler) deleteAlias(w http.ResponseWriter, r *http.Request, arg, aliasArg string) error {
	ctx := r.Context()
	fn, name, vs, err := h.aliasTarget(ctx, arg, aliasArg)
	if err != nil {
		return err
	}
	if err := vs.DeleteAlias(ctx, fn, name); err != nil {
		return h.orAliasNotFound(err, fn, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listAliases serves GET /2015-03-31/functions/{name}/aliases, optionally
// only the aliases of ?FunctionVersion=, at most 50 per page; the Marker
// is the base64url of the previous page's last alias name.
func (h *Handler) listAliases(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	fn, vs, err := h.aliasFunction(ctx, arg)
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
	version := q.Get("FunctionVersion")
	if version != "" {
		if err := validateFunctionVersion(version); err != nil {
			return err
		}
	}
	aliases, err := vs.Aliases(ctx, fn)
	if err != nil {
		return h.orNotFound(err, fn, "")
	}
	resp := listAliasesResponse{Aliases: []*aliasConfiguration{}}
	more := false
	for _, a := range aliases {
		if a.Name <= after && after != "" {
			continue
		}
		if _, ok := a.AdditionalVersionWeights[version]; version != "" && a.FunctionVersion != version && !ok {
			continue
		}
		if len(resp.Aliases) == max {
			more = true
			break
		}
		resp.Aliases = append(resp.Aliases, h.aliasConfiguration(a))
	}
	if more {
		resp.NextMarker = encodeMarker(resp.Aliases[len(resp.Aliases)-1].Name)
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}
