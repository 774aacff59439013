/**
 * Stratus's Lambda Runtime API client for Node.js managed runtimes (nodejs18.x,
 * nodejs20.x, nodejs22.x), run as
 *
 *     /usr/bin/node [heap flags] /var/runtime/node/bootstrap.cjs
 *
 * Node's standard library only, and lean at start-up: a CommonJS entry point
 * (an ES module entry or the http module cost several milliseconds more),
 * HTTP/1.1 to the Runtime API over one keep-alive net.Socket that is unref'd
 * while the handler runs, so that "the event loop is empty" means what it
 * means on AWS.
 *
 * It behaves as AWS's Node.js runtime (aws-lambda-nodejs-runtime-interface-
 * client): handler strings "file.fn", "dir/file.fn", "file.obj.fn"; file.js
 * (CommonJS, or an ES module under a package.json with "type": "module"),
 * file.mjs (ES module, loaded with import()), file.cjs; the module is loaded
 * once, before the first invocation/next (so top-level code and top-level
 * await count in Init Duration); async, promise and callback handlers with
 * context.callbackWaitsForEmptyEventLoop; errors as {errorType, errorMessage,
 * trace}; console lines "<ISO time>\t<request id>\t<LEVEL>\t<message>".
 *
 * A pre-started interpreter can require this file (it only starts when it is
 * the main module) and call start(appRoot, handlerString) once it knows the
 * function.
 */
'use strict';

const net = require('net');
const fs = require('fs');
const path = require('path');
const util = require('util');
const Module = require('module');

// Modules are loaded as if by AWS's /var/runtime/index.mjs, so that module
// errors name the same require stack as on AWS.
const runtimeRequire = Module.createRequire('/var/runtime/index.mjs');

// ---------------------------------------------------------------------------
// Errors

function runtimeErrorClass(name) {
  const C = {
    [name]: class extends Error {},
  }[name];
  C.prototype.name = 'Runtime.' + name;
  return C;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeErrorClass('MalformedStreamingHandler');
const NodeJsExit = runtimeErrorClass('NodeJsExit');

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === 'string' && obj.name &&
    typeof obj.message === 'string' && obj.message &&
    typeof obj.stack === 'string' && obj.stack
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The error document posted to the Runtime API. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      { errorType: error.name, errorMessage: error.message, code: error.code },
      error,
    );
    if (typeof error.stack === 'string') {
      ret.stack = error.stack.split('\n');
    }
    return ret;
  }
  return error;
}

/** An error as AWS's runtime logs it: a tab, then JSON. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------
// Console: every line carries the time, the request id and the level.

let currentRequestId; // undefined during init, as on AWS

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

function logText(level, message, ...params) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level.name}\t${util.format(message, ...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function jsonErrorReplacer(_, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function logJSON(level, message, ...params) {
  const result = { timestamp: new Date().toISOString(), level: level.name, requestId: currentRequestId };
  let line;
  if (params.length === 0) {
    result.message = message;
    try {
      line = JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      line = JSON.stringify(result);
    }
  } else {
    result.message = util.format(message, ...params);
    for (const p of [message, ...params]) {
      if (p instanceof Error) {
        result.errorType = p?.constructor?.name ?? 'UnknownError';
        result.errorMessage = p.message;
        result.stackTrace = typeof p.stack === 'string' ? p.stack.split('\n') : [];
        break;
      }
    }
    line = JSON.stringify(result);
  }
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

let logError = (msg, err) => console.error(msg, toFormatted(intoError(err)));

function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const log = json ? logJSON : logText;
  const min = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const nop = () => {};
  const at = (level) => (level.priority >= min.priority ? (msg, ...params) => log(level, msg, ...params) : nop);
  console.trace = at(LEVELS.TRACE);
  console.debug = at(LEVELS.DEBUG);
  console.info = at(LEVELS.INFO);
  console.log = console.info;
  console.warn = at(LEVELS.WARN);
  console.error = at(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
  if (json) {
    logError = (_, err) => console.error(intoError(err));
  }
}

/** Resolves once what was written to stdout and stderr has left the
 * process, so that it is logged before the invocation's END line. */
