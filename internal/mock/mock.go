// Package mock holds function-field fakes of the stratus interfaces, for
// tests at package boundaries: each method calls the field of the same
// name plus "Fn", and panics if it is nil, so a test states exactly which
// calls it expects.
//
// MemoryFunctionService is an in-memory stratus.FunctionService with the
// documented semantics, for tests that want behaviour rather than
// expectations.
package mock

import (
	"context"

	"github.com/stratus-dev/stratus"
)

var (
	_ stratus.FunctionService = (*FunctionService)(nil)
	_ stratus.Invoker         = (*Invoker)(nil)
	_ stratus.LogSink         = (*LogSink)(nil)
)

// FunctionService is a fake stratus.FunctionService.
type FunctionService struct {
	PutCodeFn        func(ctx context.Context, zip []byte) (stratus.Code, error)
	GetCodeFn        func(ctx context.Context, key string) ([]byte, error)
	CreateFunctionFn func(ctx context.Context, fn *stratus.Function) error
	FunctionFn       func(ctx context.Context, name string) (*stratus.Function, error)
	FunctionsFn      func(ctx context.Context) ([]*stratus.Function, error)
	UpdateFunctionFn func(ctx context.Context, name string, update func(*stratus.Function) error) (*stratus.Function, error)
	DeleteFunctionFn func(ctx context.Context, name string) error
}

// PutCode calls PutCodeFn.
func (s *FunctionService) PutCode(ctx context.Context, zip []byte) (stratus.Code, error) {
	return s.PutCodeFn(ctx, zip)
}

// GetCode calls GetCodeFn.
func (s *FunctionService) GetCode(ctx context.Context, key string) ([]byte, error) {
	return s.GetCodeFn(ctx, key)
}

// CreateFunction calls CreateFunctionFn.
func (s *FunctionService) CreateFunction(ctx context.Context, fn *stratus.Function) error {
	return s.CreateFunctionFn(ctx, fn)
}

// Function calls FunctionFn.
func (s *FunctionService) Function(ctx context.Context, name string) (*stratus.Function, error) {
	return s.FunctionFn(ctx, name)
}

// Functions calls FunctionsFn.
func (s *FunctionService) Functions(ctx context.Context) ([]*stratus.Function, error) {
	return s.FunctionsFn(ctx)
}

// UpdateFunction calls UpdateFunctionFn.
func (s *FunctionService) UpdateFunction(ctx context.Context, name string, update func(*stratus.Function) error) (*stratus.Function, error) {
	return s.UpdateFunctionFn(ctx, name, update)
}

// DeleteFunction calls DeleteFunctionFn.
func (s *FunctionService) DeleteFunction(ctx context.Context, name string) error {
	return s.DeleteFunctionFn(ctx, name)
}

// Invoker is a fake stratus.Invoker.
type Invoker struct {
	InvokeFn func(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error)
}

// Invoke calls InvokeFn.
func (i *Invoker) Invoke(ctx context.Context, req *stratus.InvokeRequest) (*stratus.InvokeResponse, error) {
	return i.InvokeFn(ctx, req)
}

// LogSink is a fake stratus.LogSink.
type LogSink struct {
	PutLogEventsFn func(group, stream string, events ...stratus.LogEvent)
}

// PutLogEvents calls PutLogEventsFn.
func (s *LogSink) PutLogEvents(group, stream string, events ...stratus.LogEvent) {
	s.PutLogEventsFn(group, stream, events...)
}
