//go:build !wasip1

package adx

import "unsafe"

// Outside the WASM host (a native `go test`, `go vet`): the host functions exist so the package
// builds, and every one fails with ErrFailed. Handlers can be tested with Dispatch.

const notInHost = "not running in the ADX WASM host (build with GOOS=wasip1 GOARCH=wasm)"

func hostLog(ptr unsafe.Pointer, length int32) {
	println("adx.Log:", string(unsafe.Slice((*byte)(ptr), length)))
}

func hostConfigGet(unsafe.Pointer, int32, unsafe.Pointer, int32) int32  { return int32(ErrFailed) }
func hostStorageGet(unsafe.Pointer, int32, unsafe.Pointer, int32) int32 { return int32(ErrFailed) }
func hostStoragePut(unsafe.Pointer, int32, unsafe.Pointer, int32) int32 { return int32(ErrFailed) }
func hostStorageDelete(unsafe.Pointer, int32) int32                     { return int32(ErrFailed) }
func hostHTTPFetch(unsafe.Pointer, int32, unsafe.Pointer, int32) int32  { return int32(ErrFailed) }
func hostEventEmit(unsafe.Pointer, int32, unsafe.Pointer, int32) int32  { return int32(ErrFailed) }

func hostLastError(out unsafe.Pointer, capacity int32) int32 {
	if int(capacity) >= len(notInHost) {
		copy(unsafe.Slice((*byte)(out), capacity), notInHost)
	}
	return int32(len(notInHost))
}
