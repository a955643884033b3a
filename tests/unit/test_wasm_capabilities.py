"""What a WASM module may do through the host API: its declared and approved permissions,
matched per call (storage keys, HTTP hosts and ports, event topics, wildcards)."""

from __future__ import annotations

import pytest

from adx_modules.sandboxes.wasm.capabilities import Capabilities, DeniedError, effective


def test_a_module_holds_what_it_declared_and_the_tenant_approved() -> None:
    declared = ["storage:write:cache/*", "network:access:api.example.com"]
    approved = ["storage:write:cache/*", "event:publish:orders"]
    assert effective(declared, approved) == ["storage:write:cache/*"]


def test_storage_reads_writes_and_wildcards() -> None:
    can = Capabilities(("storage:read:settings", "storage:write:cache/*"))
    can.storage("storage_get", "settings", write=False)
    can.storage("storage_get", "cache/a", write=False)  # write implies read
    can.storage("storage_put", "cache/a/b", write=True)
    with pytest.raises(DeniedError) as denied:
        can.storage("storage_put", "settings", write=True)
    assert denied.value.needed == "storage:write:settings"
    with pytest.raises(DeniedError):
        can.storage("storage_get", "other", write=False)


@pytest.mark.parametrize(
    ("permission", "url", "allowed"),
    [
        ("network:access:api.example.com", "https://api.example.com/v1", True),
        ("network:access:api.example.com", "http://api.example.com:8080/", True),  # any port
        ("network:access:api.example.com:443", "https://api.example.com/", True),
        ("network:access:api.example.com:443", "http://api.example.com/", False),  # port 80
        ("network:access:*.example.com", "https://eu.example.com/", True),
        ("network:access:*.example.com", "https://example.com.evil.io/", False),
        ("network:access:127.0.0.1:8080", "http://127.0.0.1:8080/x", True),
        ("network:access:127.0.0.1:8080", "http://127.0.0.1:8081/x", False),
        ("network:listen:api.example.com", "https://api.example.com/", False),
    ],
)
def test_http_only_to_allowed_hosts_and_ports(permission: str, url: str, allowed: bool) -> None:
    can = Capabilities((permission,))
    if allowed:
        can.network(url)
    else:
        with pytest.raises(DeniedError):
            can.network(url)


def test_urls_that_are_not_http_are_refused() -> None:
    can = Capabilities(("network:access:*",))
    for url in ("file:///etc/passwd", "ftp://example.com/", "http:///nohost"):
        with pytest.raises(ValueError, match="not an http"):
            can.network(url)


def test_events_by_topic() -> None:
    can = Capabilities(("event:publish:orders.*",))
    can.event("orders.created")
    with pytest.raises(DeniedError) as denied:
        can.event("invoices.created")
    assert denied.value.needed == "event:publish:invoices.created"


def test_subscriptions_by_topic_pattern() -> None:
    can = Capabilities(("event:subscribe:orders.*", "event:publish:invoices"))
    assert can.subscriptions == ["orders.*"]
    assert can.subscribes("orders.created")
    assert not can.subscribes("invoices")  # publishing it is not subscribing to it
    assert Capabilities(("storage:write:x",)).subscriptions == []
