"""Web Push: VAPID keys, the payload of a notification, and one push to one browser.

A push is encrypted for the browser's keys (RFC 8291, ``aes128gcm``) and
signed with the server's VAPID key (RFC 8292) by pywebpush, and POSTed to
the browser's push service, which keeps it up to ``MESSAGING_WEBPUSH_TTL_SECONDS``
for a device that is asleep. What to push and when, the retries and the
email fallback are ``notification_service``'s; this module only knows how.

Sending is synchronous (requests) and runs in ``notification_service``'s
push thread pool or in the retry worker, never on the event loop: each
attempt also reads and updates database rows, which are synchronous anyway.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import checks
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from .. import conf
from ..guards.circuit_breaker import make_breaker
from ..models import Notification
from ..ops import metrics
from ..serializers import avatar_url, profile_of
from ..store.users import User

#: push services answer these for a subscription that no longer exists
GONE_STATUSES = frozenset({404, 410})
#: the push service's own limit is 4096 bytes of encrypted payload; this leaves room for the encryption's overhead
MAX_PAYLOAD_BYTES = 3000
#: the body shown when the user hides message content, or a notification has none
HIDDEN_BODY = "New message"
URGENCIES = ("very-low", "low", "normal", "high")

# A push service that is down (or throttling us) makes every attempt wait for
# the timeout; after MESSAGING_BREAKER_FAILURES in a row the breaker answers
# "not now" at once and the pushes wait in the retry queue.
push_breaker = make_breaker("webpush")


class PushUnavailable(ConnectionError):
    """The push service did not take the push now (429, 5xx): retry later.

    A ``ConnectionError``, so the retry queue and the breaker treat it as transient.
    """

    def __init__(self, status: int, detail: str, retry_after: str | None = None) -> None:
        super().__init__(f"push service answered {status}: {detail}")
        self.status = status
        self.retry_after = retry_after


class PushRejected(Exception):
    """The push service refused this push for good (400, 401, 403, 413): retrying cannot help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"push service refused the push with {status}: {detail}")
        self.status = status


# --- VAPID ------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID pair: (private key, public key), base64url, as the settings and browsers take them."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), _public_key_text(key.public_key())


