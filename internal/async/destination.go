package async

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratus-dev/stratus"
)

// Conditions of an invocation record (reference §5).
const (
	conditionSuccess          = "Success"
	conditionRetriesExhausted = "RetriesExhausted"
	conditionEventAgeExceeded = "EventAgeExceeded"
)

// record is the invocation record sent to destinations.
type record struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  requestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext responseContext `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

type requestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type responseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// asJSON returns b if it is JSON, else b as a JSON string; null for none.
func asJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// newRecord renders the invocation record of ev's final outcome.
func (s *Service) newRecord(ev *event, condition string, out outcome) []byte {
	r := record{
		Version:   "1.0",
		Timestamp: s.now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: requestContext{
			RequestID:              ev.RequestID,
			FunctionARN:            functionARN(s.cfg.Region, s.cfg.AccountID, ev.Function, orLatest(ev.Qualifier)),
			Condition:              condition,
			ApproximateInvokeCount: ev.Invokes,
		},
		RequestPayload: asJSON(ev.Payload),
		ResponseContext: responseContext{
			StatusCode:      out.status,
			ExecutedVersion: out.executedVersion,
			FunctionError:   out.functionError,
		},
		ResponsePayload: asJSON(out.payload),
	}
	b, err := json.Marshal(&r)
	if err != nil { // payloads were checked above; cannot happen
		panic(fmt.Sprintf("async: encoding an invocation record: %v", err))
	}
	return b
}

// giveUp sends an event that will not run again to the function's
// dead-letter queue and its on-failure destination, and counts it.
func (s *Service) giveUp(ev *event, conf *stratus.EventInvokeConfig, condition string, out outcome, reason string) {
	s.metrics.dropped.WithLabelValues(reason).Inc()
	s.log.Info("async event failed for good", "function", ev.Function, "requestId", ev.RequestID,
		"condition", condition, "reason", reason, "invokes", ev.Invokes)
	if dlq := s.deadLetterTarget(ev, out.executedVersion); dlq != "" {
		msg := out.message
		if len(msg) > 1024 {
			msg = msg[:1024]
			for !utf8.ValidString(msg) {
				msg = msg[:len(msg)-1]
			}
		}
		attrs := map[string]Attribute{
			"RequestID":    {DataType: "String", StringValue: ev.RequestID},
			"ErrorCode":    {DataType: "Number", StringValue: strconv.Itoa(out.status)},
			"ErrorMessage": {DataType: "String", StringValue: msg},
		}
		if msg == "" {
			delete(attrs, "ErrorMessage") // SQS refuses empty attribute values
		}
		s.deliver(ev, "dlq", dlq, ev.Payload, attrs)
	}
	if conf != nil && conf.OnFailure != "" {
		s.deliverRecord(ev, conf.OnFailure, "on_failure", condition, out)
	}
}

// deadLetterTarget is the DeadLetterConfig.TargetArn of the version the
// event ran as (executed; for an event that did not run, the version its
// qualifier names): dead-letter queues are configured per version.
func (s *Service) deadLetterTarget(ev *event, executed string) string {
	if executed == "" {
		executed = ev.version()
	}
	fn, err := s.versionOf(context.Background(), ev.Function, executed)
	if err != nil {
		return ""
	}
	return fn.DeadLetterTarget
}

// versionOf returns a version of function: $LATEST, a published version,
// or an alias's primary version. Without a VersionService every version
// is $LATEST.
func (s *Service) versionOf(ctx context.Context, function, version string) (*stratus.Function, error) {
	vs, ok := s.deps.Functions.(stratus.VersionService)
	if ok && version != stratus.LatestVersion {
		if _, err := strconv.Atoi(version); err != nil { // an alias
			a, err := vs.Alias(ctx, function, version)
			if err != nil {
				return nil, err
			}
			version = a.FunctionVersion
		}
	}
	if !ok || version == stratus.LatestVersion {
		return s.deps.Functions.Function(ctx, function)
	}
	return vs.Version(ctx, function, version)
}

func (s *Service) deliverRecord(ev *event, arn, kind, condition string, out outcome) {
	s.deliver(ev, kind, arn, s.newRecord(ev, condition, out), nil)
}

// deliver hands body to the destination arn (an SQS queue: the message
// body; a function: the event of an asynchronous invocation), retrying
// Config.DeliveryAttempts times before it counts the delivery as failed.
func (s *Service) deliver(ev *event, kind, arn string, body []byte, attrs map[string]Attribute) {
	target, send := s.destination(arn)
	wait := s.cfg.DeliveryBackoff
	var err error
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = send(ctx, body, attrs)
		cancel()
		if err == nil {
			s.metrics.deliveries.WithLabelValues(kind, target).Inc()
			return
		}
		if attempt >= s.cfg.DeliveryAttempts {
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	s.metrics.failures.WithLabelValues(kind, target).Inc()
	s.log.Error("delivering an async invocation outcome failed", "kind", kind, "destination", arn,
		"function", ev.Function, "requestId", ev.RequestID, "attempts", s.cfg.DeliveryAttempts, "err", err)
}

// destination resolves a destination ARN to a sender. The API accepts
// only function and queue ARNs of this region and account; anything else
// (e.g. stored before a restart with another region) fails to deliver.
func (s *Service) destination(arn string) (target string, send func(context.Context, []byte, map[string]Attribute) error) {
	parts := strings.Split(arn, ":")
	if len(parts) >= 6 && parts[0] == "arn" && parts[3] == s.cfg.Region && parts[4] == s.cfg.AccountID {
		switch {
		case parts[2] == "sqs" && len(parts) == 6:
			return "sqs", func(ctx context.Context, body []byte, attrs map[string]Attribute) error {
				q := s.queueSender()
				if q == nil {
					return stratus.Errorf(stratus.EUNAVAILABLE, "No queue service is configured to deliver to %s.", arn)
				}
				return q.SendMessage(ctx, arn, body, attrs)
			}
		case parts[2] == "lambda" && parts[5] == "function" && (len(parts) == 7 || len(parts) == 8):
			req := &stratus.InvokeRequest{FunctionName: parts[6]}
			if len(parts) == 8 {
				req.Qualifier = parts[7]
			}
			return "lambda", func(ctx context.Context, body []byte, _ map[string]Attribute) error {
				r := *req
				r.Payload = body
				_, err := s.InvokeAsync(ctx, &r)
				return err
			}
		}
	}
	return "unknown", func(context.Context, []byte, map[string]Attribute) error {
		return stratus.Errorf(stratus.EINVALID, "Unsupported destination %s.", arn)
	}
}

// errorMessage extracts errorMessage from a function error body, or
// returns the body itself.
func errorMessage(payload []byte) string {
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &fe) == nil && fe.ErrorMessage != "" {
		return fe.ErrorMessage
	}
	return string(payload)
}
