"""The database layer: plain functions, each one short transaction, raising :mod:`.errors`.

One module per entity: ``conversations`` (memberships, the inbox, group
changes), ``events`` (the log: appending and paging), ``receipts`` (the
members' cursors), ``presence`` (open sockets), ``notifications`` (the bell's
rows), ``users``. Views call them directly; consumers call them through
:class:`messaging.async_handlers.AsyncSafeMessageHandler`.
"""
