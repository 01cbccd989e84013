"""What a user does, whichever edge they do it from (a socket frame or an HTTP call).

Each action checks what the store does not (limits read from settings),
runs the store operation through :class:`~messaging.async_handlers.AsyncSafeMessageHandler`,
and publishes what changed only after the commit (Zulip's ``zerver/actions``).
Consumers and views call these; they never publish by themselves.
"""
