// Package stratus holds the domain vocabulary of the Stratus platform: the
// types that cross package boundaries (functions, invocations, log events),
// the small interfaces that connect services to each other, and the one
// domain error type. It imports only the standard library.
package stratus

import (
	"context"
	"time"
)

// LatestVersion is the name of a function's unpublished, mutable version.
const LatestVersion = "$LATEST"

// Function is the configuration of one function version together with a
// reference to its code. The zero value is not a valid function.
type Function struct {
	Name             string            `json:"name"`
	Version          string            `json:"version"` // "$LATEST" or "1", "2", ...
	Runtime          string            `json:"runtime"`
	Role             string            `json:"role"`
	Handler          string            `json:"handler,omitempty"`
	Description      string            `json:"description,omitempty"`
	MemorySize       int               `json:"memorySize"`       // MB
	Timeout          int               `json:"timeout"`          // seconds
	EphemeralStorage int               `json:"ephemeralStorage"` // MB of /tmp
	Architectures    []string          `json:"architectures"`
	Environment      map[string]string `json:"environment,omitempty"`
	PackageType      string            `json:"packageType"`
	TracingMode      string            `json:"tracingMode,omitempty"`
	Layers           []FunctionLayer   `json:"layers,omitempty"`
	DeadLetterTarget string            `json:"deadLetterTarget,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	Code             Code              `json:"code"`
	RevisionID       string            `json:"revisionId"`
	LastModified     time.Time         `json:"lastModified"`

	// LastPublished is, on $LATEST, the number of the most recently
	// published version (0 before the first); version numbers are never
	// reused, even after deletion. Zero on published versions.
	LastPublished int `json:"lastPublished,omitempty"`
	// PublishedRevision is, on $LATEST, the RevisionID that $LATEST had
	// when version LastPublished was published from it ("" when that
	// version was deleted): equal to RevisionID when nothing changed
	// since. On a published version it is the $LATEST RevisionID the
	// version is a snapshot of.
	PublishedRevision string `json:"publishedRevision,omitempty"`
}

// FunctionLayer is one layer version a function uses, with the layer's
// package, so that a function keeps working after the layer version is
// deleted (as on AWS).
type FunctionLayer struct {
	ARN  string `json:"arn"` // layer version ARN, ...:layer:name:N
	Code Code   `json:"code"`
}

// Code describes a stored deployment package (a zip file).
type Code struct {
	// Key names the package in the code store: the lower-case hex SHA-256
	// of the zip bytes, so identical packages are stored once.
	Key string `json:"key"`
	// Sha256 is the base64 SHA-256 of the zip, as AWS reports CodeSha256.
	Sha256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// UnzippedSize is the total size of the package's files once
	// unpacked; 0 when unknown (packages stored before it was recorded).
	UnzippedSize int64 `json:"unzippedSize,omitempty"`
}

// Clone returns a deep copy of f, so that callers may mutate it freely.
func (f *Function) Clone() *Function {
	c := *f
	c.Architectures = append([]string(nil), f.Architectures...)
	c.Layers = append([]FunctionLayer(nil), f.Layers...)
	c.Environment = cloneMap(f.Environment)
	c.Tags = cloneMap(f.Tags)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// FunctionService stores functions and their code durably.
//
// Reads are served from a node-local cache kept current by a watch on the
// durable store; a node always reads its own writes.
type FunctionService interface {
	// PutCode stores a deployment package and returns its description.
	// Storing the same bytes twice is cheap and returns the same Code.
	PutCode(ctx context.Context, zip []byte) (Code, error)
	// GetCode returns the bytes of a stored package.
	GetCode(ctx context.Context, key string) ([]byte, error)

	// CreateFunction stores a new function. ECONFLICT if the name exists.
	CreateFunction(ctx context.Context, fn *Function) error
	// Function returns a copy of the named function's $LATEST, or ENOTFOUND.
	Function(ctx context.Context, name string) (*Function, error)
	// Functions returns copies of every function's $LATEST, sorted by name.
	Functions(ctx context.Context) ([]*Function, error)
	// UpdateFunction applies update to a copy of the current function and
	// stores the result atomically (compare-and-swap, retried on races).
	// If update returns an error nothing is stored and that error is
	// returned. update may run more than once.
	UpdateFunction(ctx context.Context, name string, update func(*Function) error) (*Function, error)
	// DeleteFunction removes a function with all its published versions
	// and aliases (when the implementation stores them, see
	// VersionService). ENOTFOUND if absent.
	DeleteFunction(ctx context.Context, name string) error
}

// InvocationType says how the caller waits for an invocation.
type InvocationType string

// Invocation types of the Invoke API.
const (
	RequestResponse InvocationType = "RequestResponse"
	Event           InvocationType = "Event"
	DryRun          InvocationType = "DryRun"
)

// InvokeRequest is one invocation of a function.
type InvokeRequest struct {
	FunctionName  string // bare function name
	Qualifier     string // version or alias; "" means $LATEST
	Payload       []byte // the event, normally JSON
	ClientContext string // decoded client context JSON, sync invokes only
	TraceID       string // X-Ray trace header, generated when empty
	TailLog       bool   // return the last 4 KB of the invocation's log
	// RequestID is the invocation's request id; "" means the invoker
	// assigns a new one. Asynchronous invocation sets it, so that every
	// attempt of one event runs under the request id its caller got.
	RequestID string
}

// InvokeResponse is the outcome of a synchronous invocation that reached the
// function. Function errors are part of a successful response.
type InvokeResponse struct {
	RequestID       string
	Payload         []byte
	FunctionError   string // "" on success, else "Unhandled"
	ExecutedVersion string
	LogTail         []byte // only when InvokeRequest.TailLog
}

// Invoker runs functions. Services reach functions only through it.
type Invoker interface {
	// Invoke runs the function synchronously. A service error (not found,
	// throttled, ...) is returned as *Error; function errors are reported in
	// the response.
	Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error)
}

// LogEvent is one line of a function's log.
type LogEvent struct {
	Timestamp time.Time
	Message   string
}

// LogSink receives log lines of execution environments. PutLogEvents must
// not block on durable storage: it queues the events for asynchronous,
// durable writing.
type LogSink interface {
	PutLogEvents(group, stream string, events ...LogEvent)
}
