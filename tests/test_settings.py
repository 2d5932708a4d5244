"""Settings: defaults, TOML, environment, and clear refusals."""

from __future__ import annotations

import pytest

from ngcc112 import names
from ngcc112.settings import SettingsError, load_settings


def test_defaults_match_the_shipped_asterisk_names():
    s = load_settings(environ={})
    assert s.calls.queue == names.OPERATOR_QUEUE
    assert (s.ami.port, s.ami.username) == (5038, names.AMI_USERNAME)
    assert (s.panel.host, s.panel.port) == ("127.0.0.1", 8112)
    assert s.database_url.startswith("sqlite+aiosqlite:///")


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "ngcc112.toml"
    path.write_text('database_url = "postgresql+asyncpg://db/ngcc"\n[ami]\nhost = "10.0.0.5"\nport = 5039\n')
    s = load_settings(path, environ={"NGCC112_AMI_PORT": "6000", "NGCC112_QUEUE": "other-queue",
                                     "NGCC112_PANEL_LISTEN": "0.0.0.0:9000"})
    assert (s.ami.host, s.ami.port, s.calls.queue) == ("10.0.0.5", 6000, "other-queue")
    assert (s.panel.host, s.panel.port) == ("0.0.0.0", 9000)
    assert s.database_url == "postgresql+asyncpg://db/ngcc"


def test_the_secret_is_not_in_the_settings_repr():
    s = load_settings(environ={"NGCC112_AMI_SECRET": "top-secret"})
    assert s.ami.secret == "top-secret" and "top-secret" not in repr(s)


