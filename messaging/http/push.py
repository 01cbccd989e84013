"""The Web Push API: a browser subscribes (``PushManager.subscribe()``'s answer) and unsubscribes.

Same error body as the rest of the API: ``{"type": "error", "code", "detail"}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from .. import conf
from ..exceptions import InvalidFrame, InvalidJSON, NotFound, TooLarge
from ..models import PushSubscription
from ..models.push import MAX_ENDPOINT_LENGTH
from ..notify import webpush
from ..serializers import JSONSerializer
from .api import api_view, json_response
from .signed_in import SignedInRequest

#: a subscription is an endpoint and two short keys: anything bigger is not one
MAX_BODY_BYTES = 4096


def _body(request: HttpRequest) -> dict[str, Any]:
    if not webpush.enabled():
        raise NotFound("Web Push is not switched on for this server")
    if len(request.body) > MAX_BODY_BYTES:
        raise TooLarge(f"the body is over {MAX_BODY_BYTES} bytes", limit=MAX_BODY_BYTES)
    try:
        body = JSONSerializer.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJSON("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidFrame("the body must be a JSON object")
    return body


def _endpoint(body: dict[str, Any]) -> str:
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidFrame("'endpoint' must be the push service URL the browser gave")
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise InvalidFrame(f"'endpoint' is longer than {MAX_ENDPOINT_LENGTH} characters")
    schemes = ["https", "http"] if conf.bool_setting("MESSAGING_WEBPUSH_ALLOW_HTTP") else ["https"]
    try:
        URLValidator(schemes=schemes)(endpoint)
    except ValidationError:
        raise InvalidFrame(f"'endpoint' must be an {' or '.join(schemes)} URL") from None
    # URLValidator accepts "localhost" only as a name; a push service is never
    # on this server's loopback unless the tests put it there.
    if urlsplit(endpoint).scheme == "http" and not conf.bool_setting("MESSAGING_WEBPUSH_ALLOW_HTTP"):
        raise InvalidFrame("'endpoint' must be an https URL")
    return endpoint


def _key(keys: dict[str, Any], name: str, size: int) -> str:
    value = keys.get(name)
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidFrame(f"'keys.{name}' must be a base64url string")
    try:
        raw = webpush.b64url_decode(value.strip())
    except ValueError:
        raise InvalidFrame(f"'keys.{name}' is not base64url") from None
    if len(raw) != size:
        raise InvalidFrame(f"'keys.{name}' must be {size} bytes, not {len(raw)}")
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise InvalidFrame("'keys.p256dh' is not a P-256 public key") from None
    return value.strip().rstrip("=")


def _subscription_payload(subscription: PushSubscription) -> dict[str, Any]:
    return {
        "id": subscription.pk,
        "endpoint": subscription.endpoint,
        "user_agent": subscription.user_agent,
        "created_at": subscription.created_at,
        "last_success_at": subscription.last_success_at,
    }


@require_POST
@api_view
def subscribe(request: SignedInRequest) -> HttpResponse:
    """Store this browser's subscription for the session's user (201; 200 when it was known).

    An endpoint already stored for anyone becomes this user's: the browser
    that holds it is the one asking. Past ``MESSAGING_WEBPUSH_MAX_SUBSCRIPTIONS``
    the subscription that has gone longest without a successful push is dropped.
    """
    body = _body(request)
    endpoint = _endpoint(body)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise InvalidFrame("'keys' must be an object with 'p256dh' and 'auth'")
    p256dh, auth = _key(keys, "p256dh", 65), _key(keys, "auth", 16)
    with transaction.atomic():
        subscription, created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "user": request.user,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": request.headers.get("User-Agent", "")[:300],
                "session_key": request.session.session_key or "",
            },
        )
        limit = conf.int_setting("MESSAGING_WEBPUSH_MAX_SUBSCRIPTIONS")
        others = list(
            PushSubscription.objects.filter(user=request.user)
            .exclude(pk=subscription.pk)
            .order_by(F("last_success_at").asc(nulls_first=True), "created_at")
            .values_list("pk", flat=True)
        )
        surplus = others[: max(0, len(others) - (limit - 1))]
        PushSubscription.objects.filter(pk__in=surplus).delete()
    return json_response({"subscription": _subscription_payload(subscription)}, status=201 if created else 200)


@require_POST
@api_view
def unsubscribe(request: SignedInRequest) -> HttpResponse:
    """Forget this browser's subscription (only the session user's own): ``{"deleted": 0 or 1}``."""
    endpoint = _endpoint(_body(request))
    deleted, _ = PushSubscription.objects.filter(user=request.user, endpoint=endpoint).delete()
    return json_response({"deleted": deleted})
