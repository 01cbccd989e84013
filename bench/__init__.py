"""The chat benchmark (``manage.py bench_chat``): its client, server, relay and report.

Nothing here runs in a normal deployment: the relay route exists only when
``MESSAGING_BENCH_RELAY`` is on, and the rest is imported by the management
commands and their tests.
"""
