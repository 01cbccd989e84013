"""RoutingValidator: bad patterns are named, the real routes pass."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import re_path
from hypothesis import given
from hypothesis import strategies as st

from messaging.consumers import DirectChatConsumer
from messaging.routing import websocket_urlpatterns
from messaging.routing_validator import RoutingValidator

validator = RoutingValidator()
segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


def test_the_real_routes_pass() -> None:
    assert validator.validate(websocket_urlpatterns) == []


@given(segment, segment)
def test_well_formed_patterns_pass(a: str, b: str) -> None:
    assert validator.validate_pattern(rf"^ws/{a}/(?P<{b}>[\w-]+)/$", {b}) == []


@given(segment)
def test_patterns_that_do_not_compile_are_flagged(a: str) -> None:
    problems = validator.validate_pattern(rf"^ws/{a}/(?P<name>[\w-+/$")
    assert problems and problems[0].startswith("does not compile")


@given(segment)
def test_unanchored_patterns_are_flagged(a: str) -> None:
    assert any("start" in p for p in validator.validate_pattern(rf"ws/{a}/$"))
    assert any("end" in p for p in validator.validate_pattern(rf"^ws/{a}/"))


@given(segment, segment)
def test_group_names_must_match_the_consumer(a: str, b: str) -> None:
    problems = validator.validate_pattern(rf"^ws/{a}/(?P<x{b}>\w+)/$", {"username"})
    assert any("expects ['username']" in p for p in problems)


def test_unnamed_groups_are_flagged() -> None:
    assert any("unnamed" in p for p in validator.validate_pattern(r"^ws/chat/(\w+)/$"))


@given(segment)
def test_a_route_shadowed_by_an_earlier_one_is_flagged(a: str) -> None:
    routes = [
        re_path(rf"^ws/{a}/(?P<username>[^/]+)/$", DirectChatConsumer.as_asgi()),
        re_path(rf"^ws/{a}/(?P<username>[a-z]+)/$", DirectChatConsumer.as_asgi()),
    ]
    issues = validator.validate(routes)
    assert len(issues) == 1 and "shadowed" in issues[0].problem


def test_distinct_routes_do_not_shadow_each_other() -> None:
    routes = [
        re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/$", DirectChatConsumer.as_asgi()),
        re_path(r"^ws/chat/(?P<username>[\w.@+-]+)/extra/$", DirectChatConsumer.as_asgi()),
    ]
    assert validator.validate(routes) == []


@given(st.text(max_size=30))
def test_validate_pattern_never_raises(text: str) -> None:
    validator.validate_pattern(text)


def test_samples_match_their_pattern() -> None:
    text = r"^ws/(?:chat|room)/(?P<username>[\w.@+-]+)/$"
    samples = validator.samples(text)
    assert any(s.startswith("ws/chat/") for s in samples)
    assert any(s.startswith("ws/room/") for s in samples)
    assert all(re.search(text, s) for s in samples)


broken_routes = [re_path(r"ws/chat/(?P<user>\w+)/", DirectChatConsumer.as_asgi())]


@override_settings(WEBSOCKET_URLPATTERNS="tests.test_routing_validator.broken_routes")
def test_manage_py_check_fails_and_names_the_bad_pattern() -> None:
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert r"ws/chat/(?P<user>\w+)/" in str(caught.value)
