"""The signature of a webhook delivery and the backoff between its attempts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from twinbridge.config import Settings
from twinbridge.webhooks.delivery import WebhookSender, signature


def test_the_signature_is_the_hex_hmac_sha256_of_the_body_keyed_with_the_secret() -> None:
    body = b'{"eventType":"export.runCompleted.v1"}'
    secret = "k" * 32
    assert signature(secret, body) == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signature(secret, body) != signature(secret, body + b" ")
    assert signature(secret, body) != signature("j" * 32, body)


def test_the_wait_before_another_attempt_doubles_after_each_failure() -> None:
    runtime: Any = SimpleNamespace(settings=Settings(webhook_retry_base=1.5))
    sender = WebhookSender(runtime)
    assert [sender.retry_delay(failed) for failed in (1, 2, 3, 4)] == [
        timedelta(seconds=1.5),
        timedelta(seconds=3),
        timedelta(seconds=6),
        timedelta(seconds=12),
    ]
