package adx

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// Request is one invocation: the function the caller named and its JSON input ("null" when the
// caller sent no body).
type Request struct {
	Function string          `json:"function"`
	Input    json.RawMessage `json:"input"`
}

// Bind decodes the request's input into v (a pointer), as encoding/json does.
func (r Request) Bind(v any) error {
	if len(r.Input) == 0 {
		return json.Unmarshal([]byte("null"), v)
	}
	return json.Unmarshal(r.Input, v)
}

// HandlerFunc answers a request: its result is marshalled to JSON (a json.RawMessage is
// answered as is); an error answers {"error": err.Error()}.
type HandlerFunc func(req Request) (any, error)

var (
	handlers = map[string]HandlerFunc{}
	fallback HandlerFunc
)

// Register makes fn the handler of the function called name (a workflow the module's manifest
// lists in extensionPoints.workflows). Call it from an init function: a reactor never runs main.
func Register(name string, fn HandlerFunc) {
	handlers[name] = fn
}

// Handle makes fn the handler of every function no Register names.
func Handle(fn HandlerFunc) {
	fallback = fn
}

// Dispatch is what the handle export does with a request: decode it, call its handler, and
// answer JSON, {"error": "..."} when the request is not JSON, no handler takes it, the handler
// fails or panics, or its result cannot be marshalled. Exported so handlers can be tested natively.
func Dispatch(payload []byte) (out []byte) {
	defer func() {
		if recovered := recover(); recovered != nil {
			out = errorAnswer("panic: " + panicText(recovered))
		}
	}()
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return errorAnswer("the request is not JSON: " + err.Error())
	}
	if len(req.Input) == 0 {
		req.Input = json.RawMessage("null")
	}
	fn := handlers[req.Function]
	if fn == nil {
		fn = fallback
	}
	if fn == nil {
		return errorAnswer("this module has no function " + quote(req.Function))
	}
	result, err := fn(req)
	if err != nil {
		return errorAnswer(err.Error())
	}
	encoded, err := json.Marshal(result)
	if err != nil {
		return errorAnswer("the answer is not JSON: " + err.Error())
	}
	return encoded
}

func errorAnswer(message string) []byte {
	encoded, err := json.Marshal(map[string]string{"error": message})
	if err != nil { // cannot happen for a string, but an answer must be JSON
		return []byte(`{"error":"unknown"}`)
	}
	return encoded
}

func quote(s string) string {
	encoded, _ := json.Marshal(s)
	return string(encoded)
}

func panicText(recovered any) string {
	switch value := recovered.(type) {
	case error:
		return value.Error()
	case string:
		return value
	default:
		if encoded, err := json.Marshal(value); err == nil {
			return string(encoded)
		}
		return reflect.TypeOf(value).String()
	}
}

// ErrorCode is a host function's negative answer. The constants match errors.Is against any
// error this package returns.
type ErrorCode int32

const (
	ErrDenied        ErrorCode = -1 // the permission is not approved (the call is audited)
	ErrNotFound      ErrorCode = -2 // no such key
	ErrQuotaExceeded ErrorCode = -3 // the installation's storage quota is spent
	ErrBadInput      ErrorCode = -4 // a bad pointer, text not UTF-8, a key over 512 bytes, not JSON
	ErrFailed        ErrorCode = -5 // the network, the database
	ErrLimited       ErrorCode = -6 // rate limit, no time left, or the call's host-call budget spent
)

func (c ErrorCode) Error() string {
	switch c {
	case ErrDenied:
		return "denied"
	case ErrNotFound:
		return "not found"
	case ErrQuotaExceeded:
		return "quota exceeded"
	case ErrBadInput:
		return "bad input"
	case ErrFailed:
		return "failed"
	case ErrLimited:
		return "limited"
	}
	return "error code " + strconv.Itoa(int(c))
}

// Error is a host call that failed: which one, its code, and the host's last_error text.
type Error struct {
	Op      string    // the host function: "storage_put", "http_fetch", ...
	Code    ErrorCode // what errors.Is matches
	Message string    // why, as the host tells it (last_error)
}

func (e *Error) Error() string {
	text := "adx." + e.Op + ": " + e.Code.Error()
	if e.Message != "" {
		text += ": " + e.Message
	}
	return text
}

func (e *Error) Unwrap() error { return e.Code }

// Event is one event of the module's tenant, delivered to the OnEvent handler: Topic and Payload
// as published, the installation that published it (Source), and an ID that grows with every
// event, the same when an event is delivered again (delivery is at least once).
type Event struct {
	ID      int64           `json:"id"`
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
	Source  string          `json:"source"`
}

// EventFunc handles one event; an error (or a panic) makes the host deliver it again later.
type EventFunc func(event Event) error

var eventHandler EventFunc

// OnEvent makes fn the handler of the events the module subscribes to (permissions
// event:subscribe:<topic>). Call it from an init function.
func OnEvent(fn EventFunc) {
	eventHandler = fn
}

// DispatchEvent is what the on_event export does: decode the event and call the OnEvent
// handler; true when it handled it, {"error": "..."} (delivered again) otherwise.
func DispatchEvent(payload []byte) (out []byte) {
	defer func() {
		if recovered := recover(); recovered != nil {
			out = errorAnswer("panic: " + panicText(recovered))
		}
	}()
	var event Event
	if err := json.Unmarshal(payload, &event); err != nil {
		return errorAnswer("the event is not JSON: " + err.Error())
	}
	if eventHandler == nil {
		return errorAnswer("this module handles no events (adx.OnEvent)")
	}
	if err := eventHandler(event); err != nil {
		return errorAnswer(err.Error())
	}
	return []byte("true")
}
