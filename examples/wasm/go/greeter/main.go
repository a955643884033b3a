// Command greeter is a WASM module in Go (guest ABI v1, docs/wasm.md), the Go twin of
// examples/wasm/wat/greeter.wat.
//
// Function "greet" answers
//
//	{"greeting": <configuration "greeting", or null>,
//	 "previous": <the input stored by the last call, or null>,
//	 "fetched": <the HTTP answer to the request in configuration "request", or null without one>,
//	 "runtime": "go"}
//
// and then stores this call's input under the key "last". It needs the permissions
// storage:write:last and network:access:<the host in "request">.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greeter.wasm ./greeter
package main

import (
	"encoding/json"
	"errors"

	"github.com/adxcore/adx-module-guest/adx"
)

type greeting struct {
	Greeting json.RawMessage    `json:"greeting"`
	Previous json.RawMessage    `json:"previous"`
	Fetched  *adx.FetchResponse `json:"fetched"`
	Runtime  string             `json:"runtime"`
}

func init() {
	adx.Register("greet", greet)
}

func greet(req adx.Request) (any, error) {
	adx.Log("greeter: greeting")
	answer := greeting{Runtime: "go"}

	value, err := adx.Config("greeting")
	if err != nil && !errors.Is(err, adx.ErrNotFound) {
		return nil, err
	}
	answer.Greeting = value // nil (null) when not configured

	previous, found, err := adx.StorageGet("last")
	if err != nil {
		return nil, err
	}
	if found {
		if json.Valid(previous) {
			answer.Previous = previous
		} else { // stored by something else: answer it as a string
			answer.Previous, _ = json.Marshal(string(previous))
		}
	}

	configured, err := adx.Config("request")
	switch {
	case errors.Is(err, adx.ErrNotFound): // nothing to fetch: null
	case err != nil:
		return nil, err
	default:
		var request adx.FetchRequest
		if err := json.Unmarshal(configured, &request); err != nil {
			return nil, errors.New(`configuration "request" must be {"url", "method", "headers", "body"}: ` + err.Error())
		}
		response, err := adx.Fetch(request)
		if err != nil {
			return nil, err
		}
		answer.Fetched = &response
	}

	if err := adx.StoragePut("last", req.Input); err != nil {
		return nil, err
	}
	return answer, nil
}

func main() {} // a reactor (-buildmode=c-shared) never runs main; the toolchain wants one
