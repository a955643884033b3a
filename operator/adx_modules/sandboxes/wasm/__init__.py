"""The ``wasm`` isolation: WebAssembly modules run by the service's shared host."""
