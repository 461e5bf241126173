"""Webhook payloads and their Standard-Webhooks-style signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

from ._base import WireModel
from ._run import TaskRun


class WebhookPayload(WireModel):
    """What a ``task_run.status`` webhook POSTs: the run's status, no output."""

    timestamp: str
    type: Literal["task_run.status"] = "task_run.status"
    data: TaskRun


def sign_webhook(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` + base64(HMAC-SHA256(id.timestamp.body))."""
    mac = hmac.new(secret.encode(), f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify_webhook(secret: str, webhook_id: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    """True if any space-separated ``v1,`` signature in the header matches (secret rotation)."""
    expected = sign_webhook(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in signature_header.split())
