package lambdaapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/stratus-dev/stratus"
)

// Request bodies. Pointers tell an absent member from a zero one; unknown
// members are ignored, as AWS does.

// functionSettings are the members CreateFunction and
// UpdateFunctionConfiguration share.
type functionSettings struct {
	Role              *string
	Runtime           *string
	Handler           *string
	Description       *string
	Timeout           *int
	MemorySize        *int
	Environment       *environment
	TracingConfig     *tracingConfig
	DeadLetterConfig  *deadLetterConfig
	EphemeralStorage  *ephemeralStorage
	LoggingConfig     *loggingConfig
	SnapStart         *snapStart
	VpcConfig         *vpcConfig
	KMSKeyArn         *string
	Layers            []string
	FileSystemConfigs []json.RawMessage
	ImageConfig       map[string]json.RawMessage
}

type createFunctionRequest struct {
	functionSettings
	FunctionName         *string
	Code                 *functionCode
	PackageType          *string
	Architectures        []string
	Publish              bool
	Tags                 map[string]string
	CodeSigningConfigArn *string
}

type updateFunctionConfigurationRequest struct {
	functionSettings
	RevisionId *string
}

type updateFunctionCodeRequest struct {
	functionCode
	Architectures []string
	Publish       bool
	DryRun        bool
	RevisionId    *string
}

type functionCode struct {
	ZipFile         []byte // base64 in JSON
	S3Bucket        *string
	S3Key           *string
	S3ObjectVersion *string
	ImageUri        *string
	SourceKMSKeyArn *string
}

type environment struct {
	Variables map[string]string
}

type tracingConfig struct {
	Mode *string
}

type deadLetterConfig struct {
	TargetArn *string
}

type ephemeralStorage struct {
	Size *int
}

type loggingConfig struct {
	LogFormat           *string
	ApplicationLogLevel *string
	SystemLogLevel      *string
	LogGroup            *string
}

type snapStart struct {
	ApplyOn *string
}

type vpcConfig struct {
	SubnetIds               []string
	SecurityGroupIds        []string
	Ipv6AllowedForDualStack *bool
}

type tagResourceRequest struct {
	Tags map[string]string
}

// Body size limits. CreateFunction and UpdateFunctionCode carry a base64
// zip: AWS's cap is the base64 size of the largest zip (69905067 bytes
// for 50 MB).
const maxJSONBody = 1 << 20

func zipBodyLimit(maxZip int64) int64 { return (maxZip*4 + 2) / 3 }

// readBody reads the whole request body, refusing more than limit bytes
// with AWS's 413 message for the operation.
func readBody(r *http.Request, limit int64, op string) ([]byte, error) {
	tooLarge := func() error {
		return stratus.Errorf(stratus.ETOOLARGE, "Request must be smaller than %d bytes for the %s operation", limit, op)
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if int64(len(body)) > limit {
			return nil, tooLarge()
		}
	}
	if err != nil {
		return nil, stratus.Errorf(stratus.EBADREQUEST, "Could not read request body: %v", err)
	}
	return body, nil
}

// decodeJSON decodes a JSON request body into v. Malformed JSON and
// members of the wrong type are InvalidRequestContentException.
func decodeJSON(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := strings.TrimPrefix(te.Field, "functionSettings.")
		field = strings.TrimPrefix(field, "functionCode.")
		return stratus.Errorf(stratus.EBADREQUEST,
			"Could not parse request body into json: Cannot deserialize value of type %s from %s for member %s", jsonType(te.Type.Kind().String()), te.Value, field)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return stratus.Errorf(stratus.EBADREQUEST, "Could not parse request body into json: %s", msg)
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "integer"
	case kind == "ptr" || kind == "pointer":
		return "value"
	case kind == "map" || kind == "struct":
		return "object"
	case kind == "slice":
		return "list"
	}
	return kind
}

// decodeCreateFunction parses a CreateFunction body.
func decodeCreateFunction(body []byte) (*createFunctionRequest, error) {
	var req createFunctionRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeUpdateFunctionConfiguration parses an UpdateFunctionConfiguration body.
func decodeUpdateFunctionConfiguration(body []byte) (*updateFunctionConfigurationRequest, error) {
	var req updateFunctionConfigurationRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// decodeUpdateFunctionCode parses an UpdateFunctionCode body.
func decodeUpdateFunctionCode(body []byte) (*updateFunctionCodeRequest, error) {
	var req updateFunctionCodeRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// String helpers for optional members.

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
