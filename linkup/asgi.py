"""ASGI entry point: HTTP through Django, WebSockets through Channels.

``python -m linkup.server linkup.asgi:application`` (daphne on the project's
server class, see linkup/server.py) and ``manage.py runserver`` serve both.
The WebSocket routes and the Web Push settings are validated here too, so a
server started without ``manage.py`` still refuses to start on a broken route
or on Web Push switched on without VAPID keys.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkup.settings")

from django.conf import settings
from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import ImproperlyConfigured

from messaging.notify.webpush import vapid_problems
from messaging.realtime.handshake import HandshakeClock
from messaging.routing_validator import RoutingValidator, websocket_routes

websocket_urlpatterns = websocket_routes()
_issues = RoutingValidator().validate(websocket_urlpatterns)
if _issues:
    raise ImproperlyConfigured("Broken WebSocket routes:\n" + "\n".join(map(str, _issues)))
# daphne runs no system checks: Web Push switched on without its keys stops here.
_push_problems = vapid_problems()
if _push_problems:
    raise ImproperlyConfigured("Web Push settings:\n" + "\n".join(_push_problems))

http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # The clock first: a handshake's age includes its wait for the session lookup.
        "websocket": HandshakeClock(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
