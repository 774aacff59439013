package stratus

import (
	"context"
	"time"
)

// MessageAttribute is a user-defined attribute of a queue message, as SQS
// defines it: DataType is "String", "Number" or "Binary", optionally with
// a custom suffix ("Number.int"); String and Number attributes carry
// StringValue, Binary ones BinaryValue.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

// QueueMessage is a message to put on a queue.
type QueueMessage struct {
	Body       string
	Attributes map[string]MessageAttribute
	// DelaySeconds overrides the queue's delay (0–900) when not nil;
	// FIFO queues accept only nil.
	DelaySeconds *int
	// GroupID is the MessageGroupId: required on FIFO queues.
	GroupID string
	// DeduplicationID is the MessageDeduplicationId of FIFO queues
	// without content-based de-duplication; "" lets the queue decide.
	DeduplicationID string
}

// ReceivedMessage is a message as a receive returns it.
type ReceivedMessage struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	MD5OfBody     string
	// MD5OfMessageAttributes is "" when the message has no attributes.
	MD5OfMessageAttributes string
	// SystemAttributes are SQS's message system attributes
	// (ApproximateReceiveCount, SentTimestamp, SenderId,
	// ApproximateFirstReceiveTimestamp and, on FIFO queues,
	// MessageGroupId, MessageDeduplicationId, SequenceNumber).
	SystemAttributes map[string]string
	Attributes       map[string]MessageAttribute
}

// QueueInfo describes a queue for its consumers.
type QueueInfo struct {
	ARN               string
	URL               string // path form: /<account>/<name>
	FIFO              bool
	VisibilityTimeout time.Duration
	// Approximate counts of messages that are visible, received and not
	// yet deleted (in flight), and delayed.
	Visible, InFlight, Delayed int64
}

// Queues is how other services put messages on queues: dead-letter queues
// and destinations of asynchronous invocation, topic subscriptions.
// Queues are named by ARN; an unknown queue is ENOTFOUND, a message the
// queue rejects (size, characters, attributes, FIFO parameters) EINVALID.
// A nil error means the message is stored durably.
type Queues interface {
	SendMessage(ctx context.Context, queueARN string, msg *QueueMessage) (messageID string, err error)
}

// QueueConsumer is what an event source mapping needs of a queue.
type QueueConsumer interface {
	// QueueInfo describes the queue; ENOTFOUND if it does not exist.
	QueueInfo(ctx context.Context, queueARN string) (*QueueInfo, error)
	// ReceiveMessages receives up to max (1–10) messages with the
	// queue's visibility timeout, waiting up to wait (≤ 20 s) for the
	// first one; it returns early, with no messages and no error, when
	// ctx is done.
	ReceiveMessages(ctx context.Context, queueARN string, max int, wait time.Duration) ([]*ReceivedMessage, error)
	// DeleteMessages deletes received messages by receipt handle.
	DeleteMessages(ctx context.Context, queueARN string, receiptHandles []string) error
}

// Event source mapping states (reference §2.8).
const (
	ESMCreating  = "Creating"
	ESMEnabling  = "Enabling"
	ESMEnabled   = "Enabled"
	ESMDisabling = "Disabling"
	ESMDisabled  = "Disabled"
	ESMUpdating  = "Updating"
	ESMDeleting  = "Deleting"
)

// EventSourceMapping drives a function from a queue: pollers receive
// batches of messages and invoke the function synchronously with them.
type EventSourceMapping struct {
	UUID           string `json:"uuid"`
	EventSourceARN string `json:"eventSourceArn"`
	FunctionName   string `json:"functionName"` // bare name
	Qualifier      string `json:"qualifier,omitempty"`
	// Enabled is what the user asked for; State is where the mapping is.
	Enabled bool `json:"enabled"`
	// BatchSize is the most records per invocation (SQS: 1–10,000; FIFO
	// queues: 1–10).
	BatchSize int `json:"batchSize"`
	// MaximumBatchingWindowInSeconds (0–300) is how long a poller gathers
	// records before it invokes the function.
	MaximumBatchingWindowInSeconds int `json:"maximumBatchingWindowInSeconds"`
	// ReportBatchItemFailures enables partial batch responses.
	ReportBatchItemFailures bool `json:"reportBatchItemFailures,omitempty"`
	// MaximumConcurrency (2–1000) caps concurrent invocations; 0 means
	// no cap beyond the function's.
	MaximumConcurrency    int       `json:"maximumConcurrency,omitempty"`
	State                 string    `json:"state"`
	StateTransitionReason string    `json:"stateTransitionReason"`
	LastModified          time.Time `json:"lastModified"`
}

// Clone returns a copy of m.
func (m *EventSourceMapping) Clone() *EventSourceMapping {
	c := *m
	return &c
}

// EventSourceMappingService stores event source mappings durably and runs
// them. Reads are served from a node-local cache; a node reads its own
// writes.
type EventSourceMappingService interface {
	// CreateEventSourceMapping validates m against its queue (which must
	// exist: EINVALID otherwise), assigns UUID, State and LastModified,
	// stores it and starts it. ECONFLICT if the function already has a
	// mapping for that queue.
	CreateEventSourceMapping(ctx context.Context, m *EventSourceMapping) (*EventSourceMapping, error)
	// EventSourceMapping returns a copy of one mapping; ENOTFOUND if absent.
	EventSourceMapping(ctx context.Context, uuid string) (*EventSourceMapping, error)
	// EventSourceMappings returns the mappings, sorted by UUID, filtered
	// by queue ARN and bare function name when they are not "".
	EventSourceMappings(ctx context.Context, eventSourceARN, functionName string) ([]*EventSourceMapping, error)
	// UpdateEventSourceMapping applies update to a copy of the mapping,
	// validates and stores the result (compare-and-swap). An error from
	// update is returned and nothing is stored. ENOTFOUND if absent.
	UpdateEventSourceMapping(ctx context.Context, uuid string, update func(*EventSourceMapping) error) (*EventSourceMapping, error)
	// DeleteEventSourceMapping stops the mapping and removes it; it
	// returns the mapping in state Deleting. ENOTFOUND if absent.
	DeleteEventSourceMapping(ctx context.Context, uuid string) (*EventSourceMapping, error)
}
