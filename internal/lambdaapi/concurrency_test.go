package lambdaapi_test

import (
	"testing"
	"time"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/lambdaapi"
	"github.com/stratus-dev/stratus/internal/mock"
)

// provisionedInvoker is a fake Invoker that reports provisioned
// allocations, as the router does.
type provisionedInvoker struct {
	*mock.Invoker
	alloc stratus.ProvisionedAllocation
}

func (p *provisionedInvoker) ProvisionedAllocation(string, string) (stratus.ProvisionedAllocation, bool) {
	return p.alloc, true
}

func newConcurrencyEnv(t *testing.T, account int) (*testEnv, *mock.MemoryConcurrencyService) {
	t.Helper()
	e := newEnv(t)
	cs := &mock.MemoryConcurrencyService{}
	inv := &provisionedInvoker{Invoker: e.inv, alloc: stratus.ProvisionedAllocation{Allocated: 1, Available: 1, Status: "IN_PROGRESS"}}
	e.h = lambdaapi.New(lambdaapi.Config{
		Region: testRegion, AccountID: testAccount, HostArch: "x86_64",
		AccountConcurrency: account, Concurrency: cs,
		Now: func() time.Time { return testNow },
	}, e.fns, inv)
	return e, cs
}

func TestFunctionConcurrency(t *testing.T) {
	e, cs := newConcurrencyEnv(t, 1000)
	e.mustCreate(t, "f", nil)
	e.mustCreate(t, "g", nil)
	const path = "/2017-10-31/functions/f/concurrency"

	w := e.do(t, "GET", "/2019-09-30/functions/f/concurrency", nil)
	if w.Code != 200 || w.Body.String() != "{}" {
		t.Fatalf("GetFunctionConcurrency unset: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "PUT", path, map[string]any{"ReservedConcurrentExecutions": 300})
	if w.Code != 200 || decode(t, w)["ReservedConcurrentExecutions"] != 300.0 {
		t.Fatalf("PutFunctionConcurrency: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", "/2019-09-30/functions/"+testARN+"f/concurrency", nil)
	if w.Code != 200 || decode(t, w)["ReservedConcurrentExecutions"] != 300.0 {
		t.Fatalf("GetFunctionConcurrency by ARN: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", "/2015-03-31/functions/f", nil)
	if c, _ := decode(t, w)["Concurrency"].(map[string]any); c["ReservedConcurrentExecutions"] != 300.0 {
		t.Fatalf("GetFunction Concurrency: %s", w.Body)
	}
	w = e.do(t, "GET", "/2015-03-31/functions/g", nil)
	if _, ok := decode(t, w)["Concurrency"]; ok {
		t.Fatalf("GetFunction of a function without a reservation has Concurrency: %s", w.Body)
	}
	w = e.do(t, "GET", "/2016-08-19/account-settings", nil)
	if l := decode(t, w)["AccountLimit"].(map[string]any); l["UnreservedConcurrentExecutions"] != 700.0 || l["ConcurrentExecutions"] != 1000.0 {
		t.Fatalf("GetAccountSettings: %s", w.Body)
	}
	// 300 + 601 would leave 99 unreserved.
	w = e.do(t, "PUT", "/2017-10-31/functions/g/concurrency", map[string]any{"ReservedConcurrentExecutions": 601})
	wantError(t, w, 400, "InvalidParameterValueException",
		"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	w = e.do(t, "PUT", "/2017-10-31/functions/g/concurrency", map[string]any{"ReservedConcurrentExecutions": 600})
	if w.Code != 200 {
		t.Fatalf("reserving exactly down to the minimum: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		body         any
		status       int
		code, msg    string
		path, method string
	}{
		{map[string]any{}, 400, "ValidationException", "Value null at 'reservedConcurrentExecutions'", path, "PUT"},
		{map[string]any{"ReservedConcurrentExecutions": -1}, 400, "ValidationException", "greater than or equal to 0", path, "PUT"},
		{map[string]any{"ReservedConcurrentExecutions": 1}, 404, "ResourceNotFoundException", "Function not found", "/2017-10-31/functions/nope/concurrency", "PUT"},
		{map[string]any{"ReservedConcurrentExecutions": 1}, 400, "InvalidParameterValueException", "whole function", "/2017-10-31/functions/f:1/concurrency", "PUT"},
		{nil, 404, "ResourceNotFoundException", "Function not found", "/2019-09-30/functions/nope/concurrency", "GET"},
	} {
		wantError(t, e.do(t, tc.method, tc.path, tc.body), tc.status, tc.code, tc.msg)
	}
	w = e.do(t, "DELETE", path, nil)
	if w.Code != 204 {
		t.Fatalf("DeleteFunctionConcurrency: %d %s", w.Code, w.Body)
	}
	if c, _ := cs.Concurrency(t.Context()); c.TotalReserved() != 600 {
		t.Fatalf("after delete: %v", c.Reserved)
	}
}

// TestSmallAccount: below 100, the whole account must stay unreserved.
func TestSmallAccount(t *testing.T) {
	e, _ := newConcurrencyEnv(t, 10)
	e.mustCreate(t, "f", nil)
	w := e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", map[string]any{"ReservedConcurrentExecutions": 1})
	wantError(t, w, 400, "InvalidParameterValueException", "below its minimum value of [10]")
	w = e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", map[string]any{"ReservedConcurrentExecutions": 0})
	if w.Code != 200 {
		t.Fatalf("reserving 0 (disabling the function): %d %s", w.Code, w.Body)
	}
}

func TestProvisionedConcurrencyConfig(t *testing.T) {
	e, cs := newConcurrencyEnv(t, 1000)
	e.mustCreate(t, "f", nil)
	if w := e.do(t, "POST", "/2015-03-31/functions/f/versions", map[string]any{}); w.Code != 201 {
		t.Fatalf("PublishVersion: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, "POST", "/2015-03-31/functions/f/aliases", map[string]any{"Name": "live", "FunctionVersion": "1"}); w.Code != 201 {
		t.Fatalf("CreateAlias: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, "POST", "/2015-03-31/functions/f/aliases", map[string]any{"Name": "dev", "FunctionVersion": "$LATEST"}); w.Code != 201 {
		t.Fatalf("CreateAlias: %d %s", w.Code, w.Body)
	}
	const base = "/2019-09-30/functions/f/provisioned-concurrency"
	body := map[string]any{"ProvisionedConcurrentExecutions": 5}
	for _, tc := range []struct {
		target    string
		body      any
		status    int
		code, msg string
	}{
		{base, body, 400, "ValidationException", "Value null at 'qualifier'"},
		{base + "?Qualifier=$LATEST", body, 400, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions."},
		{base + "?Qualifier=dev", body, 400, "InvalidParameterValueException", "unpublished function versions"},
		{base + "?Qualifier=7", body, 404, "ResourceNotFoundException", "Function not found: " + testARN + "f:7"},
		{base + "?Qualifier=live", map[string]any{}, 400, "ValidationException", "Value null at 'provisionedConcurrentExecutions'"},
		{base + "?Qualifier=live", map[string]any{"ProvisionedConcurrentExecutions": 0}, 400, "ValidationException", "greater than or equal to 1"},
		{base + "?Qualifier=live", map[string]any{"ProvisionedConcurrentExecutions": 901}, 400, "InvalidParameterValueException", "below its minimum value of [100]"},
	} {
		wantError(t, e.do(t, "PUT", tc.target, tc.body), tc.status, tc.code, tc.msg)
	}
	wantError(t, e.do(t, "GET", base+"?Qualifier=live", nil), 404, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found")

	w := e.do(t, "PUT", base+"?Qualifier=live", body)
	if w.Code != 202 {
		t.Fatalf("PutProvisionedConcurrencyConfig: %d %s", w.Code, w.Body)
	}
	m := decode(t, w)
	if m["RequestedProvisionedConcurrentExecutions"] != 5.0 || m["AllocatedProvisionedConcurrentExecutions"] != 1.0 ||
		m["Status"] != "IN_PROGRESS" || m["LastModified"] != "2024-04-10T19:06:32.563+0000" {
		t.Fatalf("PutProvisionedConcurrencyConfig answered %s", w.Body)
	}
	if w := e.do(t, "PUT", base+"?Qualifier=1", map[string]any{"ProvisionedConcurrentExecutions": 2}); w.Code != 202 {
		t.Fatalf("on version 1: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", base+"?List=ALL", nil)
	items, _ := decode(t, w)["ProvisionedConcurrencyConfigs"].([]any)
	if w.Code != 200 || len(items) != 2 || items[0].(map[string]any)["FunctionArn"] != testARN+"f:1" {
		t.Fatalf("ListProvisionedConcurrencyConfigs: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "GET", base+"?List=ALL&MaxItems=1", nil)
	if m := decode(t, w); m["NextMarker"] != "1" {
		t.Fatalf("first page: %s", w.Body)
	}
	// Reserved concurrency must cover the provisioned concurrency.
	w = e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", map[string]any{"ReservedConcurrentExecutions": 6})
	wantError(t, w, 400, "InvalidParameterValueException", "less than the function's provisioned concurrency [7]")
	if w := e.do(t, "PUT", "/2017-10-31/functions/f/concurrency", map[string]any{"ReservedConcurrentExecutions": 7}); w.Code != 200 {
		t.Fatalf("reserving 7: %d %s", w.Code, w.Body)
	}
	w = e.do(t, "PUT", base+"?Qualifier=1", map[string]any{"ProvisionedConcurrentExecutions": 3})
	wantError(t, w, 400, "InvalidParameterValueException", "should not be greater than the reservedConcurrentExecution")

	if w := e.do(t, "DELETE", base+"?Qualifier=live", nil); w.Code != 204 {
		t.Fatalf("DeleteProvisionedConcurrencyConfig: %d %s", w.Code, w.Body)
	}
	wantError(t, e.do(t, "DELETE", base+"?Qualifier=live", nil), 404, "ProvisionedConcurrencyConfigNotFoundException", "")
	if c, _ := cs.Concurrency(t.Context()); c.ProvisionedFor("f") != 2 {
		t.Fatalf("after delete: %+v", c.Provisioned)
	}
}
