package sqs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Queue attribute names.
const (
	attrDelaySeconds                  = "DelaySeconds"
	attrMaximumMessageSize            = "MaximumMessageSize"
	attrMessageRetentionPeriod        = "MessageRetentionPeriod"
	attrPolicy                        = "Policy"
	attrReceiveMessageWaitTimeSeconds = "ReceiveMessageWaitTimeSeconds"
	attrVisibilityTimeout             = "VisibilityTimeout"
	attrRedrivePolicy                 = "RedrivePolicy"
	attrRedriveAllowPolicy            = "RedriveAllowPolicy"
	attrKmsMasterKeyID                = "KmsMasterKeyId"
	attrKmsDataKeyReusePeriodSeconds  = "KmsDataKeyReusePeriodSeconds"
	attrSqsManagedSseEnabled          = "SqsManagedSseEnabled"
	attrFifoQueue                     = "FifoQueue"
	attrContentBasedDeduplication     = "ContentBasedDeduplication"
	attrDeduplicationScope            = "DeduplicationScope"
	attrFifoThroughputLimit           = "FifoThroughputLimit"

	attrApproximateNumberOfMessages           = "ApproximateNumberOfMessages"
	attrApproximateNumberOfMessagesNotVisible = "ApproximateNumberOfMessagesNotVisible"
	attrApproximateNumberOfMessagesDelayed    = "ApproximateNumberOfMessagesDelayed"
	attrCreatedTimestamp                      = "CreatedTimestamp"
	attrLastModifiedTimestamp                 = "LastModifiedTimestamp"
	attrQueueArn                              = "QueueArn"
)

// readOnlyAttrs are the attributes GetQueueAttributes computes.
var readOnlyAttrs = []string{
	attrApproximateNumberOfMessages, attrApproximateNumberOfMessagesNotVisible,
	attrApproximateNumberOfMessagesDelayed, attrCreatedTimestamp, attrLastModifiedTimestamp, attrQueueArn,
}

// fifoOnlyAttrs exist only on FIFO queues.
var fifoOnlyAttrs = map[string]bool{
	attrFifoQueue: true, attrContentBasedDeduplication: true, attrDeduplicationScope: true, attrFifoThroughputLimit: true,
}

// defaultAttrs returns the stored attributes of a new queue before the
// request's attributes are applied.
func defaultAttrs(fifo bool) map[string]string {
	a := map[string]string{
		attrDelaySeconds:                  "0",
		attrMaximumMessageSize:            "1048576",
		attrMessageRetentionPeriod:        "345600",
		attrReceiveMessageWaitTimeSeconds: "0",
		attrVisibilityTimeout:             "30",
		attrSqsManagedSseEnabled:          "false",
	}
	if fifo {
		a[attrFifoQueue] = "true"
		a[attrContentBasedDeduplication] = "false"
		a[attrDeduplicationScope] = "queue"
		a[attrFifoThroughputLimit] = "perQueue"
	}
	return a
}

// intRange is the valid range of an integer attribute.
type intRange struct{ lo, hi int }

var intAttrs = map[string]intRange{
	attrDelaySeconds:                  {0, maxDelaySeconds},
	attrMaximumMessageSize:            {1024, maxMessageSizeLimit},
	attrMessageRetentionPeriod:        {60, 1209600},
	attrReceiveMessageWaitTimeSeconds: {0, maxWaitSeconds},
	attrVisibilityTimeout:             {0, maxVisibility},
	attrKmsDataKeyReusePeriodSeconds:  {60, 86400},
}

// normalizeAttr validates one attribute a request sets and returns the
// value to store. create says whether the queue is being created; fifo
// whether it is a FIFO queue.
func normalizeAttr(name, value string, fifo, create bool) (string, error) {
	if r, ok := intAttrs[name]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < r.lo || n > r.hi {
			return "", errAttrValue(name, fmt.Sprintf("must be an integer between %d and %d.", r.lo, r.hi))
		}
		return strconv.Itoa(n), nil
	}
	if fifoOnlyAttrs[name] && !fifo {
		if name == attrFifoQueue && create && strings.EqualFold(value, "false") {
			return "", nil // FifoQueue=false on a standard queue: accepted, not stored
		}
		return "", errAttrName(name)
	}
	switch name {
	case attrFifoQueue:
		if !create {
			return "", errAttrValue(name, "Modifying queue type is not supported.")
		}
		if !strings.EqualFold(value, "true") {
			return "", errAttrValue(name, "")
		}
		return "true", nil
	case attrContentBasedDeduplication, attrSqsManagedSseEnabled:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return "", errAttrValue(name, "")
		}
		return strconv.FormatBool(b), nil
	case attrDeduplicationScope:
		if value != "queue" && value != "messageGroup" {
			return "", errAttrValue(name, "must be queue or messageGroup.")
		}
		return value, nil
	case attrFifoThroughputLimit:
		if value != "perQueue" && value != "perMessageGroupId" {
			return "", errAttrValue(name, "must be perQueue or perMessageGroupId.")
		}
		return value, nil
	case attrPolicy:
		if value == "" {
			return "", nil
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return "", errAttrValue(name, "Policy is not valid JSON.")
		}
		return value, nil
	case attrRedrivePolicy:
		if value == "" {
			return "", nil
		}
		rp, err := parseRedrivePolicy(value)
		if err != nil {
			return "", err
		}
		return rp.String(), nil
	case attrRedriveAllowPolicy:
		if value == "" {
			return "", nil
		}
		ap, err := parseRedriveAllowPolicy(value)
		if err != nil {
			return "", err
		}
		return ap.String(), nil
	case attrKmsMasterKeyID:
		if value == "" {
			return "", nil
		}
		return "", errUnsupported("KmsMasterKeyId is not supported by this server: it has no KMS. Leave it unset (or use SqsManagedSseEnabled).")
	}
	return "", errAttrName(name)
}

