package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const cliTimeout = 2 * time.Minute

// The AWS CLI found on this machine, looked up once.
var awsCLIPath = sync.OnceValues(func() (cliInfo, error) {
	path := "/usr/bin/aws"
	if _, err := os.Stat(path); err != nil {
		p, err := exec.LookPath("aws")
		if err != nil {
			return cliInfo{}, errors.New("AWS CLI not found: neither /usr/bin/aws nor aws on PATH (install it, e.g. apt-get install -y awscli)")
		}
		path = p
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return cliInfo{}, fmt.Errorf("%s --version: %v\n%s", path, err, out)
	}
	m := regexp.MustCompile(`aws-cli/(\d+)\.`).FindSubmatch(out)
	if m == nil {
		return cliInfo{}, fmt.Errorf("%s --version: unexpected output %q", path, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	return cliInfo{path: path, major: major, version: strings.TrimSpace(string(out))}, nil
})

type cliInfo struct {
	path    string
	major   int // 1 or 2
	version string
}

// AWSCLI runs the real AWS CLI against one Stratus endpoint, isolated from
// the developer's AWS configuration.
type AWSCLI struct {
	t        testing.TB
	info     cliInfo
	endpoint string
	env      []string
}

// MustAWSCLI returns a CLI runner for endpoint. It fails the test (it does
// not skip it) when no AWS CLI is installed.
func MustAWSCLI(t testing.TB, endpoint string) *AWSCLI {
	t.Helper()
	info, err := awsCLIPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, p := range []string{cfg, creds} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := clientProcessEnv(
		"AWS_CONFIG_FILE="+cfg,
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_PAGER=",
		"AWS_RETRY_MODE=standard",
		"AWS_MAX_ATTEMPTS=1",
	)
	return &AWSCLI{t: t, info: info, endpoint: endpoint, env: env}
}

// CLIResult is the outcome of one CLI run.
type CLIResult struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
}

var cliErrorRE = regexp.MustCompile(`An error occurred \(([A-Za-z0-9_.]+)\)`)

// ErrorCode is the AWS error code the CLI reported ("" if none).
func (r CLIResult) ErrorCode() string {
	if m := cliErrorRE.FindStringSubmatch(r.Stderr); m != nil {
		return m[1]
	}
	return ""
}

func (r CLIResult) String() string {
	return fmt.Sprintf("aws %s\nexit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.ExitCode, r.Stdout, r.Stderr)
}

// Run runs `aws --endpoint-url URL --output json args...`.
func (c *AWSCLI) Run(args ...string) CLIResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	full := append([]string{"--endpoint-url", c.endpoint, "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, c.info.path, full...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := CLIResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.ExitCode = exitErr.ExitCode()
	default:
		c.t.Fatalf("running %s: %v", r, err)
	}
	return r
}

// MustRun runs the CLI and fails the test unless it exits 0.
func (c *AWSCLI) MustRun(args ...string) CLIResult {
	c.t.Helper()
	r := c.Run(args...)
	if r.ExitCode != 0 {
		c.t.Fatalf("CLI failed:\n%s", r)
	}
	return r
}

// MustJSON runs the CLI, requires exit 0 and decodes its JSON output into v.
func (c *AWSCLI) MustJSON(v any, args ...string) {
	c.t.Helper()
	r := c.MustRun(args...)
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		c.t.Fatalf("decoding CLI output: %v\n%s", err, r)
	}
}

// MustFail runs the CLI and requires it to fail with the AWS error code.
func (c *AWSCLI) MustFail(code string, args ...string) CLIResult {
	c.t.Helper()
	r := c.Run(args...)
	if r.ExitCode == 0 {
		c.t.Fatalf("CLI succeeded, want error %s:\n%s", code, r)
	}
	if got := r.ErrorCode(); got != code {
		c.t.Fatalf("CLI error code = %q, want %q:\n%s", got, code, r)
	}
	return r
}

// cliInvokeOutput is what `aws lambda invoke` prints.
type cliInvokeOutput struct {
	StatusCode      int    `json:"StatusCode"`
	FunctionError   string `json:"FunctionError"`
	LogResult       string `json:"LogResult"`
	ExecutedVersion string `json:"ExecutedVersion"`
}

// CLIInvocation is one `aws lambda invoke --log-type Tail`.
type CLIInvocation struct {
	cliInvokeOutput
	Payload []byte // the response body the CLI wrote to its outfile
	Log     string // LogResult, decoded
}

// Invoke runs `aws lambda invoke --log-type Tail` with a raw JSON payload
// (with --cli-binary-format raw-in-base64-out on CLI v2, which would
// otherwise expect base64) and returns the output and the response body.
func (c *AWSCLI) Invoke(name string, payload any, extra ...string) CLIInvocation {
	c.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		c.t.Fatal(err)
	}
	outfile := filepath.Join(c.t.TempDir(), "response.json")
	args := []string{"lambda", "invoke", "--function-name", name, "--payload", string(body), "--log-type", "Tail"}
	if c.info.major >= 2 {
		args = append(args, "--cli-binary-format", "raw-in-base64-out")
	}
	args = append(args, extra...)
	args = append(args, outfile)
	var inv CLIInvocation
	c.MustJSON(&inv.cliInvokeOutput, args...)
	if inv.Payload, err = os.ReadFile(outfile); err != nil {
		c.t.Fatalf("reading invoke response: %v", err)
	}
	inv.Log = decodeLogResult(c.t, inv.LogResult)
	return inv
}
