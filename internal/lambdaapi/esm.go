package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// Event source mappings (reference §2.8): SQS queues only. The mappings
// themselves live in Config.EventSourceMappings; this file is their wire
// format and the model's validation.

// esmRoutes are the event source mapping operations.
func (h *Handler) esmRoutes() []route {
	return []route{
		{method: http.MethodPost, pattern: "2015-03-31/event-source-mappings", op: one(h.createEventSourceMapping)},
		{method: http.MethodGet, pattern: "2015-03-31/event-source-mappings", op: one(h.listEventSourceMappings)},
		{method: http.MethodGet, pattern: "2015-03-31/event-source-mappings/*", op: one(h.getEventSourceMapping)},
		{method: http.MethodPut, pattern: "2015-03-31/event-source-mappings/*", op: one(h.updateEventSourceMapping)},
		{method: http.MethodDelete, pattern: "2015-03-31/event-source-mappings/*", op: one(h.deleteEventSourceMapping)},
	}
}

// esmRequest is the body of CreateEventSourceMapping and
// UpdateEventSourceMapping. Members for streams, Kafka, MQ and DocumentDB
// are decoded only to be rejected.
type esmRequest struct {
	EventSourceArn                 *string  `json:"EventSourceArn"`
	FunctionName                   *string  `json:"FunctionName"`
	Enabled                        *bool    `json:"Enabled"`
	BatchSize                      *int     `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int     `json:"MaximumBatchingWindowInSeconds"`
	FunctionResponseTypes          []string `json:"FunctionResponseTypes"`
	ScalingConfig                  *struct {
		MaximumConcurrency *int `json:"MaximumConcurrency"`
	} `json:"ScalingConfig"`
	FilterCriteria *struct {
		Filters []json.RawMessage `json:"Filters"`
	} `json:"FilterCriteria"`

	StartingPosition                    json.RawMessage   `json:"StartingPosition"`
	StartingPositionTimestamp           json.RawMessage   `json:"StartingPositionTimestamp"`
	MaximumRecordAgeInSeconds           json.RawMessage   `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError          json.RawMessage   `json:"BisectBatchOnFunctionError"`
	MaximumRetryAttempts                json.RawMessage   `json:"MaximumRetryAttempts"`
	ParallelizationFactor               json.RawMessage   `json:"ParallelizationFactor"`
	TumblingWindowInSeconds             json.RawMessage   `json:"TumblingWindowInSeconds"`
	DestinationConfig                   json.RawMessage   `json:"DestinationConfig"`
	Topics                              json.RawMessage   `json:"Topics"`
	Queues                              json.RawMessage   `json:"Queues"`
	SourceAccessConfigurations          json.RawMessage   `json:"SourceAccessConfigurations"`
	SelfManagedEventSource              json.RawMessage   `json:"SelfManagedEventSource"`
	SelfManagedKafkaEventSourceConfig   json.RawMessage   `json:"SelfManagedKafkaEventSourceConfig"`
	AmazonManagedKafkaEventSourceConfig json.RawMessage   `json:"AmazonManagedKafkaEventSourceConfig"`
	DocumentDBEventSourceConfig         json.RawMessage   `json:"DocumentDBEventSourceConfig"`
	KMSKeyArn                           json.RawMessage   `json:"KMSKeyArn"`
	MetricsConfig                       json.RawMessage   `json:"MetricsConfig"`
	ProvisionedPollerConfig             json.RawMessage   `json:"ProvisionedPollerConfig"`
	LoggingConfig                       json.RawMessage   `json:"LoggingConfig"`
	Tags                                map[string]string `json:"Tags"`
}

