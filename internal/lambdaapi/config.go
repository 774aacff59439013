package lambdaapi

import (
	"net/http"
	"time"

	"github.com/stratus-dev/stratus"
)

// functionConfiguration is Lambda's FunctionConfiguration shape (reference
// §2.3), member order as AWS writes it.
type functionConfiguration struct {
	FunctionName     string               `json:"FunctionName"`
	FunctionArn      string               `json:"FunctionArn"`
	Runtime          string               `json:"Runtime,omitempty"`
	Role             string               `json:"Role"`
	Handler          string               `json:"Handler,omitempty"`
	CodeSize         int64                `json:"CodeSize"`
	Description      string               `json:"Description"`
	Timeout          int                  `json:"Timeout"`
	MemorySize       int                  `json:"MemorySize"`
	LastModified     string               `json:"LastModified"`
	CodeSha256       string               `json:"CodeSha256"`
	Version          string               `json:"Version"`
	Environment      *environmentResponse `json:"Environment,omitempty"`
	TracingConfig    tracingResponse      `json:"TracingConfig"`
	DeadLetterConfig *deadLetterResponse  `json:"DeadLetterConfig,omitempty"`
	RevisionId       string               `json:"RevisionId"`
	Layers           []layerResponse      `json:"Layers,omitempty"`
	State            string               `json:"State,omitempty"`
	LastUpdateStatus string               `json:"LastUpdateStatus,omitempty"`
	PackageType      string               `json:"PackageType"`
	Architectures    []string             `json:"Architectures"`
	EphemeralStorage ephemeralResponse    `json:"EphemeralStorage"`
	SnapStart        snapStartResponse    `json:"SnapStart"`
	LoggingConfig    loggingResponse      `json:"LoggingConfig"`

	RuntimeVersionConfig *runtimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
}

type environmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

type tracingResponse struct {
	Mode string `json:"Mode"`
}

type deadLetterResponse struct {
	TargetArn string `json:"TargetArn"`
}

type layerResponse struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

type ephemeralResponse struct {
	Size int `json:"Size"`
}

type snapStartResponse struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type loggingResponse struct {
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}

// lastModifiedLayout is how Lambda writes function timestamps, e.g.
// 2020-04-10T19:06:32.563+0000.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

func formatLastModified(t time.Time) string { return t.UTC().Format(lastModifiedLayout) }

func logGroup(name string) string { return "/aws/lambda/" + name }

// configuration renders fn. The unqualified ARN names $LATEST, as in
// GetFunctionConfiguration.
func (h *Handler) configuration(fn *stratus.Function) *functionConfiguration {
	version := fn.Version
	if version == "" {
		version = stratus.LatestVersion
	}
	qualifier := ""
	if version != stratus.LatestVersion {
		qualifier = version
	}
	c := &functionConfiguration{
		FunctionName:     fn.Name,
		FunctionArn:      FunctionARN(h.cfg.Region, h.cfg.AccountID, fn.Name, qualifier),
		Runtime:          fn.Runtime,
		Role:             fn.Role,
		Handler:          fn.Handler,
		CodeSize:         fn.Code.Size,
		Description:      fn.Description,
		Timeout:          fn.Timeout,
		MemorySize:       fn.MemorySize,
		LastModified:     formatLastModified(fn.LastModified),
		CodeSha256:       fn.Code.Sha256,
		Version:          version,
		TracingConfig:    tracingResponse{Mode: fn.TracingMode},
		RevisionId:       fn.RevisionID,
		State:            "Active",
		LastUpdateStatus: "Successful",
		PackageType:      fn.PackageType,
		Architectures:    fn.Architectures,
		EphemeralStorage: ephemeralResponse{Size: fn.EphemeralStorage},
		SnapStart:        snapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    loggingResponse{LogFormat: "Text", LogGroup: logGroup(fn.Name)},

		RuntimeVersionConfig: h.runtimeVersionConfig(fn.Runtime),
	}
	if len(fn.Environment) > 0 {
		c.Environment = &environmentResponse{Variables: fn.Environment}
	}
	if c.TracingConfig.Mode == "" {
		c.TracingConfig.Mode = "PassThrough"
	}
	if fn.DeadLetterTarget != "" {
		c.DeadLetterConfig = &deadLetterResponse{TargetArn: fn.DeadLetterTarget}
	}
	for _, l := range fn.Layers {
		c.Layers = append(c.Layers, layerResponse{Arn: l.ARN, CodeSize: l.Code.Size})
	}
	if c.PackageType == "" {
		c.PackageType = "Zip"
	}
	if len(c.Architectures) == 0 {
		c.Architectures = []string{"x86_64"}
	}
	return c
}

// listItem renders fn as an item of ListFunctions, which omits the state
// members.
func (h *Handler) listItem(fn *stratus.Function) *functionConfiguration {
	c := h.configuration(fn)
	c.State, c.LastUpdateStatus = "", ""
	c.RuntimeVersionConfig = nil
	return c
}

// getFunctionResponse is GetFunction's output.
type getFunctionResponse struct {
	Configuration *functionConfiguration `json:"Configuration"`
	Code          codeLocation           `json:"Code"`
	Tags          map[string]string      `json:"Tags,omitempty"`
	Concurrency   *reservedConcurrency   `json:"Concurrency,omitempty"`
}

type codeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

// codeURL is where the package of code can be downloaded: this server,
// at the host the request came to.
func codeURL(r *http.Request, code stratus.Code) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + CodePathPrefix + code.Key + ".zip"
}