function flushOutput() {
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  if (pending.length === 0) {
    return Promise.resolve();
  }
  return Promise.all(pending.map((s) => new Promise((resolve) => s.write('', () => resolve()))));
}

// ---------------------------------------------------------------------------
// Runtime API client

class RuntimeClient {
  constructor(address) {
    this.address = address;
    const i = address.lastIndexOf(':');
    this.host = address.slice(0, i) || '127.0.0.1';
    this.port = parseInt(address.slice(i + 1), 10);
    this.head = `Host: ${address}\r\nUser-Agent: aws-lambda-nodejs/${process.version}-stratus\r\n`;
    this.socket = null;
    this.pending = null; // {resolve, reject, retry}
    this.chunks = [];
    this.length = 0;
    this.response = null; // parsed status line and headers of the response being read
  }

  _connect() {
    const s = net.connect({ host: this.host, port: this.port });
    s.setNoDelay(true);
    s.on('data', (chunk) => this._onData(s, chunk));
    s.on('error', () => {}); // 'close' follows
    s.on('close', () => this._onClose(s));
    this.socket = s;
    this.chunks = [];
    this.length = 0;
    this.response = null;
    return s;
  }

  /** Sends one request; resolves to {status, headers, body (Buffer)}. */
  request(method, urlPath, body, headers) {
    let head = `${method} ${urlPath} HTTP/1.1\r\n${this.head}`;
    for (const k in headers || {}) {
      head += `${k}: ${headers[k]}\r\n`;
    }
    if (body !== undefined) {
      head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    }
    head += '\r\n';
    if (this.pending) {
      // A request while another one waits (an uncaught exception while the
      // runtime waits for the next invocation): use a connection of its own.
      return new RuntimeClient(this.address).request(method, urlPath, body, headers);
    }
    return new Promise((resolve, reject) => {
      const attempt = (mayRetry) => {
        const reused = this.socket !== null;
        const s = this.socket || this._connect();
        this.pending = {
          resolve,
          reject,
          // A kept-alive connection the server closed meanwhile: retry once.
          retry: mayRetry && reused ? () => attempt(false) : null,
        };
        s.ref();
        if (body === undefined) {
          s.write(head);
        } else {
          s.cork();
          s.write(head);
          s.write(body);
          s.uncork();
        }
      };
      attempt(true);
    });
  }

  _onClose(s) {
    if (this.socket !== s) {
      return;
    }
    this.socket = null;
    const p = this.pending;
    this.pending = null;
    if (p) {
      if (p.retry && this.length === 0) {
        p.retry();
      } else {
        p.reject(new Error('Runtime API connection closed'));
      }
    }
  }

  _onData(s, chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
    let res;
    try {
      res = this._parse();
    } catch (err) {
      s.destroy();
      return;
    }
    if (!res) {
      return;
    }
    const p = this.pending;
    this.pending = null;
    s.unref(); // idle: only the function's own work keeps the process alive
    if (res.close) {
      this.socket = null;
      s.destroy();
    }
    if (p) {
      p.resolve(res);
    }
  }

