package lambdaapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// Tag operations act on /2017-03-31/tags/{ARN}, where ARN is an
// unqualified function ARN. Tags are resource metadata: changing them does
// not change the function's RevisionId.

type listTagsResponse struct {
	Tags map[string]string `json:"Tags"`
}

// tagResourceName parses the {ARN} path parameter.
func (h *Handler) tagResourceName(escaped string) (string, error) {
	s, err := url.PathUnescape(escaped)
	if err != nil || !strings.HasPrefix(s, "arn:") {
		return "", constraint(escaped, "resource", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:function:[a-zA-Z0-9-_]+")
	}
	ref, err := h.parseFunctionName(s)
	if err != nil {
		return "", err
	}
	if ref.Qualifier != "" {
		return "", invalidf("Tags are not supported on function versions or aliases: %s", s)
	}
	return ref.Name, nil
}

// listTags serves GET /2017-03-31/tags/{ARN}.
func (h *Handler) listTags(w http.ResponseWriter, r *http.Request, arg string) error {
	name, err := h.tagResourceName(arg)
	if err != nil {
		return err
	}
	fn, err := h.fns.Function(r.Context(), name)
	if err != nil {
		return h.orNotFound(err, name, "")
	}
	resp := listTagsResponse{Tags: fn.Tags}
	if resp.Tags == nil {
		resp.Tags = map[string]string{}
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

// tagResource serves POST /2017-03-31/tags/{ARN} → 204: the given tags are
// added, replacing values of existing keys.
func (h *Handler) tagResource(w http.ResponseWriter, r *http.Request, arg string) error {
	name, err := h.tagResourceName(arg)
	if err != nil {
		return err
	}
	body, err := readBody(r, maxJSONBody, "TagResource")
	if err != nil {
		return err
	}
	var req tagResourceRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Tags == nil {
		return notNull("tags")
	}
	if err := validateTags(req.Tags); err != nil {
		return err
	}
	_, err = h.fns.UpdateFunction(r.Context(), name, func(fn *stratus.Function) error {
		if fn.Tags == nil {
			fn.Tags = make(map[string]string, len(req.Tags))
		}
		for k, v := range req.Tags {
			fn.Tags[k] = v
		}
		return validateTags(fn.Tags)
	})
	if err != nil {
		return h.orNotFound(err, name, "")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// untagResource serves DELETE /2017-03-31/tags/{ARN}?tagKeys=a&tagKeys=b → 204.
func (h *Handler) untagResource(w http.ResponseWriter, r *http.Request, arg string) error {
	name, err := h.tagResourceName(arg)
	if err != nil {
		return err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return notNull("tagKeys")
	}
	_, err = h.fns.UpdateFunction(r.Context(), name, func(fn *stratus.Function) error {
		for _, k := range keys {
			delete(fn.Tags, k)
		}
		if len(fn.Tags) == 0 {
			fn.Tags = nil
		}
		return nil
	})
	if err != nil {
		return h.orNotFound(err, name, "")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
