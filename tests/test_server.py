"""The project's daphne: every way of starting it serves with ``LinkUpServer``."""

from __future__ import annotations

from django.core.management import get_commands, load_command_class

from linkup.server import LinkUpCommandLine, LinkUpServer


def test_manage_py_runserver_serves_with_the_project_server_class() -> None:
    command = load_command_class(get_commands()["runserver"], "runserver")
    assert command.server_cls is LinkUpServer


def test_the_command_line_entry_point_serves_with_the_project_server_class() -> None:
    assert LinkUpCommandLine.server_class is LinkUpServer

