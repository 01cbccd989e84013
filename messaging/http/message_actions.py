"""The HTTP API of the message actions: the socket's ``edit``, ``delete``, ``react``, ``unreact``, ``hide``, ``clear`` and ``edits``.

Same validator, limits, rate bucket, idempotency and errors as the socket
(:mod:`messaging.http.api`); what changes is published through the same
actions. Answers: ``201 {"event": E}`` when an event was stored, ``200`` for a
repeat or when there was nothing to change (``event`` null).
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.views.decorators.http import require_GET, require_POST

from .. import conf
from ..actions import message_changes
from ..connection_validator import ClearFrame, DeleteFrame, EditFrame, HideFrame, ReactFrame
from ..serializers import edits_frame, hidden_frame
from ..store import message_actions
from .api import _admitted, _body, _frame, api_view, json_response
from .signed_in import SignedInRequest


def _answer(change: message_actions.Change) -> HttpResponse:
    payload = message_changes.announce_sync(change)
    created = change.appended is not None and change.appended.created
    return json_response({"event": payload}, status=201 if created else 200)


@require_POST
@api_view
@_admitted
def api_edit(request: SignedInRequest, conversation_id: int, seq: int) -> HttpResponse:
    frame = _frame("edit", EditFrame, {**_body(request), "conversation": conversation_id, "seq": seq})
    return _answer(
        message_actions.edit_message(
            request.user,
            conversation_id,
            seq,
            frame.content,
            frame.client_id,
            window=conf.edit_window(),
        )
    )


@require_POST
@api_view
@_admitted
def api_delete(request: SignedInRequest, conversation_id: int, seq: int) -> HttpResponse:
    frame = _frame("delete", DeleteFrame, {**_body(request), "conversation": conversation_id, "seq": seq})
    return _answer(
        message_actions.delete_message(request.user, conversation_id, seq, frame.client_id, window=conf.delete_window())
    )


def _react(request: SignedInRequest, conversation_id: int, seq: int, *, add: bool) -> HttpResponse:
    frame = _frame(
        "react" if add else "unreact", ReactFrame, {**_body(request), "conversation": conversation_id, "seq": seq}
    )
    return _answer(
        message_actions.react(
            request.user,
            conversation_id,
            seq,
            frame.emoji,
            frame.client_id,
            add=add,
            max_reactions=conf.max_reactions(),
        )
    )


@require_POST
@api_view
@_admitted
def api_react(request: SignedInRequest, conversation_id: int, seq: int) -> HttpResponse:
    return _react(request, conversation_id, seq, add=True)


@require_POST
@api_view
@_admitted
def api_unreact(request: SignedInRequest, conversation_id: int, seq: int) -> HttpResponse:
    return _react(request, conversation_id, seq, add=False)


def _hidden(request: SignedInRequest, hidden: message_actions.Hidden) -> HttpResponse:
    async_to_sync(message_changes.announce_hidden)(request.user.pk, hidden)
    return json_response({"hidden": {k: v for k, v in hidden_frame(hidden).items() if k != "type"}})


@require_POST
@api_view
@_admitted
def api_hide(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    frame = _frame("hide", HideFrame, {**_body(request), "conversation": conversation_id})
    return _hidden(request, message_actions.hide_messages(request.user, conversation_id, list(frame.seqs)))


@require_POST
@api_view
@_admitted
def api_clear(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    _frame("clear", ClearFrame, {**_body(request), "conversation": conversation_id})
    return _hidden(request, message_actions.clear_conversation(request.user, conversation_id))


@require_GET
@api_view
def api_edits(request: SignedInRequest, conversation_id: int, seq: int) -> HttpResponse:
    versions = message_actions.edit_history(request.user.pk, conversation_id, seq)
    body = edits_frame(conversation_id, seq, versions)
    return json_response({k: v for k, v in body.items() if k != "type"})
