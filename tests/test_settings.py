"""Settings: every setting the README lists is read from its environment variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.servers import ROOT

ENVIRONMENT_SETTINGS = {
    "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": "1.5",
    "MESSAGING_PRESENCE_EXPIRY_SECONDS": "4",
    "MESSAGING_TYPING_EXPIRY_SECONDS": "2",
    "MESSAGING_RATE_LIMIT": "7/3s",
}


def settings_in_a_fresh_process(env: dict[str, str], *names: str) -> dict[str, object]:
    code = (
        "import json, linkup.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}, default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(out)


def test_messaging_timers_and_rate_are_read_from_the_environment(tmp_path) -> None:
    env = {**os.environ, "LINKUP_VAR_DIR": str(tmp_path), **ENVIRONMENT_SETTINGS}
    seen = settings_in_a_fresh_process(env, *ENVIRONMENT_SETTINGS)
    assert {name: str(value) for name, value in seen.items()} == {
        "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": "1.5",
        "MESSAGING_PRESENCE_EXPIRY_SECONDS": "4.0",
        "MESSAGING_TYPING_EXPIRY_SECONDS": "2.0",
        "MESSAGING_RATE_LIMIT": "7/3s",
    }


def test_tls_behind_a_proxy_is_opt_in_from_the_environment(tmp_path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in {"SECURE_PROXY_SSL_HEADER", "SECURE_COOKIES"}}
    base["LINKUP_VAR_DIR"] = str(tmp_path)
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    assert settings_in_a_fresh_process(base, *names) == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False}
    code = "import linkup.settings as s; print(hasattr(s, 'SECURE_PROXY_SSL_HEADER'))"
    unset = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, check=True)
    assert unset.stdout.strip() == "False"  # clients could claim HTTPS if it were on without a proxy

    behind_tls = {**base, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO, https", "SECURE_COOKIES": "true"}
    assert settings_in_a_fresh_process(behind_tls, "SECURE_PROXY_SSL_HEADER", *names) == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }

    wrong = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"},
        capture_output=True,
        text=True,
    )
    assert wrong.returncode != 0 and "SECURE_PROXY_SSL_HEADER is HEADER,VALUE" in wrong.stderr


def test_a_number_setting_that_is_not_a_number_refuses_to_start_and_names_itself(tmp_path) -> None:
    env = {**os.environ, "LINKUP_VAR_DIR": str(tmp_path), "MESSAGING_MAX_SOCKETS_PER_USER": "twenty"}
    result = subprocess.run(
        [sys.executable, "-c", "import linkup.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "MESSAGING_MAX_SOCKETS_PER_USER must be an integer, got 'twenty'" in result.stderr


def test_signup_is_on_for_the_embedded_default_off_where_database_url_is_set_and_the_variable_decides(
    tmp_path,
) -> None:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SIGNUP_ENABLED"}}
    base["LINKUP_VAR_DIR"] = str(tmp_path)
    deployment = {**base, "DATABASE_URL": "postgres://linkup:pw@127.0.0.1:5432/linkup"}

    def signup(env: dict[str, str]) -> object:
        return settings_in_a_fresh_process(env, "SIGNUP_ENABLED")["SIGNUP_ENABLED"]

    assert signup(base) is True
    assert signup(deployment) is False
    assert signup({**deployment, "SIGNUP_ENABLED": "true"}) is True
    assert signup({**base, "SIGNUP_ENABLED": "false"}) is False


def test_email_goes_to_files_in_var_mail_unless_email_host_names_an_smtp_server(tmp_path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    base["LINKUP_VAR_DIR"] = str(tmp_path)
    names = ("EMAIL_BACKEND", "EMAIL_FILE_PATH")
    assert settings_in_a_fresh_process(base, *names) == {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    relay = {
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "linkup",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": "true",
    }
    smtp = settings_in_a_fresh_process({**base, **relay}, "EMAIL_BACKEND", *relay)
    assert smtp == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "linkup",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
    }


def test_the_limits_are_built_again_after_a_messaging_setting_changes(settings) -> None:
    from messaging import conf

    before = conf.limits()
    assert conf.limits() is before  # built once, not per message
    settings.MESSAGING_MAX_LENGTH = before.max_length + 1
    settings.MESSAGING_MAX_UPLOAD_BYTES = conf.upload_limits().max_bytes + 1
    settings.MESSAGING_MAX_STATUS_LENGTH = conf.profile_limits().max_status - 1
    assert conf.limits().max_length == before.max_length + 1
    assert conf.upload_limits().max_bytes == settings.MESSAGING_MAX_UPLOAD_BYTES
    assert conf.profile_limits().max_status == settings.MESSAGING_MAX_STATUS_LENGTH
