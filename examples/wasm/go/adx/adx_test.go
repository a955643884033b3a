//go:build !wasip1

package adx

import (
	"encoding/json"
	"errors"
	"testing"
)

// Natively (not GOOS=wasip1) the host functions fail with ErrFailed: what Dispatch does with a
// request is tested here; tests/ and the README's check run the module in the real engine.

func answerOf(t *testing.T, payload string) map[string]any {
	t.Helper()
	var answer map[string]any
	if err := json.Unmarshal(Dispatch([]byte(payload)), &answer); err != nil {
		t.Fatalf("the answer to %s is not JSON: %v", payload, err)
	}
	return answer
}

func TestDispatch(t *testing.T) {
	Register("echo", func(req Request) (any, error) {
		var v any
		if err := req.Bind(&v); err != nil {
			return nil, err
		}
		return map[string]any{"function": req.Function, "input": v}, nil
	})
	Register("fails", func(Request) (any, error) { return nil, errors.New("no luck") })
	Register("panics", func(Request) (any, error) { panic("boom") })
	Register("raw", func(Request) (any, error) { return json.RawMessage(`[1, 2]`), nil })

	if got := answerOf(t, `{"function":"echo","input":{"a":1}}`); got["input"].(map[string]any)["a"] != 1.0 {
		t.Errorf("echo: %v", got)
	}
	if got := answerOf(t, `{"function":"echo"}`); got["input"] != nil {
		t.Errorf("echo without input: %v", got)
	}
	if got := answerOf(t, `{"function":"fails","input":null}`); got["error"] != "no luck" {
		t.Errorf("fails: %v", got)
	}
	if got := answerOf(t, `{"function":"panics","input":null}`); got["error"] != "panic: boom" {
		t.Errorf("panics: %v", got)
	}
	if got := answerOf(t, `{"function":"missing","input":null}`); got["error"] != `this module has no function "missing"` {
		t.Errorf("missing: %v", got)
	}
	if got := answerOf(t, `nope`); got["error"] == nil {
		t.Errorf("not JSON: %v", got)
	}
	if got := string(Dispatch([]byte(`{"function":"raw","input":null}`))); got != `[1,2]` {
		t.Errorf("raw: %s", got)
	}
	Handle(func(req Request) (any, error) { return req.Function, nil })
	if got := string(Dispatch([]byte(`{"function":"other","input":null}`))); got != `"other"` {
		t.Errorf("fallback: %s", got)
	}
}

func TestHostErrors(t *testing.T) {
	_, err := Config("greeting")
	var hostErr *Error
	if !errors.Is(err, ErrFailed) || !errors.As(err, &hostErr) || hostErr.Message != notInHost {
		t.Fatalf("Config outside the host: %v", err)
	}
	if errors.Is(err, ErrDenied) {
		t.Errorf("%v is not ErrDenied", err)
	}
	if _, found, err := StorageGet("k"); found || !errors.Is(err, ErrFailed) {
		t.Errorf("StorageGet outside the host: %v %v", found, err)
	}
	if got := (&Error{Op: "storage_put", Code: ErrDenied, Message: "why"}).Error(); got != "adx.storage_put: denied: why" {
		t.Errorf("Error(): %s", got)
	}
}

func TestDispatchEvent(t *testing.T) {
	var got Event
	OnEvent(func(event Event) error {
		if event.Topic == "bad" {
			return errors.New("not this one")
		}
		got = event
		return nil
	})
	ok := DispatchEvent([]byte(`{"id": 7, "topic": "orders", "payload": {"n": 1}, "source": "shop"}`))
	if string(ok) != "true" || got.ID != 7 || got.Source != "shop" || string(got.Payload) != `{"n": 1}` {
		t.Fatalf("answer %s, event %+v", ok, got)
	}
	var refused map[string]string
	if err := json.Unmarshal(DispatchEvent([]byte(`{"id": 8, "topic": "bad"}`)), &refused); err != nil {
		t.Fatal(err)
	}
	if refused["error"] != "not this one" {
		t.Fatalf("refused: %v", refused)
	}
}
