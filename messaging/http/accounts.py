"""The account pages Django does not have: sign-up, and a password reset whose email cannot be misdirected.

Sign-out, password change and the rest of the reset flow are Django's own
views (``django.contrib.auth.urls``) with LinkUp's templates; sign-in is
Django's view with a form that counts failures first. Sign-in, sign-up and
reset requests are rate limited (``guards/accounts.py``): a refusal is the
page again with 429, ``Retry-After`` and a sentence saying how long to wait.

The client's address is ``REMOTE_ADDR``, which daphne sets: behind a proxy,
from its ``X-Forwarded-For`` with ``--proxy-headers`` (docs/deployment.md).
No header is read here, or any client could name its own address.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.core.mail import EmailMultiAlternatives
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import conf
from ..exceptions import PasswordResetRateLimited, RateLimited, SigninRateLimited, SignupRateLimited
from ..guards.accounts import (
    SigninAttempt,
    check_password_reset_allowance,
    check_signup_allowance,
    may_mail_password_reset,
)
from ..logging_utils import category_for_exception, messaging_logger
from ..notification_service import site_url, smtp_breaker


def client_address(request: HttpRequest | None) -> str:
    """The client's address as the server gave it (``REMOTE_ADDR``); never read from a header here."""
    return "" if request is None else request.META.get("REMOTE_ADDR") or ""


def wait_seconds(refusal: RateLimited) -> int:
    """Whole seconds to wait, rounded up: the ``Retry-After`` value and the number the page says."""
    return max(1, math.ceil(refusal.extra.get("retry_after", 1)))


def too_many(what: str, refusal: RateLimited) -> str:
    seconds = wait_seconds(refusal)
    return f"Too many {what}. Try again in {seconds} second{'s' if seconds != 1 else ''}."


def refused(response: HttpResponse, refusal: RateLimited) -> HttpResponse:
    """``response`` (the page again, with the sentence) as the refusal's 429 with ``Retry-After``."""
    response.status_code = refusal.http_status
    response["Retry-After"] = str(wait_seconds(refusal))
    return response


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing before the password is checked once this username or address failed too often.

    ``refusal`` holds the refusal, for the view's 429.
    """

    refusal: SigninRateLimited | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()  # nothing to check a password against: not an attempt
        attempt = SigninAttempt(username, client_address(self.request))
        try:
            attempt.take()
        except SigninRateLimited as refusal:
            self.refusal = refusal
            raise forms.ValidationError(too_many("sign-in attempts", refusal), code=refusal.code.value) from None
        cleaned = super().clean()  # a wrong password raises here: its tokens stay taken
        attempt.succeeded()
        return cleaned


class LoginView(auth_views.LoginView):
    """Django's sign-in view with :class:`RateLimitedAuthenticationForm`; a refused attempt answers 429."""

    form_class = RateLimitedAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        refusal = getattr(form, "refusal", None)
        return response if refusal is None else refused(response, refusal)


class RateLimitedAdminAuthenticationForm(RateLimitedAuthenticationForm, AdminAuthenticationForm):
    """The admin site's sign-in form, drawing from the same allowances: it is a second door to the same passwords."""


def admin_login(site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    """``site.login`` answering 429 with ``Retry-After`` when its form (:class:`RateLimitedAdminAuthenticationForm`) refused.

    The site must use that form (``site.login_form``); its page shows the
    refusal's sentence as the form's error.
    """

    def login_view(request: HttpRequest) -> HttpResponse:
        response = site.login(request)
        form = (getattr(response, "context_data", None) or {}).get("form")
        refusal = getattr(form, "refusal", None)
        return response if refusal is None else refused(response, refusal)

    return login_view


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
    if request.method == "POST":
        try:
            check_signup_allowance(client_address(request))
        except SignupRateLimited as refusal:
            # Not validated (that is the work refused): the name and address typed, no passwords.
            form = SignUpForm(initial={"username": request.POST.get("username"), "email": request.POST.get("email")})
            context = {"form": form, "refusal": too_many("sign-ups from your network", refusal)}
            return refused(render(request, "registration/signup.html", context), refusal)
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
    """The reset link starts with ``MESSAGING_SITE_URL``, like every link LinkUp emails; requests are rate limited.

    Django builds the link from the request's ``Host`` header, which a client
    chooses: with a lax ``ALLOWED_HOSTS`` someone could have a victim's reset
    link point at their own site.

    Over the client address's allowance the page says so (429); over the
    email address's, no email is sent and the answer is the one an unknown
    address gets, so that it tells nothing about the account.
    """

    form_class = RecordedPasswordResetForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            check_password_reset_allowance(client_address(request))
        except PasswordResetRateLimited as refusal:
            context = self.get_context_data(form=self.get_form_class()())
            context["refusal"] = too_many("password reset requests from your network", refusal)
            return refused(self.render_to_response(context), refusal)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        if not may_mail_password_reset(form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        self.extra_email_context = {"site_url": site_url()}
        return super().form_valid(form)
