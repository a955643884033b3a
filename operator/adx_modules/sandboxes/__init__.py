"""Feature: the sandbox a module runs in, one backend per isolation level behind a protocol
and a registry (``container`` today; ``wasm``, ``process`` and ``none`` next)."""
