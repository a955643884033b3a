// Package adx is the guest side of the ADX WASM module ABI v1 (docs/wasm.md) for Go: import it,
// register handlers in init, build with the stock toolchain, and never touch the ABI by hand.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o module.wasm ./yourmodule
//
// # The ABI in brief
//
// The host instantiates the module afresh for every call (nothing survives between calls), runs
// the WASI reactor's _initialize (the Go runtime and every package's init: main is never run),
// then calls two exports this package provides:
//
//   - alloc(len i32) i32: room for the request, which the host writes there;
//   - handle(ptr i32, len i32) i64: the request {"function": "<name>", "input": <JSON or null>}
//     in, (answer_ptr << 32) | answer_len out; the answer is JSON.
//
// handle decodes the request into a [Request], calls the handler registered for its function
// ([Register]) or the default one ([Handle]), and answers the handler's result as JSON; an error
// (or a panic) answers {"error": "<text>"}, which is still JSON.
//
// The module may call the host functions of the "adx" import namespace, wrapped here:
// [Log], [Config], [StorageGet], [StoragePut], [StorageDelete], [Fetch] and [Emit]. Each host
// function returns a length (>= 0) or a negative error code; this package turns a code into an
// [*Error] that carries the host's last_error text and matches [ErrDenied], [ErrNotFound],
// [ErrQuotaExceeded], [ErrBadInput], [ErrFailed] or [ErrLimited] with errors.Is. Functions that
// answer data write into a buffer the guest passes; when the answer is longer than the buffer,
// the host writes nothing and returns the length, and this package calls again with a buffer
// that large (it starts with 4 KiB).
//
// What a module may do is what it declares in its manifest's permissions and the tenant
// approved: storage:read:<key> or storage:write:<key>, network:access:<host>[:<port>],
// event:publish:<topic>. Anything else answers [ErrDenied].
//
// # Writing a module
//
//	package main
//
//	import "github.com/adxcore/adx-module-guest/adx"
//
//	func init() {
//		adx.Register("hello", func(req adx.Request) (any, error) {
//			var who string
//			if err := req.Bind(&who); err != nil {
//				return nil, err
//			}
//			return map[string]string{"hello": who}, nil
//		})
//	}
//
//	func main() {} // required by the toolchain, never called in a reactor
//
// Outside GOOS=wasip1 the package still builds: the host functions answer [ErrFailed], so the
// handlers can be unit-tested natively with [Dispatch].
package adx
