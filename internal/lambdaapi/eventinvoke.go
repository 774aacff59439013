package lambdaapi

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// Limits of event invoke configurations (reference §2.9).
const (
	minRetryAttempts, maxRetryAttempts = 0, 2
	minEventAge, maxEventAge           = 60, 21600
	maxDestinationLen                  = 350
	eventInvokeConfigPageSize          = 50
)

// destinationRE is the model's DestinationArn pattern.
var destinationRE = regexp.MustCompile(`^$|^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$`)

// eventInvokeConfigRoutes are the asynchronous invocation configuration
// operations (PutFunctionEventInvokeConfig and friends).
func (h *Handler) eventInvokeConfigRoutes() []route {
	const p = "2019-09-25/functions/*/event-invoke-config"
	return []route{
		{method: http.MethodPut, pattern: p, op: one(h.putEventInvokeConfig)},
		{method: http.MethodPost, pattern: p, op: one(h.updateEventInvokeConfig)},
		{method: http.MethodGet, pattern: p, op: one(h.getEventInvokeConfig)},
		{method: http.MethodDelete, pattern: p, op: one(h.deleteEventInvokeConfig)},
		{method: http.MethodGet, pattern: p + "/list", op: one(h.listEventInvokeConfigs)},
	}
}

type eventInvokeConfigRequest struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	DestinationConfig        *destinationConfigRequest
}

type destinationConfigRequest struct {
	OnSuccess *destinationRequest
	OnFailure *destinationRequest
}

type destinationRequest struct {
	Destination *string
}

// eventInvokeConfigResponse is FunctionEventInvokeConfig. LastModified is
// epoch seconds as a JSON number; unset limits are left out.
type eventInvokeConfigResponse struct {
	LastModified             float64             `json:"LastModified"`
	FunctionArn              string              `json:"FunctionArn"`
	MaximumRetryAttempts     *int                `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int                `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        destinationResponse `json:"DestinationConfig"`
}

type destinationResponse struct {
	OnSuccess destinationTarget `json:"OnSuccess"`
	OnFailure destinationTarget `json:"OnFailure"`
}

type destinationTarget struct {
	Destination string `json:"Destination,omitempty"`
}

type listEventInvokeConfigsResponse struct {
	FunctionEventInvokeConfigs []*eventInvokeConfigResponse `json:"FunctionEventInvokeConfigs"`
	NextMarker                 string                       `json:"NextMarker,omitempty"`
}

func (h *Handler) eventInvokeConfigResponse(c *stratus.EventInvokeConfig) *eventInvokeConfigResponse {
	return &eventInvokeConfigResponse{
		LastModified:             float64(c.LastModified.UnixMilli()) / 1000,
		FunctionArn:              FunctionARN(h.cfg.Region, h.cfg.AccountID, c.FunctionName, orLatestQualifier(c.Qualifier)),
		MaximumRetryAttempts:     c.MaximumRetryAttempts,
		MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
		DestinationConfig: destinationResponse{
			OnSuccess: destinationTarget{Destination: c.OnSuccess},
			OnFailure: destinationTarget{Destination: c.OnFailure},
		},
	}
}

func orLatestQualifier(q string) string {
	if q == "" {
		return stratus.LatestVersion
	}
	return q
}

// eventConfigs returns the configuration store, or the error of a server
// without asynchronous invocation.
func (h *Handler) eventConfigs() (stratus.EventInvokeConfigService, error) {
	if h.cfg.EventInvokeConfigs == nil {
		return nil, unsupported("Asynchronous invocation is not configured on this server.")
	}
	return h.cfg.EventInvokeConfigs, nil
}

// eventConfigTarget parses the function and qualifier of an event invoke
// config operation and checks that they exist.
func (h *Handler) eventConfigTarget(r *http.Request, arg string) (functionRef, error) {
	ref, err := h.parseFunctionParam(arg, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return ref, err
	}
	ref.Qualifier = orLatestQualifier(ref.Qualifier)
	if err := h.dryRun(r, &stratus.InvokeRequest{FunctionName: ref.Name, Qualifier: ref.Qualifier}); err != nil {
		return ref, err
	}
	return ref, nil
}

