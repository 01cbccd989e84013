"""The account pages Django does not have: sign-up, and a password reset whose email cannot be misdirected.

Sign-in, sign-out, password change and the rest of the reset flow are
Django's own views (``django.contrib.auth.urls``) with LinkUp's templates.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.core.mail import EmailMultiAlternatives
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import conf
from ..logging_utils import category_for_exception, messaging_logger
from ..notification_service import site_url, smtp_breaker


class SignUpForm(UserCreationForm):
    """Username, email and password; the email is required (password resets go to it) and unique."""

    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="Password resets are sent here.",
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"])
        # A reset for this address would otherwise go to every account that has it.
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.", code="email_taken")
        return email


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account, sign it in and go to the inbox; a 404 when ``SIGNUP_ENABLED`` is off."""
    if not conf.bool_setting("SIGNUP_ENABLED"):
        raise Http404("Sign-up is turned off on this site.")
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        # The first backend (the user read with their profile), as a password sign-in stores it.
        login(request, form.save(), backend=settings.AUTHENTICATION_BACKENDS[0])
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})


class RecordedPasswordResetForm(PasswordResetForm):
    """Django's form, with a failed send recorded as a ``MessagingError`` and the SMTP breaker in front.

    Django logs the failure and shows the page anyway, so that the page never
    tells whether an address has an account; so does this form.
    """

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        try:
            smtp_breaker.call(message.send)
        except Exception as exc:  # noqa: BLE001 - any backend failure: recorded, and the page must not tell
            messaging_logger.error(
                category_for_exception(exc),
                "password reset email could not be sent",
                context={"user": context["user"].pk},
                user=context["user"],
                exc=exc,
            )


class PasswordResetView(auth_views.PasswordResetView):
    """The reset link starts with ``MESSAGING_SITE_URL``, like every link LinkUp emails.

    Django builds it from the request's ``Host`` header, which a client
    chooses: with a lax ``ALLOWED_HOSTS`` someone could have a victim's reset
    link point at their own site.
    """

    form_class = RecordedPasswordResetForm

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.extra_email_context = {"site_url": site_url()}
        return super().form_valid(form)