  /** Parses a complete response from the buffered chunks, or returns null. */
  _parse() {
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    this.chunks = [buf];
    if (!this.response) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        return null;
      }
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const c = lines[i].indexOf(':');
        headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
      }
      this.response = { status: parseInt(lines[0].split(' ')[1], 10), headers, start: end + 4 };
    }
    const r = this.response;
    const h = r.headers;
    let body;
    let rest;
    if (h['content-length'] !== undefined) {
      const n = parseInt(h['content-length'], 10);
      if (buf.length < r.start + n) {
        return null;
      }
      body = buf.subarray(r.start, r.start + n);
      rest = buf.subarray(r.start + n);
    } else if ((h['transfer-encoding'] || '').toLowerCase() === 'chunked') {
      const parts = [];
      let i = r.start;
      for (;;) {
        const eol = buf.indexOf('\r\n', i);
        if (eol < 0) {
          return null;
        }
        const size = parseInt(buf.toString('latin1', i, eol).split(';')[0], 16);
        if (size === 0) {
          const end = buf.indexOf('\r\n\r\n', eol - 2 < i ? i : eol - 2);
          if (end < 0) {
            return null;
          }
          rest = buf.subarray(end + 4);
          break;
        }
        if (buf.length < eol + 2 + size + 2) {
          return null;
        }
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        i = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      throw new Error('Runtime API response without a length');
    }
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    this.response = null;
    return {
      status: r.status,
      headers: h,
      body,
      close: (h.connection || '').toLowerCase() === 'close',
    };
  }

  async nextInvocation() {
    const res = await this.request('GET', '/2018-06-01/runtime/invocation/next');
    if (res.status !== 200) {
      throw new Error(`invocation/next: status ${res.status}: ${res.body.toString().slice(0, 200)}`);
    }
    return { bodyJson: res.body.toString('utf8'), headers: res.headers };
  }

  async _post(urlPath, body, headers) {
    await flushOutput();
    const res = await this.request('POST', urlPath, body, headers);
    // 413: the response was too large; the platform has already failed the
    // invocation with Function.ResponseSizeTooLarge, and the runtime goes on.
    if (res.status !== 202 && res.status !== 413) {
      throw new Error(`${urlPath}: status ${res.status}: ${res.body.toString().slice(0, 200)}`);
    }
  }

  /** Posts response (JSON-serialised) as the result of invocation id, then
   * calls callback. Throws at once if response cannot be serialised. */
  postInvocationResponse(response, id, callback) {
    const body = trySerializeResponse(response);
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': 'application/json',
    }).then(callback, fatal);
  }

  /** Posts a raw body with a content type (streaming handlers, buffered). */
  postInvocationBody(body, contentType, id, callback) {
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': contentType,
    }).then(callback, fatal);
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/error`, trySerializeResponse(response), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': response.errorType,
    }).then(callback, fatal);
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this._post('/2018-06-01/runtime/init/error', trySerializeResponse(response), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': response.errorType,
    }).then(callback, fatal);
  }
}

function trySerializeResponse(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

/** The Runtime API failed: nothing sensible is left to do. */
function fatal(err) {
  process.stderr.write(`Stratus runtime: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Loading the handler

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? runtimeRequire(p) : undefined;
}

async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? await import(p) : undefined;
}

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) {
    return false;
  }
  const pj = path.join(folder, '/package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) {
        return pkg.type === 'module';
      }
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/') {
    return false;
  }
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) {
    return extensionless;
  }
  const pjHasModule = hasFolderPackageJsonTypeModule(path.resolve(path.dirname(lambdaStylePath)));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) {
      return loaded;
    }
  }
  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) {
    return loaded;
  }
  return runtimeRequire(runtimeRequire.resolve(module, { paths: [appRoot, moduleRoot] }));
}

function installGlobalAwsLambda() {
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') {
    return;
  }
  globalThis.awslambda = {
    streamifyResponse: (handler, options) => {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType('application/vnd.awslambda.http-integration-response');
        stream.write(JSON.stringify(prelude));
        stream.write(Buffer.alloc(8)); // the delimiter: 8 NUL bytes
        return stream;
      },
    },
  };
}

async function loadUserApp(appRoot, moduleRoot, module) {
  installGlobalAwsLambda();
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new UserCodeSyntaxError(e);
    } else if (e.code !== undefined && e.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(e);
    }
    throw e;
  }
}

/** Loads the module of fullHandlerString (relative to appRoot) and returns
 * the handler function; throws Runtime.* errors as AWS's runtime does. */
async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) {
    throw new MalformedHandlerName('Bad handler');
  }
  const [, module, handlerPath] = match;
  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = handlerPath.split('.').reduce((nested, key) => nested && nested[key], userApp);
  if (!handlerFunc) {
    throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

function handlerMetadata(handler) {
  const streaming = handler[HANDLER_STREAMING];
  if (streaming !== undefined && streaming !== null && streaming !== false && streaming !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  return {
    streaming: streaming === STREAM_RESPONSE,
    isAsync: handler.constructor && handler.constructor.name === 'AsyncFunction',
  };
}

// ---------------------------------------------------------------------------
// Context

// beforeExit: what to do when the event loop runs empty during an invocation.
const NO_OP = () => {};
let beforeExitListener = NO_OP;

function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, callback) => {
    logError('Invoke Error', err);
    client.postInvocationError(err, id, callback);
  };
  let isCompleteInvoked = false;
  const complete = (result, callback) => {
    if (isCompleteInvoked) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id, callback);
  };
  let waitForEmptyEventLoop = true;
  const callback = (err, result) => {
    beforeExitListener = NO_OP;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExitListener = () => setImmediate(() => complete(result, scheduleNext));
    }
  };
  const done = (err, result) => {
    beforeExitListener = NO_OP;
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: (result) => done(null, result),
    fail: (err) => (err === undefined || err === null ? done('handled') : done(err, null)),
    done,
  };
  // Only the first call of any of them counts.
  let finished = false;
  const once = (fn) =>
    function () {
      if (!finished) {
        fn.apply(null, arguments);
        finished = true;
      }
    };
  context.succeed = once(context.succeed);
  context.fail = once(context.fail);
  context.done = once(context.done);
  return [once(callback), context, () => (isCompleteInvoked = true)];
}