// decodeEventInvokeConfig reads a Put/Update body and checks the model's
// constraints.
func decodeEventInvokeConfig(r *http.Request, op string) (*eventInvokeConfigRequest, error) {
	body, err := readBody(r, maxJSONBody, op)
	if err != nil {
		return nil, err
	}
	var req eventInvokeConfigRequest
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
	}
	if err := checkRange(req.MaximumRetryAttempts, "maximumRetryAttempts", minRetryAttempts, maxRetryAttempts); err != nil {
		return nil, err
	}
	if err := checkRange(req.MaximumEventAgeInSeconds, "maximumEventAgeInSeconds", minEventAge, maxEventAge); err != nil {
		return nil, err
	}
	if dc := req.DestinationConfig; dc != nil {
		for _, d := range []struct {
			dest  *destinationRequest
			field string
		}{{dc.OnSuccess, "destinationConfig.onSuccess.destination"}, {dc.OnFailure, "destinationConfig.onFailure.destination"}} {
			if d.dest == nil || d.dest.Destination == nil {
				continue
			}
			arn := *d.dest.Destination
			if len(arn) > maxDestinationLen {
				return nil, constraint(arn, d.field, "Member must have length less than or equal to 350")
			}
			if !destinationRE.MatchString(arn) {
				return nil, constraint(arn, d.field, `Member must satisfy regular expression pattern: ^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)
			}
		}
	}
	return &req, nil
}

// apply copies the members present in req onto c; replace resets the
// absent ones first (Put replaces, Update merges).
func (req *eventInvokeConfigRequest) apply(c *stratus.EventInvokeConfig, replace bool) {
	if replace {
		c.MaximumRetryAttempts, c.MaximumEventAgeInSeconds, c.OnSuccess, c.OnFailure = nil, nil, "", ""
	}
	if req.MaximumRetryAttempts != nil {
		n := *req.MaximumRetryAttempts
		c.MaximumRetryAttempts = &n
	}
	if req.MaximumEventAgeInSeconds != nil {
		n := *req.MaximumEventAgeInSeconds
		c.MaximumEventAgeInSeconds = &n
	}
	if dc := req.DestinationConfig; dc != nil {
		if dc.OnSuccess != nil {
			c.OnSuccess = deref(dc.OnSuccess.Destination)
		}
		if dc.OnFailure != nil {
			c.OnFailure = deref(dc.OnFailure.Destination)
		}
	}
}

// validateDestinations checks the destinations of c: a function or a
// standard SQS queue of this region and account, never the function
// itself.
func (h *Handler) validateDestinations(c *stratus.EventInvokeConfig) error {
	for _, d := range []struct{ arn, kind string }{{c.OnSuccess, "OnSuccess"}, {c.OnFailure, "OnFailure"}} {
		if d.arn == "" {
			continue
		}
		parts := strings.Split(d.arn, ":")
		service := parts[2]
		switch service {
		case "sns":
			return unsupported("SNS topic destinations are not supported by this server yet: %s. Use a function or an SQS queue.", d.arn)
		case "events":
			return unsupported("EventBridge destinations are not supported by this server: %s. Use a function or an SQS queue.", d.arn)
		case "s3":
			return unsupported("S3 bucket destinations are not supported by this server: %s. Use a function or an SQS queue.", d.arn)
		case "sqs", "lambda":
		default:
			return invalidf("The destination ARN %s is not supported: %s destinations must be a Lambda function, an SQS queue, an SNS topic, an EventBridge event bus or (on failure) an S3 bucket.", d.arn, d.kind)
		}
		if parts[1] != "aws" || parts[3] != h.cfg.Region || parts[4] != h.cfg.AccountID {
			return unsupported("Destination %s is not in this server's region and account (%s, %s).", d.arn, h.cfg.Region, h.cfg.AccountID)
		}
		rest := parts[5:]
		switch service {
		case "sqs":
			if len(rest) != 1 || !isQueueName(rest[0]) {
				return invalidf("The destination ARN %s is not a valid SQS queue ARN.", d.arn)
			}
			if strings.HasSuffix(rest[0], ".fifo") {
				return invalidf("The destination %s is a FIFO queue; destinations must be standard SQS queues.", d.arn)
			}
		case "lambda":
			if len(rest) < 2 || len(rest) > 3 || rest[0] != "function" || !isFunctionName(rest[1]) || (len(rest) == 3 && !isQualifier(rest[2])) {
				return invalidf("The destination ARN %s is not a valid Lambda function ARN.", d.arn)
			}
			if rest[1] == c.FunctionName {
				return invalidf("You can't specify the function as a destination for itself.")
			}
		}
	}
	return nil
}

// isQueueName matches SQS queue names: 1–80 of [a-zA-Z0-9_-], with an
// optional .fifo suffix.
func isQueueName(s string) bool {
	base := strings.TrimSuffix(s, ".fifo")
	if len(base) == 0 || len(s) > 80 {
		return false
	}
	for i := 0; i < len(base); i++ {
		if !isNameByte(base[i]) {
			return false
		}
	}
	return true
}

// validateDeadLetterTarget checks DeadLetterConfig.TargetArn: an SQS queue
// ARN (SNS topics are refused until topics exist).
func validateDeadLetterTarget(arn string) error {
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || !isPartition(parts[1]) {
		return invalidf("The provided target ARN %s is invalid: DeadLetterConfig.TargetArn must be an SQS queue ARN.", arn)
	}
	switch parts[2] {
	case "sqs":
		if len(parts) != 6 || !isRegion(parts[3]) || !isAccountID(parts[4]) || !isQueueName(parts[5]) {
			return invalidf("The provided target ARN %s is not a valid SQS queue ARN.", arn)
		}
		return nil
	case "sns":
		return unsupported("SNS topics as dead-letter targets are not supported by this server yet: %s. Use an SQS queue.", arn)
	}
	return invalidf("The provided target ARN %s is invalid: DeadLetterConfig.TargetArn must be an SQS queue ARN.", arn)
}

// putEventInvokeConfig serves PutFunctionEventInvokeConfig: PUT
// /2019-09-25/functions/{name}/event-invoke-config?Qualifier=. It replaces
// the whole configuration.
func (h *Handler) putEventInvokeConfig(w http.ResponseWriter, r *http.Request, arg string) error {
	store, err := h.eventConfigs()
	if err != nil {
		return err
	}
	ref, err := h.parseFunctionParam(arg, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	req, err := decodeEventInvokeConfig(r, "PutFunctionEventInvokeConfig")
	if err != nil {
		return err
	}
	if ref, err = h.eventConfigTarget(r, arg); err != nil {
		return err
	}
	c := &stratus.EventInvokeConfig{FunctionName: ref.Name, Qualifier: ref.Qualifier, LastModified: h.cfg.Now()}
	req.apply(c, true)
	if err := h.validateDestinations(c); err != nil {
		return err
	}
	if err := store.PutEventInvokeConfig(r.Context(), c); err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.eventInvokeConfigResponse(c))
	return nil
}

// updateEventInvokeConfig serves UpdateFunctionEventInvokeConfig: POST
// /2019-09-25/functions/{name}/event-invoke-config. It merges the members
// given into the existing configuration.
func (h *Handler) updateEventInvokeConfig(w http.ResponseWriter, r *http.Request, arg string) error {
	store, err := h.eventConfigs()
	if err != nil {
		return err
	}
	ref, err := h.parseFunctionParam(arg, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	req, err := decodeEventInvokeConfig(r, "UpdateFunctionEventInvokeConfig")
	if err != nil {
		return err
	}
	if ref, err = h.eventConfigTarget(r, arg); err != nil {
		return err
	}
	c, err := store.UpdateEventInvokeConfig(r.Context(), ref.Name, ref.Qualifier, func(c *stratus.EventInvokeConfig) error {
		req.apply(c, false)
		c.LastModified = h.cfg.Now()
		return h.validateDestinations(c)
	})
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.eventInvokeConfigResponse(c))
	return nil
}

// getEventInvokeConfig serves GetFunctionEventInvokeConfig.
func (h *Handler) getEventInvokeConfig(w http.ResponseWriter, r *http.Request, arg string) error {
	store, err := h.eventConfigs()
	if err != nil {
		return err
	}
	ref, err := h.eventConfigTarget(r, arg)
	if err != nil {
		return err
	}
	c, err := store.EventInvokeConfig(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.eventInvokeConfigResponse(c))
	return nil
}

// deleteEventInvokeConfig serves DeleteFunctionEventInvokeConfig → 204.
func (h *Handler) deleteEventInvokeConfig(w http.ResponseWriter, r *http.Request, arg string) error {
	store, err := h.eventConfigs()
	if err != nil {
		return err
	}
	ref, err := h.eventConfigTarget(r, arg)
	if err != nil {
		return err
	}
	if err := store.DeleteEventInvokeConfig(r.Context(), ref.Name, ref.Qualifier); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listEventInvokeConfigs serves ListFunctionEventInvokeConfigs: every
// qualifier's configuration, MaxItems (1–50) at a time; the Marker is the
// base64url of the last qualifier of the previous page.
func (h *Handler) listEventInvokeConfigs(w http.ResponseWriter, r *http.Request, arg string) error {
	store, err := h.eventConfigs()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ref, err := h.parseFunctionParam(arg, "")
	if err != nil {
		return err
	}
	if err := h.dryRun(r, &stratus.InvokeRequest{FunctionName: ref.Name}); err != nil {
		return err
	}
	max := eventInvokeConfigPageSize
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return constraint(s, "maxItems", "Member must be an integer")
		}
		if err := checkRange(&n, "maxItems", 1, eventInvokeConfigPageSize); err != nil {
			return err
		}
		max = n
	}
	after := ""
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil || !isQualifier(string(b)) {
			return invalidf("Invalid Marker: %s", m)
		}
		after = string(b)
	}
	cs, err := store.EventInvokeConfigs(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	resp := listEventInvokeConfigsResponse{FunctionEventInvokeConfigs: []*eventInvokeConfigResponse{}}
	for _, c := range cs {
		if after != "" && c.Qualifier <= after {
			continue
		}
		if len(resp.FunctionEventInvokeConfigs) == max {
			resp.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(resp.lastQualifier()))
			break
		}
		resp.FunctionEventInvokeConfigs = append(resp.FunctionEventInvokeConfigs, h.eventInvokeConfigResponse(c))
	}
	awsapi.WriteJSON(w, http.StatusOK, &resp)
	return nil
}

func (l *listEventInvokeConfigsResponse) lastQualifier() string {
	arn := l.FunctionEventInvokeConfigs[len(l.FunctionEventInvokeConfigs)-1].FunctionArn
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// invokeEvent serves Invoke with X-Amz-Invocation-Type: Event: 202 with
// the invocation's request id once the event is stored durably. The
// function (and its version or alias) must exist.
func (h *Handler) invokeEvent(w http.ResponseWriter, r *http.Request, req *stratus.InvokeRequest) {
	if h.cfg.Async == nil {
		h.writeError(w, r, unsupported("Event invocation is not configured on this server; invoke with InvocationType RequestResponse."))
		return
	}
	if err := h.dryRun(r, req); err != nil {
		h.writeError(w, r, err)
		return
	}
	req.ClientContext = "" // forwarded to synchronous invocations only
	id, err := h.cfg.Async.InvokeAsync(r.Context(), req)
	if err != nil {
		h.writeError(w, r, h.orNotFound(err, req.FunctionName, req.Qualifier))
		return
	}
	setRequestID(w, id)
	w.Header()[hdrContentLength] = []string{"0"}
	w.WriteHeader(http.StatusAccepted)
}
