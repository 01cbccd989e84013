from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from messaging.http import accounts

# The admin's sign-in checks the same passwords: the same allowances as /accounts/login/.
admin.site.login_form = accounts.RateLimitedAdminAuthenticationForm

urlpatterns = [
    path("admin/login/", accounts.admin_login(admin.site)),
    path("admin/", admin.site.urls),
    # Before Django's auth URLs, so that these password_reset and login are the ones served.
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("messaging.urls")),
    path("", RedirectView.as_view(url="/messages/", permanent=False)),
]
