//go:build wasip1

package adx

import "unsafe"

// The host functions of guest ABI v1 (docs/wasm.md), exactly as the host defines them: every
// parameter is an i32 (unsafe.Pointer is an i32 address in linear memory on wasm, and passing
// it rather than an integer keeps the Go object alive for the length of the call), and every
// function but log returns an i32: a length (>= 0) or an error code (< 0).

//go:wasmimport adx log
//go:noescape
func hostLog(ptr unsafe.Pointer, length int32)

//go:wasmimport adx config_get
//go:noescape
func hostConfigGet(keyPtr unsafe.Pointer, keyLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport adx storage_get
//go:noescape
func hostStorageGet(keyPtr unsafe.Pointer, keyLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport adx storage_put
//go:noescape
func hostStoragePut(keyPtr unsafe.Pointer, keyLen int32, valuePtr unsafe.Pointer, valueLen int32) int32

//go:wasmimport adx storage_delete
//go:noescape
func hostStorageDelete(keyPtr unsafe.Pointer, keyLen int32) int32

//go:wasmimport adx http_fetch
//go:noescape
func hostHTTPFetch(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport adx event_emit
//go:noescape
func hostEventEmit(topicPtr unsafe.Pointer, topicLen int32, payloadPtr unsafe.Pointer, payloadLen int32) int32

//go:wasmimport adx last_error
//go:noescape
func hostLastError(outPtr unsafe.Pointer, outCap int32) int32

// kept holds every buffer alloc handed out, by address: the host writes the request there after
// alloc returns, so nothing may let the garbage collector take it back first. An instance lives
// for one call, so nothing is ever released.
var kept = map[int32][]byte{}

// answer keeps the last answer alive after handle returns, while the host reads it.
var answer []byte

//go:wasmexport alloc
func alloc(length int32) int32 {
	if length < 0 {
		return -1 // the host refuses a pointer outside memory: BadOutput
	}
	buffer := make([]byte, max(length, 1))
	pointer := address(buffer)
	kept[pointer] = buffer
	return pointer
}

//go:wasmexport handle
func handle(pointer int32, length int32) int64 {
	buffer, ok := kept[pointer]
	if !ok || length < 0 || int(length) > len(buffer) {
		answer = errorAnswer("handle: the request is not in a buffer from alloc")
	} else {
		answer = Dispatch(buffer[:length])
	}
	return int64(uint64(uint32(address(answer)))<<32 | uint64(uint32(len(answer))))
}

//go:wasmexport on_event
func onEvent(pointer int32, length int32) int64 {
	buffer, ok := kept[pointer]
	if !ok || length < 0 || int(length) > len(buffer) {
		answer = errorAnswer("on_event: the event is not in a buffer from alloc")
	} else {
		answer = DispatchEvent(buffer[:length])
	}
	return int64(uint64(uint32(address(answer)))<<32 | uint64(uint32(len(answer))))
}

// address is the linear-memory address of b's first byte (0 for an empty slice).
func address(b []byte) int32 {
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}
