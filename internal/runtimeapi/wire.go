package runtimeapi

import "encoding/json"

var acceptedBody = []byte(`{"status":"OK"}`)

// errorJSON renders {"errorMessage":..., "errorType":...}.
func errorJSON(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	return b
}
