package lambdaapi

import (
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// concurrencyRoutes are the reserved and provisioned concurrency
// operations (reference §2.6). The settings live in Config.Concurrency;
// the Invoker puts them into force (admission, pre-initialised
// environments) and reports the allocation of provisioned concurrency
// through the optional provisionedReporter interface.
func (h *Handler) concurrencyRoutes() []route {
	return []route{
		{method: http.MethodPut, pattern: "2017-10-31/functions/*/concurrency", op: one(h.putFunctionConcurrency)},
		{method: http.MethodGet, pattern: "2019-09-30/functions/*/concurrency", op: one(h.getFunctionConcurrency)},
		{method: http.MethodDelete, pattern: "2017-10-31/functions/*/concurrency", op: one(h.deleteFunctionConcurrency)},
		{method: http.MethodPut, pattern: "2019-09-30/functions/*/provisioned-concurrency", op: one(h.putProvisionedConcurrency)},
		{method: http.MethodGet, pattern: "2019-09-30/functions/*/provisioned-concurrency", op: one(h.getProvisionedConcurrency)},
		{method: http.MethodDelete, pattern: "2019-09-30/functions/*/provisioned-concurrency", op: one(h.deleteProvisionedConcurrency)},
	}
}

// provisionedReporter is implemented by an Invoker that keeps provisioned
// environments (the router).
type provisionedReporter interface {
	ProvisionedAllocation(function, qualifier string) (stratus.ProvisionedAllocation, bool)
}

// concurrencyService returns the store of concurrency settings; without
// one, the operations fail as unsupported.
func (h *Handler) concurrencyService() (stratus.ConcurrencyService, error) {
	if h.cfg.Concurrency == nil {
		return nil, unsupported("Concurrency settings are not supported by this server.")
	}
	return h.cfg.Concurrency, nil
}

// concurrencyFunction parses the FunctionName of a function-level
// concurrency operation: it must name the function, not a version or an
// alias, and the function must exist.
func (h *Handler) concurrencyFunction(ctx context.Context, arg string) (string, stratus.ConcurrencyService, error) {
	cs, err := h.concurrencyService()
	if err != nil {
		return "", nil, err
	}
	ref, err := h.parseFunctionParam(arg, "")
	if err != nil {
		return "", nil, err
	}
	if ref.Qualifier != "" {
		return "", nil, invalidf("Concurrency settings apply to the whole function: %s names a qualifier (%s). Use the function name.", ref.Name, ref.Qualifier)
	}
	if _, err := h.fns.Function(ctx, ref.Name); err != nil {
		return "", nil, h.orNotFound(err, ref.Name, "")
	}
	return ref.Name, cs, nil
}

type reservedConcurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// errUnreservedMinimum is AWS's answer when a setting would leave less
// than 100 of the account's concurrency unreserved.
func (h *Handler) errUnreservedMinimum(field string) error {
	return invalidf("Specified %s for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].",
		field, stratus.UnreservedMinimum(h.cfg.AccountConcurrency))
}

// belowMinimum reports whether c leaves less than the unreserved minimum
// of the account's concurrency.
func (h *Handler) belowMinimum(c *stratus.ConcurrencyConfig) bool {
	a := h.cfg.AccountConcurrency
	return a-c.Committed() < stratus.UnreservedMinimum(a)
}

// putFunctionConcurrency serves PutFunctionConcurrency:
// PUT /2017-10-31/functions/{name}/concurrency → 200.
func (h *Handler) putFunctionConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	name, cs, err := h.concurrencyFunction(ctx, arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "PutFunctionConcurrency")
	if err != nil {
		return err
	}
	var req reservedConcurrency
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	if req.ReservedConcurrentExecutions == nil {
		return notNull("reservedConcurrentExecutions")
	}
	n := *req.ReservedConcurrentExecutions
	if n < 0 {
		return constraint(n, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
	}
	_, err = cs.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
		if p := c.ProvisionedFor(name); n < p {
			return invalidf("Specified ReservedConcurrentExecutions for function is less than the function's provisioned concurrency [%d].", p)
		}
		if c.Reserved == nil {
			c.Reserved = map[string]int{}
		}
		c.Reserved[name] = n
		if h.belowMinimum(c) {
			return h.errUnreservedMinimum("ReservedConcurrentExecutions")
		}
		return nil
	})
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, &reservedConcurrency{ReservedConcurrentExecutions: &n})
	return nil
}