@pytest.mark.parametrize(("environ", "message"), [
    ({"NGCC112_AMI_PORT": "70000"}, r"\[ami\] port: '70000' is not valid"),
    ({"NGCC112_AMI_PORT": "x"}, r"\[ami\] port"),
    ({"NGCC112_PANEL_LISTEN": "8112"}, "NGCC112_PANEL_LISTEN must be host:port"),
    ({"NGCC112_QUEUE": "a\r\nAction: Hangup"}, "must not contain a line break"),
    ({"NGCC112_DATABASE_URL": "mysql://x"}, "database_url must be a SQLAlchemy URL"),
    ({"NGCC112_LOG_FORMAT": "xml"}, "log_format must be"),
])
def test_bad_values_are_refused_naming_the_setting(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_bad_files_are_refused_clearly(tmp_path):
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[ami\nport=1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken, environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[ami]\nhots = 'typo'\n")
    with pytest.raises(SettingsError, match=r"unknown setting \[ami\] 'hots'"):
        load_settings(unknown, environ={})


def test_timezone_defaults_to_western_indonesia_and_must_exist():
    assert load_settings(environ={}).timezone == "Asia/Jakarta"
    assert load_settings(environ={"NGCC112_TIMEZONE": "Asia/Makassar"}).timezone == "Asia/Makassar"
    with pytest.raises(SettingsError, match="unknown time zone 'Mars/Base'"):
        load_settings(environ={"NGCC112_TIMEZONE": "Mars/Base"})


def test_cookie_secure_is_a_boolean():
    assert load_settings(environ={}).panel.cookie_secure is False
    assert load_settings(environ={"NGCC112_PANEL_COOKIE_SECURE": "true"}).panel.cookie_secure is True
    with pytest.raises(SettingsError, match="cookie_secure: 'maybe' is not valid"):
        load_settings(environ={"NGCC112_PANEL_COOKIE_SECURE": "maybe"})


def test_the_aml_matching_window_is_configurable(tmp_path):
    path = tmp_path / "ngcc112.toml"
    path.write_text("[location]\naml_window_before_seconds = 60\naml_window_after_seconds = 1800\n")
    s = load_settings(path, environ={})
    assert (s.location.aml_window_before_seconds, s.location.aml_window_after_seconds) == (60.0, 1800.0)
    assert load_settings(environ={}).location.aml_window_after_seconds == 600.0


def test_the_security_settings_come_from_the_environment_and_are_checked():
    s = load_settings(environ={"NGCC112_AML_SENDERS": "sms-gateway:0123456789abcdef,els:fedcba9876543210",
                               "NGCC112_AML_ALLOW": "10.20.0.0/24",
                               "NGCC112_METRICS_ALLOW": "10.9.0.5,::1/128",
                               "NGCC112_METRICS_TOKEN": "a-long-metrics-token-0123456789",
                               "NGCC112_TRUSTED_PROXIES": "10.0.0.1"})
    assert s.aml.senders == ("sms-gateway:0123456789abcdef", "els:fedcba9876543210")
    assert s.aml.allow_networks == ("10.20.0.0/24",)
    assert s.panel.metrics_allow == ("10.9.0.5", "::1/128") and s.panel.trusted_proxies == ("10.0.0.1",)
    assert "0123456789abcdef" not in repr(s) and "metrics-token" not in repr(s)
    assert load_settings(environ={}).panel.metrics_allow == ("127.0.0.1/32", "::1/128")


@pytest.mark.parametrize("environ, message", [
    ({"NGCC112_AML_SENDERS": "gateway"}, "each entry is name:secret"),
    ({"NGCC112_AML_SENDERS": "gateway:short"}, "at least 16 characters"),
    ({"NGCC112_AML_SENDERS": "gw:0123456789abcdef,gw:fedcba9876543210"}, "listed twice"),
    ({"NGCC112_AML_ALLOW": "10.0.0.0/33"}, r"\[aml\] allow_networks: '10.0.0.0/33' is not"),
    ({"NGCC112_METRICS_ALLOW": "localhost"}, r"\[panel\] metrics_allow: 'localhost' is not"),
    ({"NGCC112_TRUSTED_PROXIES": "proxy"}, r"\[panel\] trusted_proxies"),
    ({"NGCC112_METRICS_TOKEN": "short"}, "metrics_token must be at least 16"),
])
def test_bad_security_settings_are_refused_at_start(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


@pytest.mark.parametrize("key", ["rate_per_minute", "bytes_per_hour"])
def test_the_aml_budgets_must_allow_something(tmp_path, key):
    path = tmp_path / "ngcc112.toml"
    path.write_text(f"[aml]\n{key} = 0\n")
    with pytest.raises(SettingsError, match=rf"\[aml\] {key} must be at least 1"):
        load_settings(path, environ={})


def test_the_agency_targets_come_from_the_file_or_the_environment_and_are_checked(tmp_path):
    from ngcc112.tickets.sla import SlaTargets

    defaults = SlaTargets.from_mapping(load_settings(environ={}).sla)
    assert (defaults.acknowledge, defaults.arrival) == (120.0, 900.0)
    config = tmp_path / "ngcc112.toml"
    config.write_text("[sla]\nacknowledge = 60\narrival = 600\n", encoding="utf-8")
    settings = load_settings(config, environ={"NGCC112_SLA_ARRIVAL": "1200"})
    targets = SlaTargets.from_mapping(settings.sla)
    assert (targets.acknowledge, targets.arrival) == (60.0, 1200.0)
    with pytest.raises(SettingsError, match="acknowledge must be"):
        load_settings(environ={"NGCC112_SLA_ACKNOWLEDGE": "soon"})
    with pytest.raises(SettingsError, match="arrival must be a positive"):
        load_settings(environ={"NGCC112_SLA_ARRIVAL": "-5"})


def test_the_example_file_loads_with_its_agency_targets():
    from pathlib import Path

    from ngcc112.tickets.sla import SlaTargets

    example = Path(__file__).resolve().parents[1] / "docs" / "ngcc112.example.toml"
    targets = SlaTargets.from_mapping(load_settings(example, environ={}).sla)
    assert (targets.acknowledge, targets.arrival) == (120.0, 900.0)


def test_wrapup_seconds_defaults_to_a_minute_and_is_bounded(tmp_path):
    assert load_settings(environ={}).calls.wrapup_seconds == 60
    config = tmp_path / "c.toml"
    config.write_text("[calls]\nwrapup_seconds = 90\n")
    assert load_settings(config, environ={}).calls.wrapup_seconds == 90
    assert load_settings(config, environ={"NGCC112_WRAPUP_SECONDS": "45"}).calls.wrapup_seconds == 45
    for bad in ("0", "-5", "4", "601", "nan", "soon"):
        with pytest.raises(SettingsError, match="wrapup_seconds"):
            load_settings(environ={"NGCC112_WRAPUP_SECONDS": bad})
