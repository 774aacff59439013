package e2e

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Layers for managed runtimes (issue 4, point 5): a library in a layer is
// importable by Python (/opt/python and
// /opt/python/lib/python3.X/site-packages) and Node.js
// (/opt/nodejs/node_modules and /opt/nodejs/nodeNN/node_modules)
// handlers; of two layers with the same file, the later one wins; without
// the layer the handler's module fails to load as on AWS.

// Python handlers using the layers' libraries.
const (
	pyLayerApp = `import mylib
import sitepkg


def handler(event, context):
    return {"greeting": mylib.greet(event["name"]), "source": mylib.SOURCE,
            "mylib_file": mylib.__file__, "site": sitepkg.VALUE, "site_file": sitepkg.__file__}
`
	pyLayerOrder = `import mylib
import pkg312


def handler(event, context):
    return {"source": mylib.SOURCE, "pkg312": pkg312.VALUE}
`
)

// The Node.js handler using the layers' libraries.
const nodeLayerApp = `const mylib = require('mylib');
const versioned = require('versioned');

exports.handler = async (event) => ({
  greeting: mylib.greet(event.name),
  source: mylib.source,
  file: require.resolve('mylib'),
  versioned,
});
`

// sharedLibsLayer is the first layer: libraries for both runtimes.
func sharedLibsLayer(t *testing.T) []byte {
	return mustZip(t,
		zipEntry{Name: "python/mylib.py", Data: []byte("SOURCE = 'shared-libs'\n\n\ndef greet(name):\n    return 'hello ' + name + ' from mylib'\n")},
		zipEntry{Name: "python/lib/python3.11/site-packages/sitepkg/__init__.py", Data: []byte("VALUE = 'from site-packages'\n")},
		zipEntry{Name: "python/lib/python3.12/site-packages/pkg312/__init__.py", Data: []byte("VALUE = 'from python3.12 site-packages'\n")},
		zipEntry{Name: "nodejs/node_modules/mylib/package.json", Data: []byte(`{"name":"mylib","version":"1.0.0","main":"index.js"}`)},
		zipEntry{Name: "nodejs/node_modules/mylib/index.js", Data: []byte("exports.source = 'shared-libs';\nexports.greet = (name) => 'hello ' + name + ' from mylib';\n")},
		zipEntry{Name: "nodejs/node20/node_modules/versioned/index.js", Data: []byte("module.exports = 'from node20';\n")},
	)
}

// overrideLayer replaces mylib of both runtimes.
func overrideLayer(t *testing.T) []byte {
	return mustZip(t,
		zipEntry{Name: "python/mylib.py", Data: []byte("SOURCE = 'override'\n\n\ndef greet(name):\n    return 'overridden ' + name\n")},
		zipEntry{Name: "nodejs/node_modules/mylib/index.js", Data: []byte("exports.source = 'override';\nexports.greet = (name) => 'overridden ' + name;\n")},
	)
}

// layeredRuntimeFunction creates name on runtime from files, with layers,
// using the SDK.
func layeredRuntimeFunction(t *testing.T, c *lambda.Client, name, runtime, handler string, files map[string]string, layers ...string) {
	t.Helper()
	var entries []zipEntry
	for _, n := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, zipEntry{Name: n, Data: []byte(files[n])})
	}
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) {
		in.Runtime = types.Runtime(runtime)
		in.Handler = aws.String(handler)
		in.Code = &types.FunctionCode{ZipFile: mustZip(t, entries...)}
		in.Layers = layers
	})
}