// getFunctionConcurrency serves GetFunctionConcurrency:
// GET /2019-09-30/functions/{name}/concurrency → 200, {} when unset.
func (h *Handler) getFunctionConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	name, cs, err := h.concurrencyFunction(ctx, arg)
	if err != nil {
		return err
	}
	c, err := cs.Concurrency(ctx)
	if err != nil {
		return err
	}
	var resp reservedConcurrency
	if n, ok := c.ReservedFor(name); ok {
		resp.ReservedConcurrentExecutions = &n
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

// deleteFunctionConcurrency serves DeleteFunctionConcurrency:
// DELETE /2017-10-31/functions/{name}/concurrency → 204.
func (h *Handler) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	name, cs, err := h.concurrencyFunction(ctx, arg)
	if err != nil {
		return err
	}
	_, err = cs.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
		delete(c.Reserved, name)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// functionConcurrency is the Concurrency member of GetFunction's output,
// nil when the function has no reservation.
func (h *Handler) functionConcurrency(ctx context.Context, name string) *reservedConcurrency {
	if h.cfg.Concurrency == nil {
		return nil
	}
	c, err := h.cfg.Concurrency.Concurrency(ctx)
	if err != nil {
		return nil
	}
	n, ok := c.ReservedFor(name)
	if !ok {
		return nil
	}
	return &reservedConcurrency{ReservedConcurrentExecutions: &n}
}

// unreservedConcurrency is GetAccountSettings' UnreservedConcurrentExecutions:
// the account's concurrency minus every reservation.
func (h *Handler) unreservedConcurrency(ctx context.Context) (int, error) {
	if h.cfg.Concurrency == nil {
		return h.cfg.AccountConcurrency, nil
	}
	c, err := h.cfg.Concurrency.Concurrency(ctx)
	if err != nil {
		return 0, err
	}
	return h.cfg.AccountConcurrency - c.TotalReserved(), nil
}

// provisionedConfig is the output of Put/GetProvisionedConcurrencyConfig
// and an item of ListProvisionedConcurrencyConfigs (with FunctionArn).
type provisionedConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

// provisionedView renders the configuration on name:qualifier with the
// Invoker's allocation.
func (h *Handler) provisionedView(name, qualifier string, pc stratus.ProvisionedConfig) *provisionedConfig {
	out := &provisionedConfig{
		RequestedProvisionedConcurrentExecutions: pc.Requested,
		Status:                                   "IN_PROGRESS",
		LastModified:                             formatLastModified(pc.LastModified),
	}
	if pr, ok := h.inv.(provisionedReporter); ok {
		if a, ok := pr.ProvisionedAllocation(name, qualifier); ok {
			out.AllocatedProvisionedConcurrentExecutions = a.Allocated
			out.AvailableProvisionedConcurrentExecutions = a.Available
			out.Status, out.StatusReason = a.Status, a.StatusReason
		}
	}
	return out
}

// provisionedTarget parses the FunctionName and required Qualifier of a
// provisioned concurrency operation.
func (h *Handler) provisionedTarget(r *http.Request, arg string) (functionRef, stratus.ConcurrencyService, error) {
	cs, err := h.concurrencyService()
	if err != nil {
		return functionRef{}, nil, err
	}
	q := r.URL.Query()
	if !q.Has("Qualifier") {
		return functionRef{}, nil, notNull("qualifier")
	}
	ref, err := h.parseFunctionParam(arg, q.Get("Qualifier"))
	if err != nil {
		return ref, nil, err
	}
	if _, err := h.fns.Function(r.Context(), ref.Name); err != nil {
		return ref, nil, h.orNotFound(err, ref.Name, "")
	}
	return ref, cs, nil
}

type putProvisionedRequest struct {
	ProvisionedConcurrentExecutions *int
}

// putProvisionedConcurrency serves PutProvisionedConcurrencyConfig:
// PUT /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier= → 202.
// The qualifier must be a published version or an alias of one; the
// environments are initialised in the background (Status IN_PROGRESS,
// then READY).
func (h *Handler) putProvisionedConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	ref, cs, err := h.provisionedTarget(r, arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "PutProvisionedConcurrencyConfig")
	if err != nil {
		return err
	}
	var req putProvisionedRequest
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	if req.ProvisionedConcurrentExecutions == nil {
		return notNull("provisionedConcurrentExecutions")
	}
	n := *req.ProvisionedConcurrentExecutions
	if n < 1 {
		return constraint(n, "provisionedConcurrentExecutions", "Member must have value greater than or equal to 1")
	}
	if isLatest(ref.Qualifier) {
		return errUnpublished()
	}
	fn, err := h.resolveQualified(ctx, ref)
	if err != nil {
		return err
	}
	if isLatest(fn.Version) { // an alias of $LATEST
		return errUnpublished()
	}
	pc := stratus.ProvisionedConfig{Requested: n, LastModified: h.cfg.Now()}
	_, err = cs.UpdateConcurrency(ctx, func(c *stratus.ConcurrencyConfig) error {
		if c.Provisioned == nil {
			c.Provisioned = map[string]map[string]stratus.ProvisionedConfig{}
		}
		qs := c.Provisioned[ref.Name]
		if qs == nil {
			qs = map[string]stratus.ProvisionedConfig{}
			c.Provisioned[ref.Name] = qs
		}
		qs[ref.Qualifier] = pc
		if res, ok := c.ReservedFor(ref.Name); ok {
			if total := c.ProvisionedFor(ref.Name); total > res {
				return invalidf("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function [%d].", res)
			}
			return nil
		}
		if h.belowMinimum(c) {
			return h.errUnreservedMinimum("ProvisionedConcurrentExecutions")
		}
		return nil
	})
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusAccepted, h.provisionedView(ref.Name, ref.Qualifier, pc))
	return nil
}

