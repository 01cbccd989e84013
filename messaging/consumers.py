"""The WebSocket consumers: thin, they parse, act through the actions and the handler, and speak.

- :class:`ChatConsumer`, ``ws/chat/``: one socket per client for every
  conversation of the user.
- :class:`DirectChatConsumer`, ``ws/chat/<username>/``: the first contract's
  one-to-one socket, the same machinery filtered to one direct conversation
  and speaking that contract's frames.
- :class:`NotificationsConsumer`, ``ws/notifications/``.

The shared machinery (handshakes, frame parsing, the one place failures
become error frames, presence) is :class:`messaging.realtime.base.MessagingConsumer`.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import functools
import json
import time
from typing import Any, Literal

from . import conf
from .actions import membership, message_changes, messages, pages, receipts
from .async_handlers import AsyncSafeMessageHandler as db
from .connection_validator import (
    CHAT_FRAMES,
    DIRECT_FRAMES,
    MAX_PAGE,
    NOTIFICATION_FRAMES,
    AddMembersFrame,
    ClearFrame,
    ConversationsFrame,
    CreateGroupFrame,
    DeleteFrame,
    EditFrame,
    EditsFrame,
    HideFrame,
    HistoryFrame,
    LeaveFrame,
    ListFrame,
    MarkAllReadFrame,
    MarkReadFrame,
    MembersFrame,
    MessageFrame,
    MuteFrame,
    PinFrame,
    ReactFrame,
    ReadFrame,
    ReceivedFrame,
    RemoveMemberFrame,
    RenameFrame,
    ResumeFrame,
    SearchFrame,
    SetRoleFrame,
    SyncFrame,
    TypingFrame,
    ViewFrame,
)
from .exceptions import Forbidden, InvalidFrame, NotFound
from .frames import AckFrame, ConversationPayload, ConversationsAnswer, MessageAckFrame, Ref, ResumeAnswer
from .logging_utils import category_for_exception, messaging_logger
from .models import MESSAGE_ACTION_KINDS, Connection, EventKind
from .notification_service import push_unread_count
from .ops import metrics
from .pubsub import conversation_group, notifications_group, publish_muted, publish_pinned, publish_typing
from .realtime.allowances import MessageGate
from .realtime.backpressure import DeliveryGate
from .realtime.base import MessagingConsumer
from .realtime.presence import tracker
from .realtime.typing import TypingIndicators
from .realtime.writer import Dropped, message_writer, receipt_writer
from .serializers import (
    Cursors,
    EventPayload,
    MessagePayload,
    RenderedPayload,
    ack_frame,
    action_ack_frame,
    answer,
    connected_frame,
    conversation_payload,
    conversations_frame,
    direct_connected_frame,
    edits_frame,
    event_ack_frame,
    event_ack_text,
    event_frame,
    event_payload,
    hidden_ack_frame,
    hidden_payload,
    history_frame,
    members_frame,
    message_frame,
    message_payload,
    muted_frame,
    notifications_page_frame,
    page_frame,
    pinned_frame,
    pushed_receipts_frame,
    resume_frame,
    resumed_payload,
    search_frame,
    status_frame,
    sync_frame,
    typing_frame,
    unread_count_frame,
    without_quote,
)
from .store.conversations import Window, decode_cursor, encode_cursor
from .store.errors import Unavailable
from .store.events import NewMessage, Outcome
from .store.profiles import profile_loaded
from .store.read_privacy import shown_read_seq
from .store.receipts import CursorMark
from .store.users import User

#: the frames that name their conversation (none on the one-to-one view)
InConversation = SyncFrame | HistoryFrame | TypingFrame | ReadFrame | ReceivedFrame
#: the frames of a group change and of a message action, each answered with an ``ack``
GroupChangeFrame = AddMembersFrame | RemoveMemberFrame | LeaveFrame | RenameFrame | SetRoleFrame
ActionFrame = EditFrame | DeleteFrame | ReactFrame

# Well under what a person notices between a message showing up and its
# sender's second tick, and long enough to gather a burst of receipts into
# one update.
RECEIPT_COALESCE_SECONDS = 0.05


class ChatConsumer(MessagingConsumer):
    """``ws/chat/``: every conversation of the signed-in user, on one socket."""

    frames = CHAT_FRAMES
    connection_kind = Connection.Kind.CHAT
    url_kwargs: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the user's window of each conversation it has heard of (current and former memberships)
        self.windows: dict[int, Window] = {}
        #: the conversation this tab shows in a visible window
        self.viewing: int | None = None
        # Messages sent on this socket whose commit is pending, in order, and
        # the task that finishes them (acks, pushes) in that order.
        # The last field: whether the message took a token (a repeat served
        # over the rate did not, see queue_message).
        self.in_flight: collections.deque[
            tuple[MessageFrame, asyncio.Future[Outcome], ConversationPayload | None, bool]
        ] = collections.deque()
        self.finisher: asyncio.Task[None] | None = None
        self._gate: MessageGate | None = None
        self.typing = TypingIndicators(self.limits.typing_expiry, self.announce_typing)
        # Receipts reported and not yet stored, per conversation: (delivered, read).
        self.pending_receipts: dict[int, tuple[int, int]] = {}
        self.storing_receipts: asyncio.Task[None] | None = None
        #: the user's read-receipts setting (messaging/store/read_privacy.py), followed through ``settings`` pushes
        self.shares_reads = True

    # --- Lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        if self.authenticate() is None:
            await self.refuse()
            return
        session = await self.join()
        if session is None:
            return
        # Subscribed before the client can ask for anything: whatever is
        # committed from here on is pushed, whatever came before is in the
        # answers to its resume, sync and history.
        await asyncio.gather(*(self.remember(window) for window in session.windows))
        self.shares_reads = session.shares_reads
        await self.send_frame(connected_frame(session.me, self.limits.public(), read_receipts=self.shares_reads))

    async def register(self) -> tuple[Any, Any]:
        me = self.user if profile_loaded(self.user) else None
        session = await self.register_with(functools.partial(db.open_session, me=me))
        return session.change, session

    # --- Abuse and backpressure (messaging/realtime/allowances.py, backpressure.py) -----

    @property
    def gate(self) -> MessageGate:
        """The socket's in-flight cap and the user's token, checked before the shared write queue."""
        if self._gate is None:
            self._gate = MessageGate(self.limits, self.user.pk)
        return self._gate

    async def queue_message(self, conversation_id: int, frame: MessageFrame, made: ConversationPayload | None) -> None:
        """Admit the message (or raise ``rate_limited``), then queue it for the next group commit."""
        refusal = await self.gate.admit_message()
        item = NewMessage(
            conversation_id,
            self.user,
            frame.content,
            frame.client_id,
            reply_to=frame.reply_to,
            attachments=frame.attachments,
        )
        if refusal is None:
            self.in_flight.append((frame, message_writer.enqueue(item, owner=self.channel_name), made, True))
        else:
            # Over the rate, within the repeat allowance: an outbox resent after
            # a reconnect still gets its acks; a new message gets the refusal.
            looked_up: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
            try:
                repeat = await db.repeat_of_message(item)
            except Exception:
                self.gate.finished()
                raise
            if repeat is None:
                self.gate.finished()
                raise refusal
            looked_up.set_result(repeat)
            self.in_flight.append((frame, looked_up, made, False))
        if self.finisher is None or self.finisher.done():
            self.finisher = asyncio.create_task(self.finish_messages())

    async def send_page(self, build: Any, count: int) -> int:
        """Send the largest page ``build(k)`` (k <= count) within ``MESSAGING_PAGE_BYTES``; how many items went."""
        text, sent = pages.fit(build, count, self.limits.page_bytes)
        await self.send_text(text)
        return sent

    def drop_queued(self) -> None:
        if self.channel_name:
            metrics.WRITES_DROPPED.inc(message_writer.drop(self.channel_name))

    # --- Lifecycle, continued ----------------------------------------------------------

    async def leave(self) -> None:
        self.drop_queued()
        self.set_viewing_locally(None)
        if self.registered:
            await self.typing.stop_all()
        for task in (self.finisher, self.storing_receipts):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await super().leave()

    # --- Windows: who may see what -------------------------------------------------

    async def remember(self, window: Window) -> None:
        """Record the user's window of a conversation; follow its pushes while a member, not after."""
        known = self.windows.get(window.conversation_id)
        if known is not None and known.membership_seq > window.membership_seq:
            return
        self.windows[window.conversation_id] = window
        if window.is_member:
            await self.subscribe(conversation_group(window.conversation_id))
        else:
            await self.unsubscribe(conversation_group(window.conversation_id))
            if self.viewing == window.conversation_id:
                self.set_viewing_locally(None)

    async def window_for(self, conversation_id: int, membership_seq: int = 0) -> Window | None:
        """The user's window, read again when a push says membership changed since it was read."""
        window = self.windows.get(conversation_id)
        if window is None or window.membership_seq < membership_seq:
            window = await db.window(self.user.pk, conversation_id)
            if window is None:
                return None
            await self.remember(window)
        return window

    async def current_member(self, conversation_id: int) -> None:
        """Refuse (``not_found``, ``forbidden``) a frame for a conversation the user is not a member of now."""
        window = await self.window_for(conversation_id)
        if window is None:
            raise NotFound(f"there is no conversation {conversation_id} of yours")
        if not window.is_member:
            raise Forbidden("you are no longer a member of this conversation")

    async def ever_member(self, conversation_id: int) -> Window:
        window = await self.window_for(conversation_id)
        if window is None:
            raise NotFound(f"there is no conversation {conversation_id} of yours")
        return window

    # --- Reading ------------------------------------------------------------------

    async def on_conversations(self, frame: ConversationsFrame) -> None:
        before = decode_cursor(frame.before) if frame.before is not None else None
        if frame.before is not None and before is None:
            raise NotFound("that page cursor is not one this server gave")
        rows, has_more, next_cursor = await db.inbox(
            self.user, before=before, limit=frame.limit, expiry=self.limits.presence_expiry
        )

        def page(k: int) -> ConversationsAnswer:
            cut = k < len(rows)
            return answer(
                conversations_frame(
                    [conversation_payload(row) for row in rows[:k]],
                    has_more or cut,
                    encode_cursor(rows[k - 1].activity, rows[k - 1].conversation.pk) if cut else next_cursor,
                ),
                frame.ref,
            )

        await self.send_page(page, len(rows))

    async def on_resume(self, frame: ResumeFrame) -> None:
        resumed = await db.resume(self.user, frame.cursors, self.limits.page, self.limits.presence_expiry)

        def build(entries: list[ConversationPayload], unanswered: list[int]) -> ResumeAnswer:
            return answer(resume_frame(entries, unanswered), frame.ref)

        await self.send_text(
            pages.fit_resume(
                resumed,
                resumed_payload,
                lambda r: len(r.page.events),
                build,
                lambda r: r.summary.conversation.pk,
                self.limits.page_bytes,
            )
        )

    async def on_sync(self, frame: SyncFrame) -> None:
        page = await db.sync_page(self.user.pk, self.conversation_of(frame), frame.after, frame.limit)
        await self.send_sync(page, frame.ref)

    async def send_sync(self, page: Any, ref: Ref | None) -> None:
        events = page.page.events
        await self.send_page(
            lambda k: answer(
                sync_frame(
                    page.member.conversation_id,
                    events[:k],
                    page.page.has_more or k < len(events),
                    page.last_seq,
                    page.receipts,
                ),
                ref,
            ),
            len(events),
        )

    async def on_history(self, frame: HistoryFrame) -> None:
        if frame.around is not None:
            member, page = await db.around_page(self.user.pk, self.conversation_of(frame), frame.around, frame.limit)
            await self.send_frame(
                answer(history_frame(member.conversation_id, page.events, page.has_more, page.has_newer), frame.ref)
            )
            return
        member, page = await db.history_page(self.user.pk, self.conversation_of(frame), frame.before, frame.limit)
        events = page.events
        await self.send_page(
            lambda k: answer(
                history_frame(member.conversation_id, events[:k], page.has_more or k < len(events)), frame.ref
            ),
            len(events),
        )

    async def on_members(self, frame: MembersFrame) -> None:
        rows = await db.members(self.user.pk, frame.conversation, self.limits.presence_expiry)
        await self.send_frame(answer(members_frame(frame.conversation, rows), frame.ref))

    def conversation_of(self, frame: InConversation) -> int:
        """The conversation a frame is about (on this socket, the one it names: the validator requires it)."""
        if frame.conversation is None:
            raise InvalidFrame("'conversation' is missing")
        return frame.conversation

    # --- Search ---------------------------------------------------------------------

    async def on_search(self, frame: SearchFrame) -> None:
        """A page of the messages this user may see that match ``q`` (docs/protocol.md, "Search")."""
        await db.check_search_allowance(self.user.pk)  # the cache may be Redis: off the event loop
        page = await db.search(
            self.user, frame.q, cursor=frame.cursor, sort=frame.sort, limit=frame.limit, count=frame.count
        )
        await self.send_frame(answer(search_frame(page), frame.ref))

    # --- Sending ------------------------------------------------------------------

    async def on_message(self, frame: MessageFrame) -> None:
        """Queue the message for the next group commit and go on reading frames.

        The socket's messages are finished (acked, pushed) by one task, in the
        order they were sent, each once its commit is done: a sender with
        several messages in flight gets them into one transaction instead of
        one each.
        """
        conversation_id, made = frame.conversation, None
        if conversation_id is None:
            conversation_id, made = await self.direct_conversation(frame.to)
        await self.queue_message(conversation_id, frame, made)

    async def direct_conversation(self, username: str | None) -> tuple[int, ConversationPayload | None]:
        """The direct conversation with ``username`` (``to``), made with the first message; its summary if just made."""
        assert username is not None
        conversation_id, notices = await db.direct_with(self.user, username)
        if not notices:
            return conversation_id, None
        await messages.announce_direct(notices)
        return conversation_id, conversation_payload(notices[self.user.pk])

    async def finish_messages(self) -> None:
        while self.in_flight:
            frame, committed, made, charged = self.in_flight.popleft()
            try:
                try:
                    outcome = await committed
                except Dropped:
                    continue  # its socket closed before it was written: nothing to answer
                finally:
                    self.gate.finished()
                if charged and isinstance(outcome, Unavailable):
                    await self.gate.refund()
                if isinstance(outcome, Exception):
                    raise outcome
                if charged and not outcome.created:
                    await self.gate.repeated()
                payload = await messages.announce(outcome, origin=self.channel_name)
                if made is None and isinstance(payload, RenderedPayload) and self.acks_with_event_text:
                    # The broadcast rendered the payload already: the ack embeds that text.
                    await self.send_text(event_ack_text(payload, frame.ref))
                else:
                    await self.send_frame(answer(self.ack(payload, outcome, made), frame.ref))
                if self.typing.is_typing(outcome.event.conversation_id):
                    await self.typing.set(outcome.event.conversation_id, False)
            except Exception as exc:  # noqa: BLE001 - mapped to its error frame
                await self.answer_failure(exc, frame)

    #: whether the ack is :func:`event_ack_frame` (then it is built around the broadcast's text)
    acks_with_event_text = True

    def ack(
        self, payload: EventPayload, appended: Any, made: ConversationPayload | None = None
    ) -> AckFrame | MessageAckFrame:
        """The ack of a stored message; ``made``: the summary of the direct conversation it started."""
        return event_ack_frame(payload, conversation=made)

    # --- Receipts ------------------------------------------------------------------

    async def on_received(self, frame: ReceivedFrame) -> None:
        await self.ever_member(self.conversation_of(frame))
        self.report(self.conversation_of(frame), delivered=frame.up_to)

    async def on_read(self, frame: ReadFrame) -> None:
        await self.ever_member(self.conversation_of(frame))
        self.report(self.conversation_of(frame), read=frame.up_to)

    def report(self, conversation_id: int, *, delivered: int = 0, read: int = 0) -> None:
        """Coalesce a cursor report with others of the same burst; stored and announced shortly."""
        old_delivered, old_read = self.pending_receipts.get(conversation_id, (0, 0))
        self.pending_receipts[conversation_id] = (max(old_delivered, delivered), max(old_read, read))
        if self.storing_receipts is None or self.storing_receipts.done():
            self.storing_receipts = asyncio.create_task(self.store_receipts())

    async def store_receipts(self) -> None:
        """Store what this socket reported, coalescing bursts: one UPDATE and one receipt per conversation and batch."""
        await asyncio.sleep(RECEIPT_COALESCE_SECONDS)
        while self.pending_receipts:
            pending, self.pending_receipts = self.pending_receipts, {}
            for conversation_id, (delivered, read) in pending.items():
                mark = CursorMark(conversation_id, self.user.pk, self.username, delivered or None, read or None)
                try:
                    settled = await receipt_writer.submit(mark)
                    await receipts.announce(settled)
                except Exception as exc:  # noqa: BLE001 - a receipt can wait for the next report or sync
                    await messaging_logger.aerror(
                        category_for_exception(exc), "could not store a receipt", user=self.user, exc=exc
                    )

    # --- Typing, viewing, muting ---------------------------------------------------

    async def on_typing(self, frame: TypingFrame) -> None:
        conversation_id = self.conversation_of(frame)
        await self.current_member(conversation_id)
        await self.typing.set(conversation_id, frame.is_typing)

    async def announce_typing(self, conversation_id: int, is_typing: bool) -> None:
        await publish_typing(conversation_id, self.user.pk, self.username, is_typing)

    async def on_view(self, frame: ViewFrame) -> None:
        if frame.conversation is not None:
            await self.current_member(frame.conversation)
        if frame.conversation == self.viewing:
            return
        self.set_viewing_locally(frame.conversation)
        await db.set_viewing(self.channel_name, frame.conversation)

    def set_viewing_locally(self, conversation_id: int | None) -> None:
        self.viewing = conversation_id

    async def on_mute(self, frame: MuteFrame) -> None:
        muted_until = await db.mute(self.user.pk, frame.conversation, frame.until)
        await self.send_frame(answer(muted_frame(frame.conversation, muted_until), frame.ref))
        await publish_muted(self.user.pk, frame.conversation, muted_until, origin=self.channel_name)

    async def on_pin(self, frame: PinFrame) -> None:
        pinned_at = await db.pin(self.user.pk, frame.conversation, frame.pinned)
        await self.send_frame(answer(pinned_frame(frame.conversation, pinned_at), frame.ref))
        await publish_pinned(self.user.pk, frame.conversation, pinned_at, origin=self.channel_name)

    # --- Group changes --------------------------------------------------------------

    async def on_create_group(self, frame: CreateGroupFrame) -> None:
        await self.gate.admit_event()
        change = await db.create_group(
            self.user, frame.title, list(frame.members), frame.client_id, max_members=self.limits.max_group_members
        )
        if not change.appended.created:
            await self.gate.repeated()
        payload = await membership.announce(change, origin=self.channel_name)
        summary = await membership.creator_summary(change, self.user)
        await self.send_frame(answer(event_ack_frame(payload, conversation=summary), frame.ref))

    async def group_change(self, frame: GroupChangeFrame, change_coro: Any) -> None:
        try:
            await self.gate.admit_event()
        except Exception:
            change_coro.close()  # never awaited: nothing reaches the database
            raise
        change = await change_coro
        if not change.appended.created:
            await self.gate.repeated()
        payload = await membership.announce(change, origin=self.channel_name)
        await self.send_frame(answer(event_ack_frame(payload), frame.ref))

    async def on_add_members(self, frame: AddMembersFrame) -> None:
        await self.group_change(
            frame,
            db.add_members(
                self.user,
                frame.conversation,
                list(frame.users),
                frame.client_id,
                max_members=self.limits.max_group_members,
            ),
        )

    async def on_remove_member(self, frame: RemoveMemberFrame) -> None:
        await self.group_change(frame, db.remove_member(self.user, frame.conversation, frame.user, frame.client_id))

    async def on_leave(self, frame: LeaveFrame) -> None:
        await self.group_change(frame, db.leave(self.user, frame.conversation, frame.client_id))

    async def on_rename(self, frame: RenameFrame) -> None:
        await self.group_change(frame, db.rename(self.user, frame.conversation, frame.title, frame.client_id))

    async def on_set_role(self, frame: SetRoleFrame) -> None:
        await self.group_change(
            frame, db.set_role(self.user, frame.conversation, frame.user, frame.role, frame.client_id)
        )

    # --- Doing things to a message -------------------------------------------------

    async def on_edit(self, frame: EditFrame) -> None:
        await self.gated_action(
            frame,
            db.edit_message(
                self.user,
                frame.conversation,
                frame.seq,
                frame.content,
                frame.client_id,
                window=conf.edit_window(),
            ),
        )

    async def on_delete(self, frame: DeleteFrame) -> None:
        await self.gated_action(
            frame,
            db.delete_message(self.user, frame.conversation, frame.seq, frame.client_id, window=conf.delete_window()),
        )

    async def on_react(self, frame: ReactFrame) -> None:
        await self.gated_action(
            frame,
            db.react(
                self.user,
                frame.conversation,
                frame.seq,
                frame.emoji,
                frame.client_id,
                add=frame.type == "react",
                max_reactions=conf.max_reactions(),
            ),
        )

    on_unreact = on_react

    async def gated_action(self, frame: ActionFrame, call: Any) -> None:
        """Take the user's token before any database work (as messages and group changes do), then act and ack.

        A repeat settles like a repeated message; an action that changed
        nothing gives its token back.
        """
        try:
            await self.gate.admit_event()
        except Exception:
            call.close()  # never awaited: nothing reaches the database
            raise
        change = await call
        if change.appended is None:
            await self.gate.refund()
        elif not change.appended.created:
            await self.gate.repeated()
        await self.action_ack(frame, change)

    async def action_ack(self, frame: ActionFrame, change: Any) -> None:
        """The ``ack`` of an action: its event, or null when there was nothing to change."""
        payload = await message_changes.announce(change, origin=self.channel_name)
        await self.send_frame(answer(action_ack_frame(frame.client_id, payload), frame.ref))

    async def on_hide(self, frame: HideFrame) -> None:
        await self.gate.admit_event()
        hidden = await db.hide_messages(self.user, frame.conversation, list(frame.seqs))
        await self.hidden_ack(frame, hidden)

    async def on_clear(self, frame: ClearFrame) -> None:
        await self.gate.admit_event()
        hidden = await db.clear_conversation(self.user, frame.conversation)
        await self.hidden_ack(frame, hidden)

    async def hidden_ack(self, frame: HideFrame | ClearFrame, hidden: Any) -> None:
        await self.send_frame(answer(hidden_ack_frame(frame.client_id, hidden), frame.ref))
        await message_changes.announce_hidden(self.user.pk, hidden, origin=self.channel_name)

    async def on_edits(self, frame: EditsFrame) -> None:
        versions = await db.edit_history(self.user.pk, frame.conversation, frame.seq)
        await self.send_frame(answer(edits_frame(frame.conversation, frame.seq, versions), frame.ref))

    async def user_hidden(self, event: dict[str, Any]) -> None:
        if event.get("origin") != self.channel_name:
            await self.send_text(event["text"])

    # --- Group events ---------------------------------------------------------------

    #: whether the socket that caused an event gets it pushed too (its ack carries it already)
    echoes_own_events = False

    async def conversation_event(self, event: dict[str, Any]) -> None:
        """A new event of a conversation: forwarded if the user may see it, as of that event's membership."""
        if event.get("origin") == self.channel_name and not self.echoes_own_events:
            return
        window = await self.window_for(event["conversation"], event["mseq"])
        if window is None or not window.sees(event["seq"]):
            return
        await self.send_event(event, window)
        if event["sender_id"] != self.user.pk:
            metrics.DELIVERY_LATENCY.observe(max(0.0, time.time() - event["created_at"]))
        if event["kind"] in (EventKind.MEMBER_REMOVED, EventKind.MEMBER_LEFT) and window.is_member:
            # Our own leave may arrive before the notice on our user group.
            await self.window_for(event["conversation"], event["seq"])

    async def send_event(self, event: dict[str, Any], window: Window) -> None:
        target = event.get("target_seq")
        # The rule of the pages (store.message_views.annotate): a reply, and an
        # action on a message, about a message this member cannot see.
        about_a_message = event["kind"] == EventKind.MESSAGE or event["kind"] in MESSAGE_ACTION_KINDS
        if target is not None and about_a_message and not window.sees(target):
            # About a message from before this member joined: an edit or a
            # reaction says nothing to them, and a reply keeps its quote to itself.
            payload = json.loads(event["text"])["event"]
            if event["kind"] == EventKind.MESSAGE:
                await self.send_frame(event_frame(without_quote(payload)))
            else:
                created = datetime.datetime.fromtimestamp(event["created_at"], tz=datetime.UTC)
                await self.send_frame(
                    event_frame(
                        hidden_payload(event["conversation"], event["seq"], payload["id"], event["kind"], created)
                    )
                )
            return
        await self.send_text(event["text"])

    async def conversation_receipts(self, event: dict[str, Any]) -> None:
        window = self.windows.get(event["conversation"])
        if window is not None and window.is_member:
            await self.send_receipts(event)

    def receipts_for_me(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The pushed receipts as this user may see them, or None when the pre-rendered text may go as it is.

        The read-receipts rule (messaging/store/read_privacy.py), as ``sync``
        applies it: another member's read position is shown only if both
        share; hidden, it is their ``joined_seq``, and a move of it alone is not pushed.
        """
        mine = self.user.pk
        if all(r["user_id"] == mine or (self.shares_reads and r.get("shares_reads", True)) for r in event["receipts"]):
            return None
        shown = []
        for r in event["receipts"]:
            if r["user_id"] == mine or (self.shares_reads and r.get("shares_reads", True)):
                shown.append(r)
            elif r["delivered_moved"]:
                hidden = shown_read_seq(r["read_seq"], r.get("joined_seq", 0), viewer_shares=False, member_shares=False)
                shown.append({**r, "read_seq": hidden, "read_moved": False})
        return shown

    async def send_receipts(self, event: dict[str, Any]) -> None:
        shown = self.receipts_for_me(event)
        if shown is None:
            await self.send_text(event["text"])
        elif shown:
            await self.send_frame(pushed_receipts_frame(event["conversation"], shown))

    async def conversation_typing(self, event: dict[str, Any]) -> None:
        window = self.windows.get(event["conversation"])
        if event["user_id"] != self.user.pk and window is not None and window.is_member:
            await self.send_typing(event)

    async def send_typing(self, event: dict[str, Any]) -> None:
        await self.send_text(event["text"])

    async def conversation_presence(self, event: dict[str, Any]) -> None:
        if event["user_id"] != self.user.pk:
            await self.send_text(event["text"])

    async def user_membership(self, event: dict[str, Any]) -> None:
        """The user joined or left a conversation (any tab, any process): follow it, and tell the client."""
        await self.remember(
            Window(event["conversation"], event["kind"], event["joined_seq"], event["left_seq"], event["mseq"])
        )
        await self.send_text(event["text"])

    async def user_muted(self, event: dict[str, Any]) -> None:
        if event.get("origin") != self.channel_name:
            await self.send_text(event["text"])

    user_pinned = user_muted

    async def user_settings(self, event: dict[str, Any]) -> None:
        """The user changed a setting: follow the read-receipts one for later pushes, and tell the tab."""
        self.shares_reads = bool(event["read_receipts"])
        await self.send_text(event["text"])

    async def user_profile(self, event: dict[str, Any]) -> None:
        """Someone who shares a conversation with the user (or the user) changed how they are shown."""
        await self.send_text(event["text"])


class DirectChatConsumer(ChatConsumer):
    """``ws/chat/<username>/``: the first contract's one-to-one socket, on the same machinery.

    Frames name no conversation: it is the direct one with ``<username>``.
    Pushes are rendered in that contract's shapes (``message`` with ``M``,
    ``status``), and it keeps that contract's delivery rule: a message pushed
    to this socket, or fetched by ``sync``/``history``, is delivered.
    """

    frames = DIRECT_FRAMES
    url_kwargs = ("username",)
    conversation_required = False
    # The first contract pushes a message to every socket of the conversation, the sender's included.
    echoes_own_events = True
    #: the other person, set once at connect (a handshake naming no one else active is refused)
    peer: User

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversation_id = 0
        self._delivery: DeliveryGate | None = None

    async def connect(self) -> None:
        data = self.authenticate()
        if data is None:
            await self.refuse()
            return
        opening = await db.open_direct(self.user, data["username"])
        if opening is None:
            await self.refuse()
            return
        self.conversation_id, self.peer = opening.conversation.pk, opening.peer
        if opening.notices:
            await messages.announce_direct(opening.notices)
        await self.remember(opening.window)
        snapshot = await self.join()
        if snapshot is None:
            return
        self.set_viewing_locally(self.conversation_id)
        self.shares_reads = snapshot["shares_reads"]
        await self.send_frame(
            direct_connected_frame(
                self.peer.get_username(),
                snapshot["peer_online"],
                snapshot["peer_last_seen"],
                snapshot["last_seq"],
                snapshot["unread"],
            )
        )

    async def register(self) -> tuple[Any, Any]:
        """Register the socket (as viewing its conversation) and read the ``connected`` snapshot in one trip."""
        change = await db.register_connection(
            self.user.pk,
            self.channel_name,
            self.connection_kind,
            tracker.server_id,
            self.conversation_id,
            max_sockets=self.limits.max_sockets_per_user,
            expiry=self.limits.presence_expiry,
            username=self.username,
        )
        snapshot = await db.direct_snapshot(
            self.user.pk, self.conversation_id, self.peer.pk, self.limits.presence_expiry
        )
        return change, snapshot

    def conversation_of(self, frame: InConversation) -> int:
        return self.conversation_id

    async def on_message(self, frame: MessageFrame) -> None:
        await self.queue_message(self.conversation_id, frame, None)

    acks_with_event_text = False

    def ack(
        self, payload: EventPayload, appended: Any, made: ConversationPayload | None = None
    ) -> AckFrame | MessageAckFrame:
        return ack_frame(self.as_message(payload))

    def as_message(self, payload: EventPayload, recipient: Cursors | None = None) -> MessagePayload:
        """An event payload ``E`` as the first contract's message ``M``."""
        if recipient is None:
            recipient = Cursors(self.peer.get_username() if payload["sender"] == self.username else self.username)
        return message_payload(payload, recipient)

    async def on_sync(self, frame: SyncFrame) -> None:
        page = await db.sync_page(self.user.pk, self.conversation_id, frame.after, MAX_PAGE)
        await self.send_messages("sync", page.member, page.page, page.receipts)

    async def on_history(self, frame: HistoryFrame) -> None:
        member, page = await db.history_page(
            self.user.pk, self.conversation_id, frame.before, frame.limit, around=frame.around
        )
        receipts_ = await db.peer_receipts(self.user.pk, self.conversation_id)
        await self.send_messages("history", member, page, receipts_)

    async def send_messages(
        self, kind: Literal["sync", "history"], member: Any, page: Any, peer_receipts: list[Any]
    ) -> None:
        """A page in the first contract's shape; what it hands over is delivered (that contract's rule).

        The page is cut to ``MESSAGING_PAGE_BYTES`` first; the delivery of what
        it holds is then stored before it is sent, so the page shows the
        fetched messages as delivered, as that contract's answers always did.
        (A fetch is the client asking: unlike a live push, which counts as
        delivered only once the client took it, see :attr:`delivery`.)
        """
        shown = [
            event for event in page.events if event.kind == EventKind.MESSAGE and not getattr(event, "hidden", False)
        ]
        peer = peer_receipts[0] if peer_receipts else None
        theirs = Cursors(
            self.peer.get_username(),
            *((peer.delivered_seq, peer.read_seq, peer.delivered_at, peer.read_at) if peer else ()),
        )
        mine = Cursors(self.username, member.delivered_seq, member.read_seq, member.delivered_at, member.read_at)

        def items_of(events: list[Any], cursors: Cursors) -> list[MessagePayload]:
            return [
                self.as_message(event_payload(event), cursors if event.sender_id != self.user.pk else theirs)
                for event in events
            ]

        draft = items_of(shown, mine)
        _, fitting = pages.fit(
            lambda k: page_frame(kind, draft[:k], page.has_more or k < len(draft)), len(draft), self.limits.page_bytes
        )
        shown = shown[:fitting]
        has_more = page.has_more or fitting < len(draft)
        highest_incoming = max((e.seq for e in shown if e.sender_id != self.user.pk), default=0)
        if highest_incoming > member.delivered_seq:
            settled = await receipt_writer.submit(
                CursorMark(self.conversation_id, self.user.pk, self.username, delivered=highest_incoming)
            )
            await receipts.announce(settled)
            change = settled.change
            if change is not None:
                mine = Cursors(
                    self.username,
                    change.delivered_seq,
                    change.read_seq,
                    change.at if change.delivered_moved else member.delivered_at,
                    change.at if change.read_moved else member.read_at,
                )
        items = items_of(shown, mine)
        await self.send_page(lambda k: page_frame(kind, items[:k], has_more or k < len(items)), len(items))

    async def send_event(self, event: dict[str, Any], window: Window) -> None:
        if event["kind"] != EventKind.MESSAGE:
            return
        payload = json.loads(event["text"])["event"]
        await self.send_frame(message_frame(self.as_message(payload)))
        if event["sender_id"] != self.user.pk and not self.stalled:
            self.delivery.pushed(event["seq"])

    @property
    def delivery(self) -> DeliveryGate:
        """Pushed messages count as delivered once the client took them (messaging/realtime/backpressure.py)."""
        if self._delivery is None:
            self._delivery = DeliveryGate(self.outbound, lambda seq: self.report(self.conversation_id, delivered=seq))
        return self._delivery

    async def leave(self) -> None:
        if self._delivery is not None:
            await self._delivery.stop()
        await super().leave()

    async def send_receipts(self, event: dict[str, Any]) -> None:
        shown = self.receipts_for_me(event)
        for receipt in event["receipts"] if shown is None else shown:
            moment = datetime.datetime.fromtimestamp(receipt["at"], tz=datetime.UTC)
            if receipt["delivered_moved"]:
                await self.send_frame(status_frame("delivered", receipt["delivered_seq"], receipt["username"], moment))
            if receipt["read_moved"]:
                await self.send_frame(status_frame("read", receipt["read_seq"], receipt["username"], moment))

    async def send_typing(self, event: dict[str, Any]) -> None:
        await self.send_frame(typing_frame(event["username"], event["is_typing"]))

    async def user_membership(self, event: dict[str, Any]) -> None:
        """Only this conversation matters here, and it never changes members."""

    async def user_settings(self, event: dict[str, Any]) -> None:
        """The first contract has no ``settings`` frame: only follow the read-receipts setting."""
        self.shares_reads = bool(event["read_receipts"])

    async def user_muted(self, event: dict[str, Any]) -> None:
        """Muting is not part of the first contract."""

    async def user_pinned(self, event: dict[str, Any]) -> None:
        """Pinning is not part of the first contract."""

    async def user_hidden(self, event: dict[str, Any]) -> None:
        """Deleting for oneself is not part of the first contract (its pages apply it)."""

    async def user_profile(self, event: dict[str, Any]) -> None:
        """Profiles are not part of the first contract (its page shows them as of its load)."""


