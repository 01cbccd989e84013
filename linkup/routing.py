"""The project's WebSocket routes: the messaging app's, and the benchmark's relay when it is on.

The relay lives in ``bench`` (nothing in ``messaging`` imports it) and is
mounted only when ``MESSAGING_BENCH_RELAY`` is on (``manage.py bench_chat``
turns it on for the daphne it starts); a deployment never serves it. Any
other path is refused (403) by the final catch-all.
"""

from bench.relay import bench_urlpatterns
from messaging.routing import unknown_path_route
from messaging.routing import websocket_urlpatterns as messaging_urlpatterns

websocket_urlpatterns = [*messaging_urlpatterns, *bench_urlpatterns(), unknown_path_route]
