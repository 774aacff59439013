"""Stratus's Lambda Runtime API client for Python managed runtimes.

Standard library only, and lean at start-up: it talks HTTP/1.1 to the
Runtime API over a raw keep-alive socket (_socket) and encodes JSON with
the _json accelerator directly, because importing socket, json, logging or
http.client costs more than the rest of a cold start on a small CPU share.
Heavier modules (json, traceback, logging) are imported only when they are
needed.

It behaves as AWS's Python runtime (awslambdaric):

  - _HANDLER "module.function", "dir/module.function" or
    "package.module.function"; the module is imported once, before the
    first invocation/next, so its top-level code counts in Init Duration;
  - sys.path: LAMBDA_TASK_ROOT, /opt/python/lib/python3.X/site-packages,
    /opt/python, then PYTHONPATH (/var/runtime) and the standard library;
  - the context object of awslambdaric (aws_request_id, function_name,
    ..., get_remaining_time_in_millis(), client_context, identity);
  - errors as {"errorMessage", "errorType", "requestId", "stackTrace"},
    init failures (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...)
    posted to /runtime/init/error;
  - print() output unchanged; the logging module's root logger writes
    "[LEVEL]\\t<time>Z\\t<request id>\\t<message>" lines (configured when
    logging is first imported, by anyone);
  - _X_AMZN_TRACE_ID set for each invocation.

A pre-started interpreter (a zygote) can import this module ahead of time
and, once it knows the function, call setup_path(), load_handler() and
serve() itself; main() is that sequence for a fresh process.
"""

import os
import sys
import time

import _socket

# ----------------------------------------------------------------------------
# Errors

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"


class FaultError(Exception):
    """A failure the runtime itself classifies (Runtime.*)."""

    def __init__(self, error_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.error_type = error_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    """The error document AWS's Python runtime posts, keys in its order."""
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


_RUNTIME_FILES = (__file__, os.path.join(os.path.dirname(__file__), "bootstrap.py"))


def _user_frames(tb):
    """The frames of traceback tb as (file, line, name, text) tuples, without
    the runtime's own leading frames."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, f in enumerate(frames):
        if f[0] not in _RUNTIME_FILES:
            return frames[i:]
    return []


def exception_error(exc_info, request_id=None):
    """The error document of an exception raised by user code."""
    import traceback

    etype, value, tb = exc_info
    trace = traceback.format_list(_user_frames(tb))
    return make_error(str(value), etype.__name__, trace, request_id)


_NBSP = "\u00a0"


def log_error(error):
    """Writes error to stdout as AWS's text log format does: one line,
    parts separated by CR, indentation as no-break spaces."""
    desc = "[ERROR]"
    if error.get("errorType"):
        desc += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            desc += ":"
        desc += " " + error["errorMessage"]
    lines = [desc]
    trace = error.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                n = len(line) - len(line.lstrip(" "))
                lines.append(_NBSP * n + line[n:])
    sys.stdout.write("\r".join(lines) + "\n")


# ----------------------------------------------------------------------------
# JSON through the _json accelerator, with the json module as fallback.

_encode_ascii = True  # AWS's runtime writes non-ASCII verbatim only on python3.12


def _json_default(obj):
    if obj.__class__.__name__ == "Decimal" and obj.__class__.__module__ in ("decimal", "_decimal"):
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % obj.__class__.__name__)


try:
    import _json

    class _ScanContext(object):
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = {
            "-Infinity": float("-inf"),
            "Infinity": float("inf"),
            "NaN": float("nan"),
        }.__getitem__
        memo = None

    _scan = _json.make_scanner(_ScanContext())

    def _c_dumps(obj):
        enc = _json.encode_basestring_ascii if _encode_ascii else _json.encode_basestring
        chunks = _json.make_encoder({}, _json_default, enc, None, ": ", ", ", False, False, True)(obj, 0)
        return "".join(chunks)

    if _c_dumps({"a": [1, 2.5, "x", None, True]}) != '{"a": [1, 2.5, "x", null, true]}':
        raise ImportError("unexpected _json behaviour")
except Exception:  # another interpreter: use the json module
    _scan = None
    _c_dumps = None

_WS = " \t\n\r"


def json_loads(s):
    """json.loads for str or UTF-8 bytes."""
    if _scan is not None:
        try:
            if not isinstance(s, str):
                s = bytes(s).decode("utf-8")
            n = len(s)
            i = 0
            while i < n and s[i] in _WS:
                i += 1
            obj, end = _scan(s, i)
            while end < n and s[end] in _WS:
                end += 1
            if end == n:
                return obj
        except (StopIteration, UnicodeDecodeError, ValueError):
            pass  # let json say what is wrong
    import json

    return json.loads(s)


def json_dumps(obj):
    """json.dumps(obj) with AWS's runtime settings (', ' and ': ' separators,
    Decimal as a number)."""
    if _c_dumps is not None:
        return _c_dumps(obj)
    import json

    return json.dumps(obj, default=_json_default, ensure_ascii=_encode_ascii)


def marshal_response(result):
    """The response body and content type of a handler's return value."""
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return json_dumps(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultError(MARSHAL_ERROR, "Unable to marshal response: {}".format(e))


def unmarshal_request(body, content_type):
    if content_type not in (None, "application/json"):
        return body
    try:
        return json_loads(body)
    except Exception as e:
        raise FaultError(UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e))


