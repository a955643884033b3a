"""A local Stripe: the ``localstripe`` emulator, which keeps state and signs webhooks.

Why it exists: purchases pay through the official Stripe SDK; on this machine (and in the tests)
that SDK talks to an emulator that creates PaymentIntents, charges test cards, refunds, and calls
the service's webhook endpoint with a real ``Stripe-Signature``. The emulator is started from
``stripe_emulator`` (bound to loopback, its state in the stack's folder, not in /tmp) and told
where the API's webhook endpoint is and which secret signs its calls, as a Stripe account's
dashboard would be.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import httpx

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.process import ManagedProcess, free_port, port_open

WEBHOOK_PATH = "/api/v1/marketplace/webhooks/stripe"


class StripeEmulator:
    """One localstripe process on 127.0.0.1."""

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.port = port or free_port(8420)
        self.api_key = "sk_test_" + secrets.token_hex(12)
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        self.process = ManagedProcess(
            "stripe",
            [
                sys.executable,
                "-m",
                "adx_modules.devstack.stripe_emulator",
                "--port",
                str(self.port),
                "--state",
                str(self.state_dir / "stripe.pickle"),
            ],
            self.state_dir / "logs" / "stripe.log",
        )
        self.process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.process is None:
            raise DevStackError("StripeEmulator: launch() before wait_ready()")
        self.process.wait_until(lambda: port_open(self.port), timeout, "serving the Stripe API")

    def send_webhooks_to(self, api_url: str) -> None:
        """Point the emulator's webhooks at the API, signed with ``webhook_secret``."""
        response = httpx.post(
            f"{self.url}/_config/webhooks/adx-module-service",
            data={"url": f"{api_url}{WEBHOOK_PATH}", "secret": self.webhook_secret},
            timeout=10,
        )
        if response.status_code != 200:
            raise DevStackError(f"configuring the Stripe emulator's webhook: {response.text}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
