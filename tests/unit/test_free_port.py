"""The local stack's ports: never one the kernel may hand an outgoing connection meanwhile."""

from __future__ import annotations

import socket

import pytest

from adx_modules.devstack import process
from adx_modules.devstack.process import _ephemeral_range, free_port


def test_a_chosen_port_lies_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    ports = {free_port(None) for _ in range(50)}
    assert all(not low <= port <= high for port in ports), sorted(ports)
    assert len(ports) > 1  # random, so two stacks do not race for the same one


def test_the_preferred_port_when_free_and_another_when_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", free_port(None)))
        holder.listen()
        taken = holder.getsockname()[1]
        other = free_port(taken)
        assert other != taken
    assert free_port(taken) == taken


def test_a_port_once_handed_out_is_not_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ports chosen in a row for one server pair (a runner's admin and invoke ports) are
    both still free until the servers bind them; with the same random draw they would collide."""
    monkeypatch.setattr(process.random, "sample", lambda ports, k: sorted(ports)[:k])
    chosen = [free_port(None) for _ in range(5)]
    assert len(set(chosen)) == 5, chosen