# ----------------------------------------------------------------------------
# Runtime API client: HTTP/1.1 over one keep-alive connection.


class RuntimeAPIError(Exception):
    pass


class _Closed(Exception):
    pass


class RuntimeClient(object):
    """Talks to the Runtime API at address ("host:port")."""

    def __init__(self, address, user_agent="stratus-python"):
        host, _, port = address.rpartition(":")
        self._addr = (host or "127.0.0.1", int(port))
        self._head = "Host: {}\r\nUser-Agent: {}\r\n".format(address, user_agent).encode("latin-1")
        self._sock = None
        self._buf = b""

    def _connect(self):
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            s.connect(self._addr)
        except BaseException:
            s.close()
            raise
        self._sock = s
        self._buf = b""
        return s

    def _close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = b""

    def request(self, method, path, body=None, headers=None):
        """Sends one request and returns (status, headers, body)."""
        head = "{} {} HTTP/1.1\r\n".format(method, path).encode("latin-1") + self._head
        if headers:
            for k, v in headers.items():
                head += "{}: {}\r\n".format(k, v).encode("latin-1")
        if body is not None:
            head += b"Content-Length: %d\r\n" % len(body)
        head += b"\r\n"
        for attempt in (0, 1):
            reused = self._sock is not None
            sock = self._sock or self._connect()
            try:
                if body is None:
                    sock.sendall(head)
                elif len(body) <= 65536:
                    sock.sendall(head + body)
                else:
                    sock.sendall(head)
                    sock.sendall(body)
                return self._read_response(sock)
            except (OSError, _Closed):
                self._close()
                # A kept-alive connection the server closed meanwhile: retry
                # once on a fresh one.
                if attempt or not reused:
                    raise
        raise RuntimeAPIError("unreachable")

    def _recv(self, sock):
        data = sock.recv(65536)
        if not data:
            raise _Closed()
        return data

    def _read_response(self, sock):
        buf = self._buf
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            buf += self._recv(sock)
        head, rest = buf[:i], buf[i + 4:]
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(rest) >= n:
                body, self._buf = rest[:n], rest[n:]
            else:
                body = bytearray(n)
                view = memoryview(body)
                got = len(rest)
                view[:got] = rest
                while got < n:
                    k = sock.recv_into(view[got:])
                    if not k:
                        raise _Closed()
                    got += k
                body = bytes(body)
                self._buf = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, self._buf = self._read_chunked(sock, rest)
        else:  # until the server closes
            parts = [rest]
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                parts.append(data)
            body = b"".join(parts)
            self._close()
        if headers.get("connection", "").lower() == "close":
            self._close()
        return status, headers, body

    def _read_chunked(self, sock, buf):
        parts = []
        while True:
            while b"\r\n" not in buf:
                buf += self._recv(sock)
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";", 1)[0], 16)
            while len(buf) < size + 2:
                buf += self._recv(sock)
            if size == 0:
                while b"\r\n\r\n" not in b"\r\n" + buf:  # trailers
                    buf += self._recv(sock)
                return b"".join(parts), buf[(b"\r\n" + buf).find(b"\r\n\r\n") + 2:]
            parts.append(buf[:size])
            buf = buf[size + 2:]

    def next(self):
        """Waits for the next invocation: (headers, body)."""
        status, headers, body = self.request("GET", "/2018-06-01/runtime/invocation/next")
        if status != 200:
            raise RuntimeAPIError("invocation/next: status {}: {!r}".format(status, body[:200]))
        return headers, body

    def post_response(self, request_id, body, content_type):
        self._post("/2018-06-01/runtime/invocation/{}/response".format(request_id), body, {"Content-Type": content_type})

    def post_error(self, request_id, error):
        self._post_error("/2018-06-01/runtime/invocation/{}/error".format(request_id), error)

    def post_init_error(self, error):
        self._post_error("/2018-06-01/runtime/init/error", error)

    def _post_error(self, path, error):
        body = json_dumps(error).encode("utf-8")
        self._post(path, body, {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error.get("errorType") or "Unhandled",
        })

    def _post(self, path, body, headers):
        status, _, resp = self.request("POST", path, body, headers)
        # 413: the response was too large; the platform has already failed
        # the invocation with Function.ResponseSizeTooLarge.
        if status not in (202, 413):
            raise RuntimeAPIError("{}: status {}: {!r}".format(path, status, resp[:200]))


# ----------------------------------------------------------------------------
# Handler loading