// applyAttrs validates attrs and applies them to stored (in place).
func applyAttrs(stored, attrs map[string]string, fifo, create bool) error {
	for name, value := range attrs {
		v, err := normalizeAttr(name, value, fifo, create)
		if err != nil {
			return err
		}
		if v == "" {
			delete(stored, name)
		} else {
			stored[name] = v
		}
	}
	if fifo && stored[attrFifoThroughputLimit] == "perMessageGroupId" && stored[attrDeduplicationScope] != "messageGroup" {
		return errAttrValue(attrFifoThroughputLimit, "perMessageGroupId is allowed only when DeduplicationScope is messageGroup.")
	}
	return nil
}

// redrivePolicy is the RedrivePolicy attribute.
type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func (p redrivePolicy) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

func parseRedrivePolicy(s string) (redrivePolicy, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return redrivePolicy{}, errParamValue(s, attrRedrivePolicy, "Invalid value for the parameter RedrivePolicy: not valid JSON.")
	}
	var p redrivePolicy
	for k, v := range raw {
		switch k {
		case "deadLetterTargetArn":
			if err := json.Unmarshal(v, &p.DeadLetterTargetArn); err != nil {
				return p, errParamValue(s, attrRedrivePolicy, "Invalid value for deadLetterTargetArn.")
			}
		case "maxReceiveCount":
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				var str string
				if json.Unmarshal(v, &str) != nil {
					return p, errParamValue(s, attrRedrivePolicy, "Invalid value for maxReceiveCount.")
				}
				n = json.Number(str)
			}
			i, err := strconv.Atoi(n.String())
			if err != nil || i < 1 || i > 1000 {
				return p, errParamValue(s, attrRedrivePolicy, "Invalid value for maxReceiveCount: 1 to 1000.")
			}
			p.MaxReceiveCount = i
		default:
			return p, errParamValue(s, attrRedrivePolicy, "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].")
		}
	}
	if p.DeadLetterTargetArn == "" || p.MaxReceiveCount == 0 {
		return p, errParamValue(s, attrRedrivePolicy, "Redrive policy requires deadLetterTargetArn and maxReceiveCount.")
	}
	return p, nil
}

// redriveAllowPolicy is the RedriveAllowPolicy attribute.
type redriveAllowPolicy struct {
	RedrivePermission string   `json:"redrivePermission"`
	SourceQueueArns   []string `json:"sourceQueueArns,omitempty"`
}

func (p redriveAllowPolicy) String() string {
	b, _ := json.Marshal(p)
	return string(b)
}

func parseRedriveAllowPolicy(s string) (redriveAllowPolicy, error) {
	var p redriveAllowPolicy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, errParamValue(s, attrRedriveAllowPolicy, "Invalid value for the parameter RedriveAllowPolicy: not valid JSON.")
	}
	switch p.RedrivePermission {
	case "allowAll", "denyAll":
		if len(p.SourceQueueArns) > 0 {
			return p, errParamValue(s, attrRedriveAllowPolicy, "sourceQueueArns can be given only with redrivePermission byQueue.")
		}
	case "byQueue":
		if len(p.SourceQueueArns) == 0 || len(p.SourceQueueArns) > 10 {
			return p, errParamValue(s, attrRedriveAllowPolicy, "redrivePermission byQueue needs 1 to 10 sourceQueueArns.")
		}
	default:
		return p, errParamValue(s, attrRedriveAllowPolicy, "redrivePermission must be allowAll, denyAll or byQueue.")
	}
	return p, nil
}

// allows reports whether the policy lets sourceARN use its queue as a
// dead-letter queue.
func (p redriveAllowPolicy) allows(sourceARN string) bool {
	switch p.RedrivePermission {
	case "denyAll":
		return false
	case "byQueue":
		for _, a := range p.SourceQueueArns {
			if a == sourceARN {
				return true
			}
		}
		return false
	}
	return true
}

// queueConfig is the effective configuration of a queue, parsed from its
// stored attributes.
type queueConfig struct {
	FIFO            bool
	Delay           time.Duration
	MaxSize         int
	Retention       time.Duration
	WaitTime        time.Duration
	Visibility      time.Duration
	ContentDedup    bool
	DedupPerGroup   bool   // DeduplicationScope messageGroup
	DeadLetterARN   string // "" without a redrive policy
	MaxReceiveCount int
}

// parseConfig derives the configuration from stored attributes, which
// were validated when they were stored.
func parseConfig(attrs map[string]string) queueConfig {
	secs := func(name string) time.Duration {
		n, _ := strconv.Atoi(attrs[name])
		return time.Duration(n) * time.Second
	}
	c := queueConfig{
		FIFO:          attrs[attrFifoQueue] == "true",
		Delay:         secs(attrDelaySeconds),
		Retention:     secs(attrMessageRetentionPeriod),
		WaitTime:      secs(attrReceiveMessageWaitTimeSeconds),
		Visibility:    secs(attrVisibilityTimeout),
		ContentDedup:  attrs[attrContentBasedDeduplication] == "true",
		DedupPerGroup: attrs[attrDeduplicationScope] == "messageGroup",
	}
	c.MaxSize, _ = strconv.Atoi(attrs[attrMaximumMessageSize])
	if rp := attrs[attrRedrivePolicy]; rp != "" {
		if p, err := parseRedrivePolicy(rp); err == nil {
			c.DeadLetterARN, c.MaxReceiveCount = p.DeadLetterTargetArn, p.MaxReceiveCount
		}
	}
	return c
}
