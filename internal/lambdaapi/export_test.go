package lambdaapi

import (
	"net/http"

	"github.com/stratus-dev/stratus"
)

// ParseFunctionParam exposes the FunctionName parser to tests.
func (h *Handler) ParseFunctionParam(escaped, qualifier string) (name, q string, err error) {
	ref, err := h.parseFunctionParam(escaped, qualifier)
	return ref.Name, ref.Qualifier, err
}

// WriteError exposes the error writer to tests.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	h.writeError(w, r, err)
}

// Configuration exposes FunctionConfiguration rendering to tests.
func (h *Handler) Configuration(fn *stratus.Function) any { return h.configuration(fn) }

// DecodeCreateFunction decodes and validates a CreateFunction body.
func (h *Handler) DecodeCreateFunction(body []byte) (*stratus.Function, error) {
	req, err := decodeCreateFunction(body)
	if err != nil {
		return nil, err
	}
	fn, _, err := h.newFunction(req)
	return fn, err
}

// DecodeUpdateFunctionConfiguration decodes and validates an
// UpdateFunctionConfiguration body and applies it to fn.
func (h *Handler) DecodeUpdateFunctionConfiguration(body []byte, fn *stratus.Function) error {
	req, err := decodeUpdateFunctionConfiguration(body)
	if err != nil {
		return err
	}
	if err := req.validate(fn.Name); err != nil {
		return err
	}
	req.apply(fn)
	return nil
}

// DecodeInvoke exposes the Invoke request decoder to benchmarks.
func (h *Handler) DecodeInvoke(r *http.Request, arg string) (*stratus.InvokeRequest, error) {
	req, _, err := h.decodeInvoke(r, arg)
	return req, err
}

// WriteInvokeResponse exposes the Invoke response writer to benchmarks.
var WriteInvokeResponse = writeInvokeResponse