def setup_path(task_root, python_version):
    """Puts the function's code and the layers' Python directories ahead of
    PYTHONPATH and the standard library, as on AWS."""
    site_dir = "/opt/python/lib/python{}/site-packages".format(python_version)
    front = [task_root, site_dir, "/opt/python"]
    own = "python{}.{}".format(sys.version_info[0], sys.version_info[1])
    if own != "python" + python_version:
        front.append("/opt/python/lib/{}/site-packages".format(own))
    sys.path[:0] = [p for p in front if p not in sys.path]
    for d in front[1:]:
        if d.endswith("site-packages") and os.path.isdir(d):
            import site  # .pth files of layers work as in a site directory

            site.addsitedir(d)


def load_handler(handler):
    """Imports the module of handler ("module.function") and returns the
    function, or raises FaultError as AWS's runtime does."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError(MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError(BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module {} as a handler module".format(modname))
        name = modname.replace("/", ".")
        __import__(name)
        module = sys.modules[name]
    except ImportError as e:
        raise FaultError(IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError(USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError(HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(fname, modname))


# ----------------------------------------------------------------------------
# Context


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return "Client([{}])".format(",".join("{}={}".format(k, getattr(self, k)) for k in self.__slots__))


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom={},env={},client={}])".format(self.custom, self.env, self.client)


def _from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field))
    return obj


def _parse_json_header(value, name):
    try:
        return json_loads(value)
    except Exception as e:
        raise FaultError(LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, e))


class LambdaContext(object):
    """The context argument of a handler, as AWS's Python runtime builds it.
    memory_limit_in_mb is a string there too."""

    def __init__(self, request_id, client_context, cognito_identity, deadline_ms, invoked_function_arn=None, tenant_id=None):
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = _from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        delta = self._deadline_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
            "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},identity={},tenant_id={}])"
        ).format(self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                 self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
                 self.client_context, self.identity, self.tenant_id)


# ----------------------------------------------------------------------------
# Logging: the root logger gets AWS's handler when logging is first imported,
# so that nothing pays for the logging module unless it is used, and a
# function's logging.basicConfig() finds the root configured, as on AWS.

_request_id = None  # of the invocation in progress, for log records

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"


def configure_logging(logging):
    """Installs AWS's text log handler on the root logger of module logging."""
    root = logging.getLogger()
    for h in root.handlers:
        if getattr(h, "_stratus", False):
            return

    class LambdaLoggerHandler(logging.Handler):
        _stratus = True

        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id or ""
            return True

    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(LambdaLoggerFilter())
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


class _LoggingLoader(object):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        configure_logging(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _LoggingFinder(object):
    """A meta path finder that configures logging right after its first
    import, then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoggingLoader(spec.loader)
        return spec


def install_logging_hook():
    if "logging" in sys.modules:
        configure_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingFinder())


# ----------------------------------------------------------------------------
# The invoke loop


def _set_trace_id(trace_id):
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def handle_invocation(client, handler, headers, body):
    """Runs handler on one event and posts its result or error."""
    global _request_id
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _request_id = request_id
    _set_trace_id(headers.get("lambda-runtime-trace-id"))
    error = None
    try:
        client_context = headers.get("lambda-runtime-client-context")
        if client_context:
            client_context = _parse_json_header(client_context, "Client Context")
        else:
            client_context = None
        identity = headers.get("lambda-runtime-cognito-identity")
        identity = _parse_json_header(identity, "Cognito Identity") if identity else None
        ctx = LambdaContext(
            request_id,
            client_context,
            identity,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        event = unmarshal_request(body, headers.get("content-type"))
        result = handler(event, ctx)
        payload, content_type = marshal_response(result)
    except FaultError as e:
        error = make_error(e.msg, e.error_type, e.trace, request_id)
    except Exception:
        error = exception_error(sys.exc_info(), request_id)
    if error is not None:
        log_error(error)
        client.post_error(request_id, error)
    else:
        client.post_response(request_id, payload, content_type)


def serve(client, handler):
    """Serves invocations forever."""
    while True:
        headers, body = client.next()
        handle_invocation(client, handler, headers, body)


def init_error(exc_info):
    """The init error document of an exception raised while loading."""
    e = exc_info[1]
    if isinstance(e, FaultError):
        return make_error(e.msg, e.error_type, e.trace)
    return exception_error(exc_info)


def main():
    global _encode_ascii
    env = os.environ
    execution_env = env.get("AWS_EXECUTION_ENV", "")
    _encode_ascii = execution_env != "AWS_Lambda_python3.12"
    version = execution_env.rpartition("python")[2] or "{}.{}".format(*sys.version_info[:2])
    setup_path(env.get("LAMBDA_TASK_ROOT", "/var/task"), version)
    import builtins

    if not hasattr(builtins, "exit"):  # the site module (not run: -S) adds them
        builtins.exit = builtins.quit = sys.exit
    py = "{}.{}.{}".format(*sys.version_info[:3])
    client = RuntimeClient(env["AWS_LAMBDA_RUNTIME_API"], "aws-lambda-python/{}-stratus".format(py))
    install_logging_hook()
    try:
        handler = load_handler(env.get("_HANDLER", ""))
    except Exception:
        error = init_error(sys.exc_info())
        log_error(error)
        client.post_init_error(error)
        sys.exit(1)
    serve(client, handler)
