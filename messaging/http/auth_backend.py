"""The signed-in user read with their profile, in the one query Django makes for ``request.user`` and Channels for ``scope["user"]``.

Every socket's ``connected`` frame shows the user's display name, status and
avatar (their ``Profile``), and every page shows them too: read with the user
(a join on a one-to-one), they cost no query of their own. A handshake read
the user again with their profile, one more query and one more ``User``
built for each socket of a reconnect storm (docs/benchmark.md, issue 19's
handshakes).

Listed first in ``AUTHENTICATION_BACKENDS``, so new sign-ins are stored with
it; ``ModelBackend`` stays listed after it, so sessions signed in before keep
working (their user is read without the profile, and the handshake reads the
profile as before: ``messaging.store.profiles.profile_loaded``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ModelBackendWithProfile(ModelBackend):
    """Django's ``ModelBackend`` (the same passwords, permissions and ``is_active`` rule), its ``get_user`` joined to the profile."""

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        try:
            user = model._default_manager.select_related("messaging_profile").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
