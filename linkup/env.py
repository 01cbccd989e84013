"""Reading settings from the environment, with a clear error for a bad value."""

from __future__ import annotations

import os
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

Number = TypeVar("Number", int, float)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _number(name: str, value: str, kind: type[Number]) -> Number:
    try:
        return kind(value.strip())
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {what}, got {value!r}") from None


def env_number(name: str, default: Number) -> Number:
    """An int or float setting (the type of ``default``); a value that is not one refuses to start."""
    value = os.environ.get(name)
    if value is None:
        return default
    return _number(name, value, type(default))


def env_present(kinds: dict[str, type]) -> dict[str, object]:
    """The settings of ``kinds`` (name -> int, float, bool or str) whose variable is set, read as that type.

    A setting whose variable is absent is left out, so that the application's
    own default applies.
    """
    found: dict[str, object] = {}
    for name, kind in kinds.items():
        value = os.environ.get(name)
        if value is None:
            continue
        if kind is bool:
            found[name] = env_bool(name, False)
        elif kind in (int, float):
            found[name] = _number(name, value, kind)
        else:
            found[name] = value
    return found
