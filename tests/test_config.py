"""Settings from the environment and flags: conversions, checks, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.config import Settings, SettingsError, cores


def test_defaults_are_safe() -> None:
    settings = Settings()
    assert settings.host == "127.0.0.1", "loopback unless told otherwise"
    assert settings.sqlite_synchronous == "FULL", "every acknowledged write fsync'd"
    assert not settings.webhook_allow_private
    assert settings.admin_token is None, "no admin API unless configured"


def test_environment_values_are_converted() -> None:
    settings = Settings.from_env(
        {
            "EMS_PORT": "9090",
            "EMS_DATA_DIR": "/var/lib/ems",
            "EMS_WEBHOOK_ALLOW_PRIVATE": "yes",
            "EMS_ALLOW_CIDRS": "10.0.0.0/8, 192.168.0.0/16",
            "EMS_RATE_LIMIT": "2.5",
            "EMS_SQLITE_SYNCHRONOUS": "normal",
            "EMS_ACCESS_LOG": "1",
            "EMS_QUEUE_MAX_MESSAGES": "500",
            "EMS_ADMIN_TOKEN": "t" * 32,
            "EMS_IRRELEVANT": "x",
        }
    )
    assert settings.port == 9090
    assert settings.data_dir == Path("/var/lib/ems")
    assert settings.webhook_allow_private is True
    assert settings.allow_cidrs == ("10.0.0.0/8", "192.168.0.0/16")
    assert settings.rate_limit == 2.5
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.access_log is True
    assert settings.storage_limits.max_messages == 500


def test_flags_win_over_the_environment() -> None:
    settings = Settings.from_env({"EMS_PORT": "9090"}).with_values({"port": "7070", "host": None})
    assert (settings.port, settings.host) == (7070, "127.0.0.1")


def test_workers_default_to_one_and_auto_is_one_per_core() -> None:
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env({"EMS_WORKERS": "3"}).workers == 3
    assert Settings.from_env({"EMS_WORKERS": "auto"}).workers == cores() >= 1
    assert Settings.from_env({}, flags={"workers": "AUTO"}).workers == cores()


@pytest.mark.parametrize(
    ("name", "value"),
    [("EMS_PORT", "http"), ("EMS_PORT", "70000"), ("EMS_ALLOW_CIDRS", "10.0.0.0/33"),
     ("EMS_SQLITE_SYNCHRONOUS", "sometimes"), ("EMS_ACCESS_LOG", "maybe"),
     ("EMS_RATE_LIMIT", "fast"), ("EMS_METRICS_LABELLED_QUEUES", "1001"),
     ("EMS_METRICS_LABELLED_QUEUES", "-1"), ("EMS_WORKERS", "0"), ("EMS_WORKERS", "many"),
     ("EMS_WORKERS", "257")],
)  # fmt: skip
def test_unusable_values_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    settings = Settings(admin_token="super-secret-token", api_keys="ci:key-0123456789abcdef")
    assert "super-secret-token" not in repr(settings)
    assert "key-0123456789abcdef" not in repr(settings)


def test_tls_needs_a_certificate_and_a_key() -> None:
    with pytest.raises(SettingsError, match="TLS needs both"):
        Settings.from_env({"EMS_TLS_CERT": "/etc/ems/cert.pem"})


EMAIL = {
    "EMS_SMTP_URL": "smtps://ems:pa%3Ass@mail.example.com",
    "EMS_SMTP_FROM": "notify@example.com",
    "EMS_PUBLIC_URL": "https://ems.example.com",
}


def test_email_settings() -> None:
    settings = Settings.from_env({**EMAIL, "EMS_EMAIL_RATE_LIMIT": "30"})
    assert settings.email_enabled
    assert settings.email_rate_limit == 30
    assert "pa:ss" not in repr(settings)
    assert "pa%3Ass" not in repr(settings)
    assert not Settings().email_enabled, "no email unless configured"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"EMS_SMTP_FROM": ""}, "both EMS_SMTP_URL and EMS_SMTP_FROM"),
        ({"EMS_PUBLIC_URL": ""}, "EMS_PUBLIC_URL"),
        ({"EMS_SMTP_URL": "http://mail.example.com"}, "smtp:// .STARTTLS. or smtps://"),
        ({"EMS_SMTP_URL": "smtp://"}, "must name a host"),
        ({"EMS_SMTP_URL": "smtp://u:secret@mail.example.com:99999"}, "not a valid URL"),
        ({"EMS_SMTP_FROM": "Ada <ada@example.com>"}, "EMS_SMTP_FROM"),
        ({"EMS_EMAIL_RATE_LIMIT": "0"}, "EMS_EMAIL_RATE_LIMIT"),
    ],
)
def test_unusable_email_settings_are_named(changes: dict[str, str], reason: str) -> None:
    with pytest.raises(SettingsError, match=reason) as raised:
        Settings.from_env({**EMAIL, **changes})
    assert "secret" not in str(raised.value)