func TestLayerLibrariesForPythonAndNode(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	cli := MustAWSCLI(t, srv.URL)

	// The first layer is published with the AWS CLI, the second with the SDK.
	var shared layerVersion
	cli.MustJSON(&shared, "lambda", "publish-layer-version", "--layer-name", "shared-libs",
		"--zip-file", "fileb://"+writeTempFile(t, "shared-libs.zip", sharedLibsLayer(t)),
		"--compatible-runtimes", "python3.11", "python3.12", "nodejs20.x")
	pub, err := c.PublishLayerVersion(ctxFor(t, invokeTimeout), &lambda.PublishLayerVersionInput{
		LayerName: aws.String("override"),
		Content:   &types.LayerVersionContentInput{ZipFile: overrideLayer(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	override := aws.ToString(pub.LayerVersionArn)
	layerARN := "arn:aws:lambda:" + region + ":" + accountID + ":layer:"
	if shared.LayerVersionArn != layerARN+"shared-libs:1" || override != layerARN+"override:1" {
		t.Fatalf("layer version ARNs %q, %q", shared.LayerVersionArn, override)
	}

	// Python, created and invoked with the AWS CLI: /opt/python and the
	// runtime's site-packages directory of the layer are importable.
	pyZip := writeTempFile(t, "py.zip", mustZip(t, zipEntry{Name: "app.py", Data: []byte(pyLayerApp)}))
	var created functionConfig
	cli.MustJSON(&created, "lambda", "create-function", "--function-name", "py-layer", "--runtime", "python3.11",
		"--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://"+pyZip, "--layers", shared.LayerVersionArn)
	waitActive(t, c, "py-layer")
	inv := cli.Invoke("py-layer", map[string]any{"name": "py"})
	var py map[string]any
	if inv.FunctionError != "" {
		t.Fatalf("py-layer: FunctionError %q: %s\n%s", inv.FunctionError, inv.Payload, inv.Log)
	}
	mustDecode(t, inv.Payload, &py)
	for k, want := range map[string]string{
		"greeting":   "hello py from mylib",
		"source":     "shared-libs",
		"mylib_file": "/opt/python/mylib.py",
		"site":       "from site-packages",
		"site_file":  "/opt/python/lib/python3.11/site-packages/sitepkg/__init__.py",
	} {
		if fmt.Sprint(py[k]) != want {
			t.Errorf("py-layer %s = %v, want %q (payload %s)", k, py[k], want, inv.Payload)
		}
	}

	// Node.js, created and invoked with the SDK: /opt/nodejs/node_modules
	// and /opt/nodejs/node20/node_modules are on the module search path.
	nodeFiles := map[string]string{"app.js": nodeLayerApp}
	layeredRuntimeFunction(t, c, "node-layer", "nodejs20.x", "app.handler", nodeFiles, shared.LayerVersionArn)
	var node map[string]any
	invoke(t, c, "node-layer", map[string]any{"name": "node"}).mustSucceed(t, &node)
	for k, want := range map[string]string{
		"greeting":  "hello node from mylib",
		"source":    "shared-libs",
		"file":      "/opt/nodejs/node_modules/mylib/index.js",
		"versioned": "from node20",
	} {
		if fmt.Sprint(node[k]) != want {
			t.Errorf("node-layer %s = %v, want %q", k, node[k], want)
		}
	}

	// Layer order: the later layer's file wins, in both runtimes, and
	// changing the order with UpdateFunctionConfiguration takes effect.
	pyOrder := map[string]string{"order.py": pyLayerOrder}
	layeredRuntimeFunction(t, c, "py-order", "python3.12", "order.handler", pyOrder, shared.LayerVersionArn, override)
	var order struct{ Source, Pkg312 string }
	invoke(t, c, "py-order", map[string]any{}).mustSucceed(t, &order)
	if order.Source != "override" || order.Pkg312 != "from python3.12 site-packages" {
		t.Errorf("py-order [shared-libs, override] = %+v, want mylib of override and pkg312 of shared-libs", order)
	}
	if _, err := c.UpdateFunctionConfiguration(ctxFor(t, invokeTimeout), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("py-order"), Layers: []string{override, shared.LayerVersionArn},
	}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, c, "py-order")
	order.Source, order.Pkg312 = "", ""
	invoke(t, c, "py-order", map[string]any{}).mustSucceed(t, &order)
	if order.Source != "shared-libs" {
		t.Errorf("py-order [override, shared-libs] = %+v, want mylib of shared-libs", order)
	}
	layeredRuntimeFunction(t, c, "node-order", "nodejs20.x", "app.handler", nodeFiles, shared.LayerVersionArn, override)
	invoke(t, c, "node-order", map[string]any{"name": "n"}).mustSucceed(t, &node)
	if node["source"] != "override" || node["greeting"] != "overridden n" || node["versioned"] != "from node20" {
		t.Errorf("node-order [shared-libs, override] = %v, want mylib of override", node)
	}

	// Without the layer, the handler's module does not load: AWS's
	// Runtime.ImportModuleError, on every invoke (init is retried).
	cli.MustRun("lambda", "create-function", "--function-name", "py-nolayer", "--runtime", "python3.11",
		"--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://"+pyZip)
	waitActive(t, c, "py-nolayer")
	layeredRuntimeFunction(t, c, "node-nolayer", "nodejs20.x", "app.handler", nodeFiles)
	for attempt := 1; attempt <= 2; attempt++ {
		inv := invoke(t, c, "py-nolayer", map[string]any{"name": "x"})
		if inv.FunctionError != "Unhandled" {
			t.Fatalf("py-nolayer: FunctionError %q: %s", inv.FunctionError, inv.Payload)
		}
		mustKeys(t, inv.Payload, "errorMessage", "errorType", "requestId", "stackTrace")
		var pe pyError
		mustDecode(t, inv.Payload, &pe)
		const msg = "Unable to import module 'app': No module named 'mylib'"
		if pe.ErrorType != "Runtime.ImportModuleError" || pe.ErrorMessage != msg || pe.RequestID == nil || *pe.RequestID != "" || pe.StackTrace == nil || len(pe.StackTrace) != 0 {
			t.Errorf("py-nolayer: %s, want errorType Runtime.ImportModuleError, errorMessage %q, requestId \"\", stackTrace []", inv.Payload, msg)
		}

		inv = invoke(t, c, "node-nolayer", map[string]any{"name": "x"})
		if inv.FunctionError != "Unhandled" {
			t.Fatalf("node-nolayer: FunctionError %q: %s", inv.FunctionError, inv.Payload)
		}
		mustKeys(t, inv.Payload, "errorType", "errorMessage", "trace")
		var ne nodeError
		mustDecode(t, inv.Payload, &ne)
		const nodeMsg = "Error: Cannot find module 'mylib'\nRequire stack:\n- /var/task/app.js\n- /var/runtime/index.mjs"
		if ne.ErrorType != "Runtime.ImportModuleError" || ne.ErrorMessage != nodeMsg || len(ne.Trace) == 0 ||
			!slices.Equal(ne.Trace[:min(4, len(ne.Trace))], []string{"Runtime.ImportModuleError: Error: Cannot find module 'mylib'", "Require stack:", "- /var/task/app.js", "- /var/runtime/index.mjs"}) {
			t.Errorf("node-nolayer: %s, want errorType Runtime.ImportModuleError, errorMessage %q", inv.Payload, nodeMsg)
		}
	}
}
