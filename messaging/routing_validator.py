"""``RoutingValidator``: WebSocket URL patterns checked before the server starts.

A broken route should stop ``manage.py check`` and the server's start with a
message that names the pattern, not surface as a handshake that fails at run
time. Each pattern must compile, be anchored at both ends, capture exactly
the named groups its consumer reads, and be reachable (no earlier pattern
matches every path it was written for).

Reachability is checked on sample paths built from each pattern's own regex
(one per branch and repeat choice), which finds the shadowing that happens in
practice without deciding regex inclusion in general.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

try:  # Python 3.11+
    import re._constants as sre_constants  # type: ignore[import-not-found]  # private in 3.11+, not in typeshed
    import re._parser as sre_parse  # type: ignore[import-not-found]  # private in 3.11+, not in typeshed
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants
    import sre_parse

from django.core import checks
from django.utils.module_loading import import_string

MAX_SAMPLES = 24
_CANDIDATES = "az09_-.@+~ /AZ"


@dataclass(frozen=True)
class RoutingIssue:
    pattern: str
    problem: str

    def __str__(self) -> str:
        return f"WebSocket route '{self.pattern}': {self.problem}"


def pattern_text(route: Any) -> str:
    """The regex source of a ``path()``/``re_path()`` entry (or a plain string)."""
    if isinstance(route, str):
        return route
    pattern = route.pattern
    return getattr(pattern, "_regex", None) or pattern.regex.pattern


def expected_kwargs(route: Any) -> set[str] | None:
    """The route kwargs the consumer behind ``route`` reads, if it says."""
    consumer = getattr(getattr(route, "callback", None), "consumer_class", None)
    names = getattr(consumer, "url_kwargs", None)
    return None if names is None else set(names)


class RoutingValidator:
    def validate_pattern(self, text: str, expected: set[str] | None = None) -> list[str]:
        """The problems of one pattern on its own (empty when it is fine)."""
        try:
            regex = re.compile(text)
        except (re.error, TypeError, ValueError, OverflowError, RecursionError) as exc:
            return [f"does not compile: {exc}"]
        problems = []
        if not text.startswith("^"):
            problems.append("is not anchored at the start (begin it with '^')")
        if not (text.endswith("$") and not text.endswith(r"\$")) and not text.endswith(r"\Z"):
            problems.append("is not anchored at the end (finish it with '$')")
        if regex.groups != len(regex.groupindex):
            problems.append("has an unnamed capturing group; name it (?P<name>...) or make it (?:...)")
        if expected is not None and set(regex.groupindex) != expected:
            problems.append(f"captures {sorted(regex.groupindex)} but its consumer expects {sorted(expected)}")
        if not self.samples(text):
            problems.append("matches no path at all")
        return problems

    def validate(self, routes: list[Any]) -> list[RoutingIssue]:
        """The problems of a whole route list, in order."""
        issues: list[RoutingIssue] = []
        good: list[tuple[str, re.Pattern[str]]] = []
        for route in routes:
            text = pattern_text(route)
            problems = self.validate_pattern(text, expected_kwargs(route))
            issues += [RoutingIssue(text, problem) for problem in problems]
            if any(p.startswith("does not compile") for p in problems):
                continue
            regex = re.compile(text)
            for earlier_text, earlier in good:
                shadowed = [s for s in self.samples(text) if earlier.search(s)]
                if shadowed:
                    issues.append(
                        RoutingIssue(
                            text,
                            f"is shadowed by the earlier route '{earlier_text}', which also matches {shadowed[0]!r}",
                        )
                    )
            good.append((text, regex))
        return issues

    def samples(self, text: str) -> list[str]:
        """Paths that ``text`` matches (as URLRouter sees them: no leading '/')."""
        try:
            regex = re.compile(text)
            parsed = sre_parse.parse(text)
        except (re.error, TypeError, ValueError, OverflowError, RecursionError):
            return []
        candidates = self._expand(list(parsed))
        return [s for s in dict.fromkeys(candidates) if regex.search(s)][:MAX_SAMPLES]

    # --- Sample generation ---------------------------------------------------

    def _expand(self, items: list[Any]) -> list[str]:
        results = [""]
        for op, arg in items:
            choices = self._choices(op, arg)
            if not choices:
                return []
            results = [a + b for a, b in itertools.islice(itertools.product(results, choices), MAX_SAMPLES)]
        return results

    def _choices(self, op: Any, arg: Any) -> list[str]:
        if op is sre_constants.LITERAL:
            return [chr(arg)]
        if op is sre_constants.NOT_LITERAL:
            return [c for c in _CANDIDATES if ord(c) != arg][:1]
        if op is sre_constants.ANY:
            return ["a"]
        if op is sre_constants.AT:
            return [""]
        if op is sre_constants.IN:
            return self._in_choice(arg)
        if op in (
            sre_constants.MAX_REPEAT,
            sre_constants.MIN_REPEAT,
            getattr(sre_constants, "POSSESSIVE_REPEAT", None),
        ):
            low, high, body = arg
            inner = self._expand(list(body))
            counts = sorted({low, min(max(low, 1), high), min(low + 2, high)})
            return [choice * n for n in counts for choice in inner[:3]]
        if op is sre_constants.SUBPATTERN:
            return self._expand(list(arg[-1]))
        if op is sre_constants.BRANCH:
            return [s for branch in arg[1] for s in self._expand(list(branch))]
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            return [""]
        if op is sre_constants.GROUPREF:
            return [""]
        return []

    @staticmethod
    def _in_choice(items: list[Any]) -> list[str]:
        negate = any(op is sre_constants.NEGATE for op, _ in items)
        pattern = re.compile(
            "["
            + ("^" if negate else "")
            + "".join(_set_item(op, arg) for op, arg in items if op is not sre_constants.NEGATE)
            + "]"
        )
        picks = [c for c in _CANDIDATES if pattern.match(c)]
        if not picks and not negate:
            for op, arg in items:
                if op is sre_constants.LITERAL:
                    picks.append(chr(arg))
                elif op is sre_constants.RANGE:
                    picks.append(chr(arg[0]))
        return picks[:2]


def _set_item(op: Any, arg: Any) -> str:
    if op is sre_constants.LITERAL:
        return re.escape(chr(arg))
    if op is sre_constants.RANGE:
        return f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}"
    if op is sre_constants.CATEGORY:
        return {
            sre_constants.CATEGORY_DIGIT: r"\d",
            sre_constants.CATEGORY_NOT_DIGIT: r"\D",
            sre_constants.CATEGORY_WORD: r"\w",
            sre_constants.CATEGORY_NOT_WORD: r"\W",
            sre_constants.CATEGORY_SPACE: r"\s",
            sre_constants.CATEGORY_NOT_SPACE: r"\S",
        }.get(arg, "")
    return ""


def websocket_routes() -> list[Any]:
    from django.conf import settings

    return import_string(getattr(settings, "WEBSOCKET_URLPATTERNS", "messaging.routing.websocket_urlpatterns"))


def check_websocket_routes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check: ``manage.py check`` and server start fail on a bad route."""
    return [
        checks.Error(str(issue), hint="Fix the pattern in the WebSocket routing module.", id="messaging.E001")
        for issue in RoutingValidator().validate(websocket_routes())
    ]