func errUnpublished() error {
	return invalidf("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
}

// writeProvisionedNotFound answers ProvisionedConcurrencyConfigNotFoundException (404).
func writeProvisionedNotFound(w http.ResponseWriter) {
	(&awsapi.RestJSONError{
		Status:  http.StatusNotFound,
		Code:    "ProvisionedConcurrencyConfigNotFoundException",
		Message: "No Provisioned Concurrency Config found for this function",
	}).Write(w)
}

// getProvisionedConcurrency serves GetProvisionedConcurrencyConfig (GET
// .../provisioned-concurrency?Qualifier=) and, with ?List=ALL,
// ListProvisionedConcurrencyConfigs.
func (h *Handler) getProvisionedConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	if r.URL.Query().Has("List") {
		return h.listProvisionedConcurrency(w, r, arg)
	}
	ctx := r.Context()
	ref, cs, err := h.provisionedTarget(r, arg)
	if err != nil {
		return err
	}
	c, err := cs.Concurrency(ctx)
	if err != nil {
		return err
	}
	pc, ok := c.Provisioned[ref.Name][ref.Qualifier]
	if !ok {
		writeProvisionedNotFound(w)
		return nil
	}
	awsapi.WriteJSON(w, http.StatusOK, h.provisionedView(ref.Name, ref.Qualifier, pc))
	return nil
}

// deleteProvisionedConcurrency serves DeleteProvisionedConcurrencyConfig
// → 204; the environments are shut down as they become idle.
func (h *Handler) deleteProvisionedConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ref, cs, err := h.provisionedTarget(r, arg)
	if err != nil {
		return err
	}
	found := false
	_, err = cs.UpdateConcurrency(r.Context(), func(c *stratus.ConcurrencyConfig) error {
		_, found = c.Provisioned[ref.Name][ref.Qualifier]
		delete(c.Provisioned[ref.Name], ref.Qualifier)
		if len(c.Provisioned[ref.Name]) == 0 {
			delete(c.Provisioned, ref.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		writeProvisionedNotFound(w)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listProvisionedResponse struct {
	ProvisionedConcurrencyConfigs []*provisionedConfig `json:"ProvisionedConcurrencyConfigs"`
	NextMarker                    string               `json:"NextMarker,omitempty"`
}

// listProvisionedConcurrency serves ListProvisionedConcurrencyConfigs:
// GET /2019-09-30/functions/{name}/provisioned-concurrency?List=ALL, at
// most MaxItems (≤ 50) per page, ordered by qualifier; the Marker is the
// index of the next item.
func (h *Handler) listProvisionedConcurrency(w http.ResponseWriter, r *http.Request, arg string) error {
	ctx := r.Context()
	name, cs, err := h.concurrencyFunction(ctx, arg)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max := 50
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return constraint(s, "maxItems", "Member must have value greater than or equal to 1")
		}
		if n > 50 {
			return constraint(n, "maxItems", "Member must have value less than or equal to 50")
		}
		max = n
	}
	from := 0
	if m := q.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return invalidf("Invalid Marker: %s", m)
		}
		from = n
	}
	c, err := cs.Concurrency(ctx)
	if err != nil {
		return err
	}
	quals := make([]string, 0, len(c.Provisioned[name]))
	for q := range c.Provisioned[name] {
		quals = append(quals, q)
	}
	sort.Strings(quals)
	resp := listProvisionedResponse{ProvisionedConcurrencyConfigs: []*provisionedConfig{}}
	for i := from; i < len(quals) && len(resp.ProvisionedConcurrencyConfigs) < max; i++ {
		v := h.provisionedView(name, quals[i], c.Provisioned[name][quals[i]])
		v.FunctionArn = FunctionARN(h.cfg.Region, h.cfg.AccountID, name, quals[i])
		resp.ProvisionedConcurrencyConfigs = append(resp.ProvisionedConcurrencyConfigs, v)
		if i+1 < len(quals) && len(resp.ProvisionedConcurrencyConfigs) == max {
			resp.NextMarker = strconv.Itoa(i + 1)
		}
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}
