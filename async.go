package stratus

import (
	"context"
	"time"
)

// Defaults and limits of asynchronous invocation (reference §2.9, §5).
const (
	DefaultMaximumRetryAttempts     = 2
	DefaultMaximumEventAgeInSeconds = 21600
)

// EventInvokeConfig says how asynchronous invocations of one function
// version or alias are handled: how often function errors are retried, how
// long an event may wait, and where the outcome goes.
type EventInvokeConfig struct {
	FunctionName string `json:"functionName"`
	// Qualifier is "$LATEST", a version number or an alias name.
	Qualifier string `json:"qualifier"`
	// MaximumRetryAttempts (0–2) is how many times a function error is
	// retried; nil means DefaultMaximumRetryAttempts.
	MaximumRetryAttempts *int `json:"maximumRetryAttempts,omitempty"`
	// MaximumEventAgeInSeconds (60–21600) is how long an event may wait
	// in the queue; nil means DefaultMaximumEventAgeInSeconds.
	MaximumEventAgeInSeconds *int `json:"maximumEventAgeInSeconds,omitempty"`
	// OnSuccess and OnFailure are destination ARNs (a function or an SQS
	// queue); "" means none.
	OnSuccess    string    `json:"onSuccess,omitempty"`
	OnFailure    string    `json:"onFailure,omitempty"`
	LastModified time.Time `json:"lastModified"`
}

// Clone returns a deep copy of c.
func (c *EventInvokeConfig) Clone() *EventInvokeConfig {
	out := *c
	if c.MaximumRetryAttempts != nil {
		n := *c.MaximumRetryAttempts
		out.MaximumRetryAttempts = &n
	}
	if c.MaximumEventAgeInSeconds != nil {
		n := *c.MaximumEventAgeInSeconds
		out.MaximumEventAgeInSeconds = &n
	}
	return &out
}

// RetryAttempts returns MaximumRetryAttempts or its default.
func (c *EventInvokeConfig) RetryAttempts() int {
	if c == nil || c.MaximumRetryAttempts == nil {
		return DefaultMaximumRetryAttempts
	}
	return *c.MaximumRetryAttempts
}

// MaxEventAge returns MaximumEventAgeInSeconds (or its default) as a
// duration.
func (c *EventInvokeConfig) MaxEventAge() time.Duration {
	if c == nil || c.MaximumEventAgeInSeconds == nil {
		return DefaultMaximumEventAgeInSeconds * time.Second
	}
	return time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
}

// EventInvokeConfigService stores the asynchronous invocation
// configurations of functions durably, one per function version or alias.
// Reads are served from a node-local cache; a node reads its own writes.
type EventInvokeConfigService interface {
	// EventInvokeConfig returns a copy of one configuration; ENOTFOUND if
	// there is none.
	EventInvokeConfig(ctx context.Context, function, qualifier string) (*EventInvokeConfig, error)
	// EventInvokeConfigs returns copies of the function's configurations,
	// sorted by qualifier.
	EventInvokeConfigs(ctx context.Context, function string) ([]*EventInvokeConfig, error)
	// PutEventInvokeConfig creates or replaces a configuration.
	PutEventInvokeConfig(ctx context.Context, c *EventInvokeConfig) error
	// UpdateEventInvokeConfig applies update to a copy of an existing
	// configuration and stores it atomically (compare-and-swap, retried
	// on races). ENOTFOUND if there is none; an error from update is
	// returned and nothing is stored. update may run more than once.
	UpdateEventInvokeConfig(ctx context.Context, function, qualifier string, update func(*EventInvokeConfig) error) (*EventInvokeConfig, error)
	// DeleteEventInvokeConfig removes a configuration; ENOTFOUND if
	// absent.
	DeleteEventInvokeConfig(ctx context.Context, function, qualifier string) error
}

// AsyncInvoker queues events for asynchronous invocation (the Event
// invocation type, and services that invoke functions asynchronously).
type AsyncInvoker interface {
	// InvokeAsync stores req's event durably and returns the invocation's
	// request id once it is stored (fsync'd). The event then runs at least
	// once, with the function's retry and destination settings.
	// req.RequestID, when set, is used as the request id, so that a
	// producer retrying the same request never queues it twice.
	InvokeAsync(ctx context.Context, req *InvokeRequest) (requestID string, err error)
}
