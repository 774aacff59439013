package lambdaapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/stratus-dev/stratus"
)

// Limits of function settings (reference §2.2, §4.3).
const (
	minMemory, maxMemory          = 128, 10240
	minTimeout, maxTimeout        = 1, 900
	minEphemeral, maxEphemeral    = 512, 10240
	defaultMemory                 = 128
	defaultTimeout                = 3
	defaultEphemeral              = 512
	maxHandlerLen                 = 128
	maxDescriptionLen             = 256
	maxEnvBytes                   = 4096
	maxTags, maxTagKey, maxTagVal = 50, 128, 256
)

var (
	roleRE   = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envKeyRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
)

// reservedEnvKeys are set by Lambda in every environment and cannot be
// overridden (reference §3.6); any other AWS_LAMBDA_ name is reserved too,
// except the ones in overridableEnvKeys.
var reservedEnvKeys = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true,
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_EXECUTION_ENV": true,
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true, "AWS_ACCESS_KEY": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

var overridableEnvKeys = map[string]bool{
	"AWS_LAMBDA_LOG_FORMAT": true, "AWS_LAMBDA_LOG_LEVEL": true,
	"AWS_LAMBDA_EXEC_WRAPPER": true,
}

func isReservedEnvKey(k string) bool {
	return reservedEnvKeys[k] || strings.HasPrefix(k, "AWS_LAMBDA_") && !overridableEnvKeys[k]
}

