"""What the consumers answer each ``ws/chat/`` request with: one table for the fuzzing and the browser's types.

``tests/test_fuzz_frames.py`` sends every frame type to the real consumers and
checks each is answered with the frame type named here (``None``: the frame
may go unanswered); ``tests/test_frame_types.py`` checks that the browser's
``RequestAnswers`` (``static/messaging/frames.d.ts``) promises the same.
"""

from __future__ import annotations

USER_ANSWERS: dict[str, str | None] = {
    "message": "ack",
    "typing": None,
    "read": None,
    "received": None,
    "sync": "sync",
    "history": "history",
    "ping": "pong",
    "view": None,
    "resume": "resume",
    "conversations": "conversations",
    "create_group": "ack",
    "add_members": "ack",
    "remove_member": "ack",
    "leave": "ack",
    "rename": "ack",
    "set_role": "ack",
    "mute": "muted",
    "pin": "pinned",
    "members": "members",
    "search": "search",
    "edit": "ack",
    "delete": "ack",
    "react": "ack",
    "unreact": "ack",
    "hide": "ack",
    "clear": "ack",
    "edits": "edits",
}