function parseJSONHeader(value, name) {
  if (value === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/** Adds the invocation's data to the callback context, as AWS does. */
function attachEnvironmentData(ctx, headers) {
  if (headers['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const env = process.env;
  const deadline = parseInt(headers['lambda-runtime-deadline-ms'], 10);
  return Object.assign(ctx, {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJSONHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJSONHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

// ---------------------------------------------------------------------------
// The invoke loop

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.metadata = handlerMetadata(handler);
    this.errorCallbacks = errorCallbacks;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnce() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    this.setErrorCallbacks(id);
    if (this.metadata.streaming) {
      return this.handleStreaming(id, bodyJson, headers);
    }
    const [callback, callbackContext, markCompleted] = buildCallbackContext(this.client, id, () => this.scheduleIteration());
    try {
      this.setDefaultExitListener(id, markCompleted);
      const result = this.handler(JSON.parse(bodyJson), attachEnvironmentData(callbackContext, headers), callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** Streaming handlers (awslambda.streamifyResponse) write to a stream;
   * Stratus sends what they wrote as one buffered response. */
  async handleStreaming(id, bodyJson, headers) {
    const { Writable } = require('stream');
    const chunks = [];
    let contentType = 'application/octet-stream';
    const responseStream = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    });
    responseStream.setContentType = (ct) => {
      contentType = ct;
    };
    const next = () => this.scheduleIteration();
    beforeExitListener = () => next();
    try {
      const ctx = attachEnvironmentData({}, headers);
      const result = this.handler(JSON.parse(bodyJson), responseStream, ctx);
      if (!isPromise(result)) {
        throw new Error('Streaming does not support non-async handlers.');
      }
      await result;
      if (!responseStream.writableFinished) {
        await new Promise((resolve) => responseStream.end(resolve));
      }
      beforeExitListener = NO_OP;
      this.client.postInvocationBody(Buffer.concat(chunks), contentType, id, next);
    } catch (err) {
      beforeExitListener = NO_OP;
      logError('Invoke Error', err);
      this.client.postInvocationError(err, id, next);
    }
  }

  setErrorCallbacks(id) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, id, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, id, () => process.exit(128));
    };
  }

  /** If the event loop empties before the handler finished: an async
   * handler failed to settle (Runtime.NodeJsExit); a callback handler that
   * never called back answers null. */
  setDefaultExitListener(id, markCompleted) {
    beforeExitListener = () => {
      markCompleted();
      beforeExitListener = NO_OP;
      if (this.metadata.isAsync) {
        const err = new NodeJsExit('Error: Runtime exited without providing a reason');
        logError('Invoke Error', err);
        this.client.postInvocationError(err, id, () => this.scheduleIteration());
      } else {
        this.client.postInvocationResponse(null, id, () => this.scheduleIteration());
      }
    };
  }
}

/** Starts serving: loads the handler (reporting a failure to init/error),
 * then runs the invoke loop. */
async function start(appRoot, handlerString) {
  patchConsole();
  const client = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API);
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExitListener());
  let handler;
  try {
    handler = await loadHandler(appRoot, handlerString);
  } catch (error) {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

module.exports = { start, loadHandler, RuntimeClient, Runtime, toRapidResponse };

if (require.main === module) {
  start(process.env.LAMBDA_TASK_ROOT || '/var/task', process.env._HANDLER || '');
}
