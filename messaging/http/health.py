"""Health and metrics for load balancers, operators and Prometheus."""

import secrets
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ..error_models import ErrorCategory
from ..guards.circuit_breaker import BREAKERS
from ..logging_utils import messaging_logger
from ..ops import metrics
from ..pubsub import layer_round_trip
from ..retry_handler import retry_backlog
from .api import json_response

# --- Health -----------------------------------------------------------------


#: a due retry-queue item older than this makes /healthz say "degraded"
RETRY_BACKLOG_DEGRADED_SECONDS = 600


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The service's health for load balancers and operators.

    503 when it cannot deliver (the database or the channel layer does not
    answer); 200 with ``"status": "degraded"`` when it delivers but something
    needs an operator (an open breaker, an old retry backlog).
    """
    checks: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc}"
        messaging_logger.throttled(ErrorCategory.DATABASE_ERROR, "healthz", f"health check: database down: {exc}", None)
    try:
        async_to_sync(layer_round_trip)()
        checks["channel_layer"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any layer failure means unhealthy
        checks["channel_layer"] = f"error: {type(exc).__name__}: {exc}"
        messaging_logger.throttled(
            ErrorCategory.CONNECTION_ERROR, "healthz", f"health check: channel layer down: {exc}", None
        )
    breakers = {name: breaker.state.value for name, breaker in sorted(BREAKERS.items())}
    backlog = retry_backlog() if checks["database"] == "ok" else None
    if any(value != "ok" for value in checks.values()):
        status = "unavailable"
    elif "open" in breakers.values() or (backlog and backlog["oldest_due_seconds"] > RETRY_BACKLOG_DEGRADED_SECONDS):
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "checks": checks, "breakers": breakers, "retry_queue": backlog}
    return json_response(body, status=503 if status == "unavailable" else 200)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; with ``MESSAGING_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``."""
    token = getattr(settings, "MESSAGING_METRICS_TOKEN", "")
    if token and not secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain")
    try:
        backlog = retry_backlog()
    except DatabaseError:
        backlog = None
    if backlog is not None:
        metrics.RETRY_BACKLOG.set(backlog["pending"])
        metrics.RETRY_OLDEST_DUE.set(backlog["oldest_due_seconds"])
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
