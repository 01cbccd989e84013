"""What the tests share: which stack they run on, signed-in sockets, the attachment storage, the channel layer.

Imported by the tests and by ``conftest.py`` (whose fixtures use them);
pytest advises against importing from a conftest, so the helpers live here.
"""

from .sockets import ORIGIN, PASSWORD, Socket, UnexpectedFrame, communicator, session_cookie
from .stacks import STACK_MARKERS, on_embedded_default, on_postgres, on_redis, on_s3

__all__ = [
    "ORIGIN",
    "PASSWORD",
    "STACK_MARKERS",
    "Socket",
    "UnexpectedFrame",
    "communicator",
    "on_embedded_default",
    "on_postgres",
    "on_redis",
    "on_s3",
    "session_cookie",
]
