"""``manage.py runserver``: daphne's development server, on :class:`linkup.server.LinkUpServer`."""

from daphne.management.commands.runserver import Command as DaphneRunserver

from linkup.server import LinkUpServer


class Command(DaphneRunserver):
    server_cls = LinkUpServer