// checkUnsupported rejects members that have no meaning for SQS or that
// this server does not implement.
func (req *esmRequest) checkUnsupported() error {
	for name, raw := range map[string]json.RawMessage{
		"StartingPosition": req.StartingPosition, "StartingPositionTimestamp": req.StartingPositionTimestamp,
		"MaximumRecordAgeInSeconds": req.MaximumRecordAgeInSeconds, "BisectBatchOnFunctionError": req.BisectBatchOnFunctionError,
		"MaximumRetryAttempts": req.MaximumRetryAttempts, "ParallelizationFactor": req.ParallelizationFactor,
		"TumblingWindowInSeconds": req.TumblingWindowInSeconds, "DestinationConfig": req.DestinationConfig,
		"Topics": req.Topics, "Queues": req.Queues, "SourceAccessConfigurations": req.SourceAccessConfigurations,
		"SelfManagedEventSource": req.SelfManagedEventSource, "SelfManagedKafkaEventSourceConfig": req.SelfManagedKafkaEventSourceConfig,
		"AmazonManagedKafkaEventSourceConfig": req.AmazonManagedKafkaEventSourceConfig,
		"DocumentDBEventSourceConfig":         req.DocumentDBEventSourceConfig,
	} {
		if present(raw) {
			return invalidf("Unsupported parameter for SQS event sources: %s", name)
		}
	}
	for name, raw := range map[string]json.RawMessage{
		"KMSKeyArn": req.KMSKeyArn, "MetricsConfig": req.MetricsConfig,
		"ProvisionedPollerConfig": req.ProvisionedPollerConfig, "LoggingConfig": req.LoggingConfig,
	} {
		if present(raw) {
			return unsupported("%s is not supported by this server.", name)
		}
	}
	if req.FilterCriteria != nil && len(req.FilterCriteria.Filters) > 0 {
		return unsupported("FilterCriteria is not supported by this server: every message is delivered to the function.")
	}
	if len(req.Tags) > 0 {
		return unsupported("Tags on event source mappings are not supported by this server.")
	}
	return nil
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// applyTo validates the model constraints of the request's settings and
// applies them to m.
func (req *esmRequest) applyTo(m *stratus.EventSourceMapping) error {
	if err := req.checkUnsupported(); err != nil {
		return err
	}
	if err := checkRange(req.BatchSize, "batchSize", 1, 10000); err != nil {
		return err
	}
	if err := checkRange(req.MaximumBatchingWindowInSeconds, "maximumBatchingWindowInSeconds", 0, 300); err != nil {
		return err
	}
	if req.Enabled != nil {
		m.Enabled = *req.Enabled
	}
	if req.BatchSize != nil {
		m.BatchSize = *req.BatchSize
	}
	if req.MaximumBatchingWindowInSeconds != nil {
		m.MaximumBatchingWindowInSeconds = *req.MaximumBatchingWindowInSeconds
	}
	if req.FunctionResponseTypes != nil {
		if len(req.FunctionResponseTypes) > 1 {
			return constraint(jsonList(req.FunctionResponseTypes), "functionResponseTypes", "Member must have length less than or equal to 1")
		}
		m.ReportBatchItemFailures = false
		for _, t := range req.FunctionResponseTypes {
			if t != "ReportBatchItemFailures" {
				return constraint(jsonList(req.FunctionResponseTypes), "functionResponseTypes", "Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]")
			}
			m.ReportBatchItemFailures = true
		}
	}
	if sc := req.ScalingConfig; sc != nil {
		if err := checkRange(sc.MaximumConcurrency, "scalingConfig.maximumConcurrency", 2, 1000); err != nil {
			return err
		}
		m.MaximumConcurrency = 0
		if sc.MaximumConcurrency != nil {
			m.MaximumConcurrency = *sc.MaximumConcurrency
		}
	}
	if m.BatchSize > 10 && m.MaximumBatchingWindowInSeconds < 1 {
		return invalidf("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	}
	return nil
}

// esmFunction parses and checks the FunctionName member.
func (h *Handler) esmFunction(r *http.Request, s *string) (functionRef, error) {
	if s == nil {
		return functionRef{}, notNull("functionName")
	}
	ref, err := h.parseFunctionName(*s)
	if err != nil {
		return ref, err
	}
	if _, err := h.fns.Function(r.Context(), ref.Name); err != nil {
		return ref, h.orNotFound(err, ref.Name, ref.Qualifier)
	}
	return ref, nil
}

// esmConfiguration is EventSourceMappingConfiguration for SQS.
type esmConfiguration struct {
	UUID                           string         `json:"UUID"`
	BatchSize                      int            `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int            `json:"MaximumBatchingWindowInSeconds"`
	EventSourceArn                 string         `json:"EventSourceArn"`
	FunctionArn                    string         `json:"FunctionArn"`
	LastModified                   json.Number    `json:"LastModified"`
	State                          string         `json:"State"`
	StateTransitionReason          string         `json:"StateTransitionReason"`
	FunctionResponseTypes          []string       `json:"FunctionResponseTypes"`
	ScalingConfig                  *scalingConfig `json:"ScalingConfig,omitempty"`
	EventSourceMappingArn          string         `json:"EventSourceMappingArn"`
}

type scalingConfig struct {
	MaximumConcurrency int `json:"MaximumConcurrency"`
}

func (h *Handler) esmConfiguration(m *stratus.EventSourceMapping) *esmConfiguration {
	c := &esmConfiguration{
		UUID:                           m.UUID,
		BatchSize:                      m.BatchSize,
		MaximumBatchingWindowInSeconds: m.MaximumBatchingWindowInSeconds,
		EventSourceArn:                 m.EventSourceARN,
		FunctionArn:                    FunctionARN(h.cfg.Region, h.cfg.AccountID, m.FunctionName, m.Qualifier),
		LastModified:                   json.Number(strconv.FormatFloat(float64(m.LastModified.UnixMilli())/1000, 'f', 3, 64)),
		State:                          m.State,
		StateTransitionReason:          m.StateTransitionReason,
		FunctionResponseTypes:          []string{},
		EventSourceMappingArn:          "arn:aws:lambda:" + h.cfg.Region + ":" + h.cfg.AccountID + ":event-source-mapping:" + m.UUID,
	}
	if m.ReportBatchItemFailures {
		c.FunctionResponseTypes = []string{"ReportBatchItemFailures"}
	}
	if m.MaximumConcurrency > 0 {
		c.ScalingConfig = &scalingConfig{MaximumConcurrency: m.MaximumConcurrency}
	}
	return c
}

func (h *Handler) esmService() (stratus.EventSourceMappingService, error) {
	if h.cfg.EventSourceMappings == nil {
		return nil, unsupported("Event source mappings are not available on this server.")
	}
	return h.cfg.EventSourceMappings, nil
}

// createEventSourceMapping serves POST /2015-03-31/event-source-mappings/ → 202.
func (h *Handler) createEventSourceMapping(w http.ResponseWriter, r *http.Request, _ string) error {
	svc, err := h.esmService()
	if err != nil {
		return err
	}
	body, err := readBody(r, 1<<20, "CreateEventSourceMapping")
	if err != nil {
		return err
	}
	var req esmRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.EventSourceArn == nil {
		return invalidf("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
	}
	arn := *req.EventSourceArn
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return unsupported("Event source %s is not supported by this server: only SQS queues can drive functions.", arn)
	}
	m := &stratus.EventSourceMapping{EventSourceARN: arn, Enabled: true, BatchSize: 10}
	if err := req.applyTo(m); err != nil {
		return err
	}
	ref, err := h.esmFunction(r, req.FunctionName)
	if err != nil {
		return err
	}
	m.FunctionName, m.Qualifier = ref.Name, ref.Qualifier
	if m, err = svc.CreateEventSourceMapping(r.Context(), m); err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusAccepted, h.esmConfiguration(m))
	return nil
}

// getEventSourceMapping serves GET /2015-03-31/event-source-mappings/{UUID}.
func (h *Handler) getEventSourceMapping(w http.ResponseWriter, r *http.Request, arg string) error {
	svc, err := h.esmService()
	if err != nil {
		return err
	}
	m, err := svc.EventSourceMapping(r.Context(), unescape(arg))
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusOK, h.esmConfiguration(m))
	return nil
}

// updateEventSourceMapping serves PUT /2015-03-31/event-source-mappings/{UUID} → 202.
func (h *Handler) updateEventSourceMapping(w http.ResponseWriter, r *http.Request, arg string) error {
	svc, err := h.esmService()
	if err != nil {
		return err
	}
	body, err := readBody(r, 1<<20, "UpdateEventSourceMapping")
	if err != nil {
		return err
	}
	var req esmRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.EventSourceArn != nil {
		return invalidf("EventSourceArn cannot be updated.")
	}
	var ref *functionRef
	if req.FunctionName != nil {
		fr, err := h.esmFunction(r, req.FunctionName)
		if err != nil {
			return err
		}
		ref = &fr
	}
	m, err := svc.UpdateEventSourceMapping(r.Context(), unescape(arg), func(m *stratus.EventSourceMapping) error {
		if ref != nil {
			m.FunctionName, m.Qualifier = ref.Name, ref.Qualifier
		}
		return req.applyTo(m)
	})
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusAccepted, h.esmConfiguration(m))
	return nil
}

// deleteEventSourceMapping serves DELETE /2015-03-31/event-source-mappings/{UUID} → 202.
func (h *Handler) deleteEventSourceMapping(w http.ResponseWriter, r *http.Request, arg string) error {
	svc, err := h.esmService()
	if err != nil {
		return err
	}
	m, err := svc.DeleteEventSourceMapping(r.Context(), unescape(arg))
	if err != nil {
		return err
	}
	awsapi.WriteJSON(w, http.StatusAccepted, h.esmConfiguration(m))
	return nil
}

type listEventSourceMappingsResponse struct {
	EventSourceMappings []*esmConfiguration `json:"EventSourceMappings"`
	NextMarker          string              `json:"NextMarker,omitempty"`
}

// listEventSourceMappings serves GET /2015-03-31/event-source-mappings/
// with ?EventSourceArn=&FunctionName=&Marker=&MaxItems=.
func (h *Handler) listEventSourceMappings(w http.ResponseWriter, r *http.Request, _ string) error {
	svc, err := h.esmService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	maxItems := 100
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return constraint(s, "maxItems", "Member must be an integer")
		}
		if err := checkRange(&n, "maxItems", 1, 10000); err != nil {
			return err
		}
		maxItems = min(n, 100)
	}
	function := ""
	if s := q.Get("FunctionName"); s != "" {
		ref, err := h.parseFunctionName(s)
		if err != nil {
			return err
		}
		function = ref.Name
	}
	ms, err := svc.EventSourceMappings(r.Context(), q.Get("EventSourceArn"), function)
	if err != nil {
		return err
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].UUID < ms[j].UUID })
	if mk := q.Get("Marker"); mk != "" {
		after, err := base64.RawURLEncoding.DecodeString(mk)
		if err != nil {
			return invalidf("Invalid Marker: %s", mk)
		}
		i := sort.Search(len(ms), func(i int) bool { return ms[i].UUID > string(after) })
		ms = ms[i:]
	}
	out := listEventSourceMappingsResponse{EventSourceMappings: []*esmConfiguration{}}
	for i, m := range ms {
		if i == maxItems {
			out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(ms[i-1].UUID))
			break
		}
		out.EventSourceMappings = append(out.EventSourceMappings, h.esmConfiguration(m))
	}
	awsapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
