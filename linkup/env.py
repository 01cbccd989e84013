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


def env_number(name: str, default: Number) -> Number:
    """An int or float setting (the type of ``default``); a value that is not one refuses to start."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return type(default)(value.strip())
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise ImproperlyConfigured(f"{name} must be {kind}, got {value!r}") from None
