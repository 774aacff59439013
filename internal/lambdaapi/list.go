package lambdaapi

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"

	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

// listPageSize is the most functions ListFunctions returns at once,
// whatever MaxItems says.
const listPageSize = 50

type listFunctionsResponse struct {
	Functions  []*functionConfiguration `json:"Functions"`
	NextMarker string                   `json:"NextMarker,omitempty"`
}

// listFunctions serves GET /2015-03-31/functions/. The Marker is opaque to
// clients: the base64url of the last name of the previous page.
// FunctionVersion=ALL lists every published version too (listAllVersions);
// MasterRegion selects Lambda@Edge replicas, of which there are none.
func (h *Handler) listFunctions(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	max := listPageSize
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return constraint(s, "maxItems", "Member must be an integer")
		}
		if n < 1 {
			return constraint(n, "maxItems", "Member must have value greater than or equal to 1")
		}
		if n > 10000 {
			return constraint(n, "maxItems", "Member must have value less than or equal to 10000")
		}
		max = min(n, listPageSize)
	}
	if v := q.Get("FunctionVersion"); v != "" && v != "ALL" {
		return constraint(v, "functionVersion", "Member must satisfy enum value set: [ALL]")
	}
	all := q.Get("FunctionVersion") == "ALL"
	after, afterVersion := "", -1 // resume after this function (and version, with ALL)
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		name, v, hasVersion := strings.Cut(string(b), ":")
		n, verr := strconv.Atoi(v)
		if err != nil || !isFunctionName(name) || hasVersion && (verr != nil || n < 0) {
			return invalidf("Invalid Marker: %s", m)
		}
		after = name
		if hasVersion {
			afterVersion = n
		}
	}
	resp := listFunctionsResponse{Functions: []*functionConfiguration{}}
	if q.Get("MasterRegion") != "" {
		awsapi.WriteJSON(w, http.StatusOK, &resp)
		return nil
	}
	fns, err := h.fns.Functions(r.Context())
	if err != nil {
		return err
	}
	if all {
		return h.listAllVersions(w, r, fns, after, afterVersion, max)
	}
	i := sort.Search(len(fns), func(i int) bool { return fns[i].Name > after })
	for ; i < len(fns) && len(resp.Functions) < max; i++ {
		resp.Functions = append(resp.Functions, h.listItem(fns[i]))
	}
	if i < len(fns) && len(resp.Functions) > 0 {
		resp.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(fns[i-1].Name))
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

// listAllVersions serves ListFunctions with FunctionVersion=ALL: every
// function's $LATEST (with a qualified ARN) followed by its published
// versions. The marker is "name:n" of the last item, n = 0 for $LATEST.
func (h *Handler) listAllVersions(w http.ResponseWriter, r *http.Request, fns []*stratus.Function, after string, afterVersion, max int) error {
	resp := listFunctionsResponse{Functions: []*functionConfiguration{}}
	vs, _ := h.fns.(stratus.VersionService)
	last := ""
	i := sort.Search(len(fns), func(i int) bool { return fns[i].Name >= after })
	for ; i < len(fns); i++ {
		items := []*stratus.Function{fns[i]}
		if vs != nil {
			versions, err := vs.Versions(r.Context(), fns[i].Name)
			if err != nil && stratus.ErrorCode(err) != stratus.ENOTFOUND {
				return err
			}
			items = append(items, versions...)
		}
		for _, fn := range items {
			n, _ := strconv.Atoi(fn.Version) // 0 for $LATEST
			if fn.Name == after && n <= afterVersion {
				continue
			}
			if fn.Name == after && afterVersion < 0 {
				break // an unversioned marker resumes after the whole function
			}
			if len(resp.Functions) == max {
				resp.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(last))
				awsapi.WriteJSON(w, http.StatusOK, &resp)
				return nil
			}
			c := h.listItem(fn)
			if fn.Version == stratus.LatestVersion {
				c.FunctionArn = FunctionARN(h.cfg.Region, h.cfg.AccountID, fn.Name, stratus.LatestVersion)
			}
			resp.Functions = append(resp.Functions, c)
			last = fn.Name + ":" + strconv.Itoa(n)
		}
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

type accountSettingsResponse struct {
	AccountLimit accountLimit `json:"AccountLimit"`
	AccountUsage accountUsage `json:"AccountUsage"`
}

type accountLimit struct {
	TotalCodeSize                  int64 `json:"TotalCodeSize"`
	CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
	CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
	ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
	UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
}

type accountUsage struct {
	TotalCodeSize int64 `json:"TotalCodeSize"`
	FunctionCount int64 `json:"FunctionCount"`
}

// totalCodeSizeLimit is Lambda's 75 GB code storage quota.
const totalCodeSizeLimit = 80530636800

// getAccountSettings serves GET /2016-08-19/account-settings.
func (h *Handler) getAccountSettings(w http.ResponseWriter, r *http.Request, _ string) error {
	fns, err := h.fns.Functions(r.Context())
	if err != nil {
		return err
	}
	unreserved, err := h.unreservedConcurrency(r.Context())
	if err != nil {
		return err
	}
	lim := h.cfg.Limits
	d := pkgzip.DefaultLimits()
	resp := accountSettingsResponse{
		AccountLimit: accountLimit{
			TotalCodeSize:                  totalCodeSizeLimit,
			CodeSizeUnzipped:               orDefault(lim.MaxUnzippedBytes, d.MaxUnzippedBytes),
			CodeSizeZipped:                 orDefault(lim.MaxZipBytes, d.MaxZipBytes),
			ConcurrentExecutions:           h.cfg.AccountConcurrency,
			UnreservedConcurrentExecutions: unreserved,
		},
		AccountUsage: accountUsage{FunctionCount: int64(len(fns))},
	}
	for _, fn := range fns {
		resp.AccountUsage.TotalCodeSize += fn.Code.Size
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}
