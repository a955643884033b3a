;; greeter: a WASM module in plain WebAssembly text, guest ABI v1 (docs/wasm.md).
;;
;; Function "greet" answers
;;   {"greeting": <configuration "greeting">, "previous": <the request stored by the last call>,
;;    "fetched": <the HTTP answer to the request in configuration "request">}
;; and stores this call's request under the key "last". It uses adx.config_get, adx.storage_get,
;; adx.storage_put and adx.http_fetch; it needs the permissions storage:write:last and
;; network:access:<the host in "request">.
(module
  (import "adx" "log" (func $log (param i32 i32)))
  (import "adx" "config_get" (func $config_get (param i32 i32 i32 i32) (result i32)))
  (import "adx" "storage_get" (func $storage_get (param i32 i32 i32 i32) (result i32)))
  (import "adx" "storage_put" (func $storage_put (param i32 i32 i32 i32) (result i32)))
  (import "adx" "http_fetch" (func $http_fetch (param i32 i32 i32 i32) (result i32)))
  (import "adx" "last_error" (func $last_error (param i32 i32) (result i32)))

  ;; 0..1023: constants; 4096..8191: the fetch request; 16384..65535: the answer;
  ;; 65536 on: requests (alloc)
  (memory (export "memory") 2)
  (data (i32.const 0) "greeting")                    ;; 8
  (data (i32.const 16) "last")                       ;; 4
  (data (i32.const 32) "request")                    ;; 7
  (data (i32.const 48) "{\"greeting\":")            ;; 12
  (data (i32.const 64) ",\"previous\":")            ;; 12
  (data (i32.const 80) ",\"fetched\":")             ;; 11
  (data (i32.const 96) "null")                       ;; 4
  (data (i32.const 112) "}")                         ;; 1
  (data (i32.const 128) "greeter: greeting")         ;; 17

  (global $next (mut i32) (i32.const 65536))
  (global $pos (mut i32) (i32.const 16384))
  (global $end i32 (i32.const 65536))

  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.const 1) (i32.div_u
                (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                (i32.const 65536))))
              (i32.const -1))
          (then unreachable))))
    (local.get $ptr))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))

  (func $append (param $src i32) (param $len i32)
    (memory.copy (global.get $pos) (local.get $src) (local.get $len))
    (global.set $pos (i32.add (global.get $pos) (local.get $len))))

  (func $room (result i32) (i32.sub (global.get $end) (i32.add (global.get $pos) (i32.const 2))))

  ;; the answer "<why the last host call failed>", as a JSON string
  (func $error (result i64)
    (local $n i32)
    (i32.store8 (i32.const 16384) (i32.const 34))
    (local.set $n (call $last_error (i32.const 16385) (i32.const 4000)))
    (if (i32.gt_u (local.get $n) (i32.const 4000)) (then (local.set $n (i32.const 4000))))
    (i32.store8 (i32.add (i32.const 16385) (local.get $n)) (i32.const 34))
    (call $pack (i32.const 16384) (i32.add (local.get $n) (i32.const 2))))

  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32)
    (call $log (i32.const 128) (i32.const 17))
    (global.set $pos (i32.const 16384))
    (call $append (i32.const 48) (i32.const 12))
    ;; "greeting": the configuration's value, or null
    (local.set $n (call $config_get (i32.const 0) (i32.const 8) (global.get $pos) (call $room)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $append (i32.const 96) (i32.const 4)))
      (else (if (i32.gt_s (local.get $n) (call $room)) (then (return (call $error))))
            (global.set $pos (i32.add (global.get $pos) (local.get $n)))))
    ;; "previous": what the last call stored, or null
    (call $append (i32.const 64) (i32.const 12))
    (local.set $n (call $storage_get (i32.const 16) (i32.const 4) (global.get $pos) (call $room)))
    (if (i32.eq (local.get $n) (i32.const -2))
      (then (call $append (i32.const 96) (i32.const 4)))
      (else
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (call $error))))
        (if (i32.gt_s (local.get $n) (call $room)) (then (return (call $error))))
        (global.set $pos (i32.add (global.get $pos) (local.get $n)))))
    ;; remember this request
    (if (i32.lt_s (call $storage_put (i32.const 16) (i32.const 4) (local.get $ptr) (local.get $len))
                  (i32.const 0))
      (then (return (call $error))))
    ;; "fetched": the answer to the configured request, or null without one
    (call $append (i32.const 80) (i32.const 11))
    (local.set $n (call $config_get (i32.const 32) (i32.const 7) (i32.const 4096) (i32.const 4096)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $append (i32.const 96) (i32.const 4)))
      (else
        (if (i32.gt_s (local.get $n) (i32.const 4096)) (then (return (call $error))))
        (local.set $n (call $http_fetch (i32.const 4096) (local.get $n) (global.get $pos) (call $room)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (call $error))))
        (if (i32.gt_s (local.get $n) (call $room)) (then (return (call $error))))
        (global.set $pos (i32.add (global.get $pos) (local.get $n)))))
    (call $append (i32.const 112) (i32.const 1))
    (call $pack (i32.const 16384) (i32.sub (global.get $pos) (i32.const 16384))))
)