class NotificationsConsumer(MessagingConsumer):
    """``ws/notifications/``: the signed-in user's notifications and unread count."""

    frames = NOTIFICATION_FRAMES
    connection_kind = Connection.Kind.NOTIFICATIONS
    url_kwargs = ()

    async def connect(self) -> None:
        if self.authenticate() is None:
            await self.refuse()
            return
        await self.subscribe(notifications_group(self.user.pk))
        unread = await self.join()
        if unread is None:
            return
        await self.send_frame(unread_count_frame(unread))

    async def register(self) -> tuple[Any, Any]:
        """Presence and the unread count in one database-thread trip (every tab's bell pays it on each reconnect)."""
        session = await self.register_with(db.open_notifications)
        return session.change, session.unread

    async def on_mark_read(self, frame: MarkReadFrame) -> None:
        unread = await db.mark_notification_read(self.user.pk, frame.id)
        if unread is not None:
            await push_unread_count(self.user.pk, unread)

    async def on_mark_all_read(self, frame: MarkAllReadFrame) -> None:
        unread = await db.mark_all_notifications_read(self.user.pk)
        if unread is not None:
            await push_unread_count(self.user.pk, unread)

    async def on_list(self, frame: ListFrame) -> None:
        items, has_more = await db.list_notifications(self.user.pk, frame.before, frame.limit)
        text, _ = pages.fit(
            lambda k: answer(notifications_page_frame(items[:k], has_more or k < len(items)), frame.ref),
            len(items),
            self.limits.page_bytes,
        )
        await self.send_text(text)

    notification_push = MessagingConsumer.broadcast_text

    async def user_membership(self, event: dict[str, Any]) -> None:
        """Conversation notices reach every socket of the user; the bell follows no conversation."""

    async def user_muted(self, event: dict[str, Any]) -> None:
        """Muting changes what will be notified, not what the bell shows."""

    async def user_pinned(self, event: dict[str, Any]) -> None:
        """A pin orders the inbox; the bell shows no inbox."""

    async def user_hidden(self, event: dict[str, Any]) -> None:
        """For the chat sockets of the user's group (this socket is in it too); nothing for the bell."""

    async def user_profile(self, event: dict[str, Any]) -> None:
        """For the chat sockets; the bell shows notifications as they were written."""


__all__ = ["ChatConsumer", "DirectChatConsumer", "NotificationsConsumer", "conf"]
