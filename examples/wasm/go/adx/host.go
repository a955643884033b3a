package adx

import (
	"encoding/json"
	"unsafe"
)

// firstBuffer is the room offered for a host function's answer at first; a longer answer costs
// one more host call with a buffer of its length.
const firstBuffer = 4 << 10

// Log writes one log line (UTF-8) to the call's log; the host keeps at most 64 KiB per call and
// drops the rest.
func Log(message string) {
	pointer, length := text(message)
	hostLog(pointer, length)
}

// Config answers the installation's spec.configuration[key] as JSON; the empty key answers all
// of it. A key that is not configured fails with ErrNotFound.
func Config(key string) (json.RawMessage, error) {
	keyPtr, keyLen := text(key)
	data, code := receive(func(out unsafe.Pointer, capacity int32) int32 {
		return hostConfigGet(keyPtr, keyLen, out, capacity)
	})
	if code < 0 {
		return nil, failure("config_get", code)
	}
	return json.RawMessage(data), nil
}

// StorageGet answers the value stored under key, and whether there is one (a missing key is
// not an error). Needs storage:read:<key> or storage:write:<key>.
func StorageGet(key string) ([]byte, bool, error) {
	keyPtr, keyLen := text(key)
	data, code := receive(func(out unsafe.Pointer, capacity int32) int32 {
		return hostStorageGet(keyPtr, keyLen, out, capacity)
	})
	if code == int32(ErrNotFound) {
		return nil, false, nil
	}
	if code < 0 {
		return nil, false, failure("storage_get", code)
	}
	return data, true, nil
}

// StoragePut stores value under key. Needs storage:write:<key>.
func StoragePut(key string, value []byte) error {
	keyPtr, keyLen := text(key)
	valuePtr, valueLen := bytes(value)
	if code := hostStoragePut(keyPtr, keyLen, valuePtr, valueLen); code < 0 {
		return failure("storage_put", code)
	}
	return nil
}

// StorageDelete removes the value under key. Needs storage:write:<key>.
func StorageDelete(key string) error {
	keyPtr, keyLen := text(key)
	if code := hostStorageDelete(keyPtr, keyLen); code < 0 {
		return failure("storage_delete", code)
	}
	return nil
}

// FetchRequest is an HTTP request for Fetch; Method defaults to GET.
type FetchRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// FetchResponse is what the host answered; any status is an answer, not an error.
type FetchResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Fetch makes an HTTP request through the host, within what is left of the call's deadline.
// Needs network:access:<host> or network:access:<host>:<port>.
func Fetch(request FetchRequest) (FetchResponse, error) {
	var response FetchResponse
	encoded, err := json.Marshal(request)
	if err != nil {
		return response, err
	}
	requestPtr, requestLen := bytes(encoded)
	data, code := receive(func(out unsafe.Pointer, capacity int32) int32 {
		return hostHTTPFetch(requestPtr, requestLen, out, capacity)
	})
	if code < 0 {
		return response, failure("http_fetch", code)
	}
	if err := json.Unmarshal(data, &response); err != nil {
		return response, &Error{Op: "http_fetch", Code: ErrFailed, Message: "the host's answer: " + err.Error()}
	}
	return response, nil
}

// Emit publishes payload, marshalled to JSON, on topic. Needs event:publish:<topic>.
func Emit(topic string, payload any) error {
	encoded, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	topicPtr, topicLen := text(topic)
	payloadPtr, payloadLen := bytes(encoded)
	if code := hostEventEmit(topicPtr, topicLen, payloadPtr, payloadLen); code < 0 {
		return failure("event_emit", code)
	}
	return nil
}

// receive runs a host function that answers into a buffer: with 4 KiB first and, when the
// answer is longer (the host wrote nothing and returned its length), again with a buffer that
// large. It answers the data, or nil and the host's negative code.
func receive(ask func(out unsafe.Pointer, capacity int32) int32) ([]byte, int32) {
	buffer := make([]byte, firstBuffer)
	for range 3 { // a second try must fit: the host keeps the answer it measured
		length := ask(unsafe.Pointer(unsafe.SliceData(buffer)), int32(len(buffer)))
		if length < 0 {
			return nil, length
		}
		if int(length) <= len(buffer) {
			return buffer[:length:length], length
		}
		buffer = make([]byte, length)
	}
	return nil, int32(ErrFailed)
}

// failure is the error of a host function that answered code, with the host's reason.
func failure(op string, code int32) error {
	return &Error{Op: op, Code: ErrorCode(code), Message: lastError()}
}

// lastError is why the last host call failed, as the host tells it ("" when it cannot).
func lastError() string {
	data, code := receive(func(out unsafe.Pointer, capacity int32) int32 {
		return hostLastError(out, capacity)
	})
	if code < 0 {
		return ""
	}
	return string(data)
}

// text and bytes are the (pointer, length) of the first byte of s or b, as the host reads them.
func text(s string) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.StringData(s)), int32(len(s))
}

func bytes(b []byte) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.SliceData(b)), int32(len(b))
}