// validateRole checks an execution role ARN (syntax only).
func validateRole(role string) error {
	if !roleRE.MatchString(role) {
		return constraint(role, "role", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	}
	return nil
}

// validateName checks a function name given in a request body.
func validateName(name string) error {
	if !isFunctionName(name) {
		return constraint(name, "functionName", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_]{1,64}$")
	}
	return nil
}

// validate checks every member present in s. name is the function's name
// (for the default log group).
func (s *functionSettings) validate(name string) error {
	if s.Role != nil {
		if err := validateRole(*s.Role); err != nil {
			return err
		}
	}
	if s.Runtime != nil {
		if _, err := lookupRuntime(*s.Runtime); err != nil {
			return err
		}
	}
	if s.Handler != nil {
		h := *s.Handler
		if len(h) > maxHandlerLen {
			return constraint(h, "handler", "Member must have length less than or equal to 128")
		}
		if h == "" || strings.IndexFunc(h, unicode.IsSpace) >= 0 {
			return constraint(h, "handler", `Member must satisfy regular expression pattern: [^\s]+`)
		}
	}
	if s.Description != nil && len(*s.Description) > maxDescriptionLen {
		return constraint(*s.Description, "description", "Member must have length less than or equal to 256")
	}
	if err := checkRange(s.Timeout, "timeout", minTimeout, maxTimeout); err != nil {
		return err
	}
	if err := checkRange(s.MemorySize, "memorySize", minMemory, maxMemory); err != nil {
		return err
	}
	if s.EphemeralStorage != nil {
		if s.EphemeralStorage.Size == nil {
			return notNull("ephemeralStorage.size")
		}
		if err := checkRange(s.EphemeralStorage.Size, "ephemeralStorage.size", minEphemeral, maxEphemeral); err != nil {
			return err
		}
	}
	if s.Environment != nil {
		if err := validateEnvironment(s.Environment.Variables); err != nil {
			return err
		}
	}
	if s.TracingConfig != nil && s.TracingConfig.Mode != nil {
		if m := *s.TracingConfig.Mode; m != "Active" && m != "PassThrough" {
			return constraint(m, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
		}
	}
	return s.validateUnsupported(name)
}

// validateUnsupported rejects settings Stratus cannot honour rather than
// storing and ignoring them.
func (s *functionSettings) validateUnsupported(name string) error {
	if s.DeadLetterConfig != nil && deref(s.DeadLetterConfig.TargetArn) != "" {
		if err := validateDeadLetterTarget(*s.DeadLetterConfig.TargetArn); err != nil {
			return err
		}
	}
	if s.VpcConfig != nil && (len(s.VpcConfig.SubnetIds) > 0 || len(s.VpcConfig.SecurityGroupIds) > 0) {
		return unsupported("VpcConfig is not supported by this server: functions cannot be attached to a VPC.")
	}
	if deref(s.KMSKeyArn) != "" {
		return unsupported("KMSKeyArn is not supported by this server: environment variables cannot be encrypted with KMS.")
	}
	if len(s.FileSystemConfigs) > 0 {
		return unsupported("FileSystemConfigs is not supported by this server: EFS cannot be mounted.")
	}
	if len(s.ImageConfig) > 0 {
		return unsupported("ImageConfig is not supported by this server: container images are not supported.")
	}
	if s.SnapStart != nil && s.SnapStart.ApplyOn != nil {
		switch *s.SnapStart.ApplyOn {
		case "None":
		case "PublishedVersions":
			return unsupported("SnapStart is not supported by this server.")
		default:
			return constraint(*s.SnapStart.ApplyOn, "snapStart.applyOn", "Member must satisfy enum value set: [PublishedVersions, None]")
		}
	}
	if lc := s.LoggingConfig; lc != nil {
		if f := deref(lc.LogFormat); f != "" && f != "Text" {
			if f != "JSON" {
				return constraint(f, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]")
			}
			return unsupported("LoggingConfig.LogFormat JSON is not supported by this server yet; use Text.")
		}
		if lc.ApplicationLogLevel != nil || lc.SystemLogLevel != nil {
			return unsupported("LoggingConfig log levels are not supported by this server yet (they need LogFormat JSON).")
		}
		if g := deref(lc.LogGroup); g != "" && g != logGroup(name) {
			return unsupported("LoggingConfig.LogGroup %s is not supported by this server: functions log to %s.", g, logGroup(name))
		}
	}
	return nil
}

func checkRange(v *int, field string, lo, hi int) error {
	switch {
	case v == nil:
		return nil
	case *v < lo:
		return constraint(*v, field, "Member must have value greater than or equal to "+strconv.Itoa(lo))
	case *v > hi:
		return constraint(*v, field, "Member must have value less than or equal to "+strconv.Itoa(hi))
	}
	return nil
}

// validateEnvironment checks variable names, reserved names and the 4 KB
// limit, measured as the total length of names and values.
func validateEnvironment(vars map[string]string) error {
	var reserved []string
	size := 0
	for k, v := range vars {
		if !envKeyRE.MatchString(k) {
			return stratus.Errorf(stratus.EVALIDATION, "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
		}
		if isReservedEnvKey(k) {
			reserved = append(reserved, k)
		}
		size += len(k) + len(v)
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		return invalidf("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	if size > maxEnvBytes {
		measured, _ := json.Marshal(vars)
		return invalidf("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", measured)
	}
	return nil
}

// validateArchitectures checks an Architectures list against the host.
func (h *Handler) validateArchitectures(archs []string) error {
	if len(archs) != 1 {
		return constraint(jsonList(archs), "architectures", "Member must have length less than or equal to 1, Member must have length greater than or equal to 1")
	}
	a := archs[0]
	if a != "x86_64" && a != "arm64" {
		return constraint(jsonList(archs), "architectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
	}
	if a != h.cfg.HostArch {
		return unsupported("Architecture %s is not supported by this server, which runs functions on %s.", a, h.cfg.HostArch)
	}
	return nil
}

// validateTags checks tag keys and values and the number of tags.
func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return invalidf("Number of tags exceeds resource tag limit of %d.", maxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > maxTagKey {
			return constraint(k, "tags", "Map keys must have length between 1 and 128")
		}
		if len(v) > maxTagVal {
			return constraint(v, "tags", "Map values must have length less than or equal to 256")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidf("Tag keys starting with 'aws:' are reserved for AWS use: %s", k)
		}
	}
	return nil
}

// apply copies the members present in s onto fn.
func (s *functionSettings) apply(fn *stratus.Function) {
	setIf(&fn.Role, s.Role)
	setIf(&fn.Runtime, s.Runtime)
	setIf(&fn.Handler, s.Handler)
	setIf(&fn.Description, s.Description)
	if s.Timeout != nil {
		fn.Timeout = *s.Timeout
	}
	if s.MemorySize != nil {
		fn.MemorySize = *s.MemorySize
	}
	if s.EphemeralStorage != nil {
		fn.EphemeralStorage = *s.EphemeralStorage.Size
	}
	if s.Environment != nil { // replaced wholesale, never merged
		fn.Environment = nil
		if len(s.Environment.Variables) > 0 {
			fn.Environment = make(map[string]string, len(s.Environment.Variables))
			for k, v := range s.Environment.Variables {
				fn.Environment[k] = v
			}
		}
	}
	if s.TracingConfig != nil && s.TracingConfig.Mode != nil {
		fn.TracingMode = *s.TracingConfig.Mode
	}
	if s.DeadLetterConfig != nil {
		fn.DeadLetterTarget = deref(s.DeadLetterConfig.TargetArn)
	}
	// Layers need the layer store: the handler resolves and sets them.
}

func setIf(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func jsonList(s []string) string {
	return "[" + strings.Join(s, ", ") + "]"
}