def _public_key_text(public: ec.EllipticCurvePublicKey) -> str:
    return b64url(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def enabled() -> bool:
    return conf.bool_setting("MESSAGING_WEBPUSH_ENABLED")


@functools.lru_cache(maxsize=4)
def _vapid_for(private_key: str) -> Vapid02:
    return Vapid02.from_string(private_key)


def vapid() -> Vapid02:
    """The server's signing key, from ``MESSAGING_VAPID_PRIVATE_KEY`` (raw base64url or DER)."""
    return _vapid_for(conf.str_setting("MESSAGING_VAPID_PRIVATE_KEY"))


def public_key() -> str:
    """The ``applicationServerKey`` browsers subscribe with."""
    return _public_key_text(vapid().public_key)


def vapid_problems() -> list[str]:
    """What is wrong with the Web Push settings, when Web Push is on (empty when it is off or right)."""
    if not enabled():
        return []
    problems = []
    private = conf.str_setting("MESSAGING_VAPID_PRIVATE_KEY")
    if not private:
        problems.append(
            "MESSAGING_WEBPUSH_ENABLED is on but MESSAGING_VAPID_PRIVATE_KEY is not set: "
            "run `manage.py vapid_keys` and set the variables it prints"
        )
    else:
        try:
            public_key()
        except (ValueError, TypeError) as exc:
            problems.append(
                f"MESSAGING_VAPID_PRIVATE_KEY is not a P-256 private key ({exc}); make one with `manage.py vapid_keys`"
            )
    subject = conf.str_setting("MESSAGING_VAPID_SUBJECT")
    if not subject.startswith(("mailto:", "https://")):
        problems.append(
            "MESSAGING_VAPID_SUBJECT must be a mailto: address or an https:// URL where push services can "
            f"reach the operator (RFC 8292), not {subject!r}"
        )
    if conf.str_setting("MESSAGING_WEBPUSH_URGENCY") not in URGENCIES:
        problems.append(f"MESSAGING_WEBPUSH_URGENCY must be one of {', '.join(URGENCIES)}")
    if conf.int_setting("MESSAGING_WEBPUSH_TTL_SECONDS") < 1:
        problems.append("MESSAGING_WEBPUSH_TTL_SECONDS must be at least 1: a TTL of 0 drops pushes to sleeping devices")
    return problems


def check_webpush_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System check: Web Push on without usable VAPID settings refuses to start."""
    return [checks.Error(problem, id="messaging.E101") for problem in vapid_problems()]


# --- The payload ----------------------------------------------------------------


def notification_tag(notification: Notification) -> str:
    """One shown notification per conversation: later pushes replace it.

    Derived from the link (a conversation's page), so the in-page alert of
    ``bell.js`` computes the same tag from the same field.
    """
    return f"linkup:{notification.url}" if notification.url else f"linkup:notification:{notification.pk}"


def _sender(notification: Notification) -> User | None:
    message = notification.message if notification.message_id else None
    return message.sender if message is not None else None


def _icon(sender: User | None) -> str | None:
    if sender is None:
        return None
    return avatar_url(profile_of(sender)) or f"/avatars/{sender.get_username()}.png"


def payload_for(notification: Notification, *, hide_content: bool) -> dict[str, Any]:
    """What the service worker shows, and nothing more: no history, and no text when hidden."""
    sender = _sender(notification)
    body = HIDDEN_BODY if hide_content or not notification.body else notification.body
    payload = {
        "id": notification.pk,
        "title": notification.title,
        "body": body,
        "url": notification.url or "/notifications/",
        "tag": notification_tag(notification),
        "count": notification.count,
        "sender": sender.get_username() if sender is not None else None,
        # The uploaded avatar, else the letter avatar PNG (a notification cannot draw one in CSS).
        "icon": _icon(sender),
    }
    encoded = encode_payload(payload)
    if len(encoded) > MAX_PAYLOAD_BYTES:
        # Only the body can be long; cut it until the whole fits.
        overflow = len(encoded) - MAX_PAYLOAD_BYTES
        cut = body.encode()[: max(0, len(body.encode()) - overflow - 3)]
        payload["body"] = cut.decode(errors="ignore") + "…"
    return payload


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# --- Sending ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    status: int


_sessions = threading.local()


def _session() -> requests.Session:
    """One HTTP session per thread: connections to a push service are reused."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


def _audience(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def _post(subscription_info: dict[str, Any], data: bytes) -> requests.Response:
    return webpush(
        subscription_info,
        data=data.decode(),
        vapid_private_key=vapid(),
        # A fresh dict each time: pywebpush writes "aud" and "exp" into it.
        vapid_claims={
            "sub": conf.str_setting("MESSAGING_VAPID_SUBJECT"),
            "aud": _audience(subscription_info["endpoint"]),
        },
        content_encoding="aes128gcm",
        ttl=conf.int_setting("MESSAGING_WEBPUSH_TTL_SECONDS"),
        headers={"Urgency": conf.str_setting("MESSAGING_WEBPUSH_URGENCY")},
        timeout=conf.float_setting("MESSAGING_WEBPUSH_TIMEOUT_SECONDS"),
        requests_session=_session(),
    )


def send(subscription_info: dict[str, Any], data: bytes) -> bool:
    """Push ``data`` to one browser through the breaker.

    True when the push service took it, False when the subscription is gone
    (404/410: the caller deletes it; the service itself answered, so the
    breaker counts a success). Raises :class:`PushUnavailable` (transient),
    :class:`PushRejected` (permanent), a ``requests`` error (transient: an
    ``OSError``) or ``CircuitOpen``.
    """
    try:
        taken = push_breaker.call(_send_once, subscription_info, data)
    except PushRejected:
        metrics.WEBPUSH_SENDS.labels("rejected").inc()
        raise
    except Exception:
        metrics.WEBPUSH_SENDS.labels("failed").inc()
        raise
    metrics.WEBPUSH_SENDS.labels("sent" if taken else "gone").inc()
    return taken


def _send_once(subscription_info: dict[str, Any], data: bytes) -> bool:
    try:
        _post(subscription_info, data)
    except WebPushException as exc:
        status = exc.status_code
        detail = (getattr(exc.response, "text", "") or exc.message)[:300]
        if status in GONE_STATUSES:
            return False
        if status is not None and (status == 429 or status >= 500):
            raise PushUnavailable(status, detail, exc.retry_after) from exc
        raise PushRejected(status or 0, detail) from exc
    return True
