"""The conversation event log, step 2 of 3: per-message statuses become per-member cursors.

Until now each message carried its recipient's ``status``; now each member
has ``delivered_seq`` and ``read_seq`` and a message's status is derived from
them. A member's cursors are the highest seq of the messages to them that
were delivered (or read) and read, in the hot table or the archive. Every
step is one set-based ``UPDATE`` with a correlated subquery (served by the
old ``(conversation, recipient, status, seq)`` index), so a deployment with a
million messages runs a handful of statements, not a loop over rows.

Reversible: going back sets each message's status from its recipient's
cursors (the timestamps of that status are not kept).
"""

from django.db import migrations
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

DELIVERED_OR_READ = ("delivered", "read")


def _highest(model, statuses):
    """The highest seq of the participant's incoming messages with one of ``statuses``."""
    return Subquery(
        model.objects.filter(
            conversation_id=OuterRef("conversation_id"), recipient_id=OuterRef("user_id"), status__in=statuses
        )
        .order_by()
        .values("conversation_id")
        .annotate(top=Max("seq"))
        .values("top")[:1],
        output_field=IntegerField(),
    )


def statuses_to_cursors(apps, schema_editor):
    Participant = apps.get_model("messaging", "Participant")
    Conversation = apps.get_model("messaging", "Conversation")
    Message = apps.get_model("messaging", "Message")
    Archived = apps.get_model("messaging", "ArchivedMessage")
    zero = Value(0)
    Participant.objects.update(
        delivered_seq=Greatest(
            Coalesce(_highest(Message, DELIVERED_OR_READ), zero), Coalesce(_highest(Archived, DELIVERED_OR_READ), zero)
        ),
        read_seq=Greatest(Coalesce(_highest(Message, ("read",)), zero), Coalesce(_highest(Archived, ("read",)), zero)),
    )
    # When each cursor last moved: the time the message at the cursor got there
    # (one index lookup per member, on the (conversation, seq) key).
    Participant.objects.update(
        delivered_at=Subquery(
            Message.objects.filter(conversation_id=OuterRef("conversation_id"), seq=OuterRef("delivered_seq")).values(
                "delivered_at"
            )[:1]
        ),
        read_at=Subquery(
            Message.objects.filter(conversation_id=OuterRef("conversation_id"), seq=OuterRef("read_seq")).values(
                "read_at"
            )[:1]
        ),
    )
    # Every event so far is a message; every direct conversation has its two members.
    Conversation.objects.update(
        last_message_seq=F("last_seq"),
        member_count=Subquery(
            Participant.objects.filter(conversation_id=OuterRef("pk"))
            .order_by()
            .values("conversation_id")
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
    )


def cursors_to_statuses(apps, schema_editor):
    Participant = apps.get_model("messaging", "Participant")
    Message = apps.get_model("messaging", "Message")
    Archived = apps.get_model("messaging", "ArchivedMessage")

    def cursor(name):
        return Subquery(
            Participant.objects.filter(
                conversation_id=OuterRef("conversation_id"), user_id=OuterRef("recipient_id")
            ).values(name)[:1]
        )

    for model in (Message, Archived):
        # Direct conversations only existed before this migration: the
        # recipient is the other participant.
        model.objects.update(
            recipient_id=Subquery(
                Participant.objects.filter(conversation_id=OuterRef("conversation_id"))
                .exclude(user_id=OuterRef("sender_id"))
                .values("user_id")[:1]
            )
        )
        model.objects.update(status="sent")
        model.objects.filter(Q(seq__lte=cursor("delivered_seq"))).update(status="delivered")
        model.objects.filter(Q(seq__lte=cursor("read_seq"))).update(status="read")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0006_event_log_fields")]

    operations = [migrations.RunPython(statuses_to_cursors, cursors_to_statuses)]
