"""Settings: defaults, TOML, environment (``NGCC112_<SECTION>__<KEY>`` and the older names), clear refusals."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

from ngcc112 import names
from ngcc112.logs import configure
from ngcc112.routing.policy import Policy
from ngcc112.settings import ENVIRONMENT, AmiSettings, Settings, SettingsError, load_settings
from ngcc112.tickets.sla import SlaTargets

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "ngcc112.example.toml"
SENDER_SECRET = "0123456789abcdef"


def test_defaults_match_the_shipped_asterisk_names():
    s = load_settings(environ={})
    assert s.calls.queue == names.OPERATOR_QUEUE
    assert (s.ami.port, s.ami.username) == (5038, names.AMI_USERNAME)
    assert (s.panel.host, s.panel.port) == ("127.0.0.1", 8112)
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s == Settings()


def test_building_settings_directly_reads_neither_the_environment_nor_a_file(monkeypatch):
    monkeypatch.setenv("NGCC112_AMI__PORT", "6000")
    monkeypatch.setenv("NGCC112_QUEUE", "other-queue")
    assert (Settings().ami.port, Settings().calls.queue) == (5038, names.OPERATOR_QUEUE)
    assert load_settings().ami.port == 6000  # os.environ is load_settings' default


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "ngcc112.toml"
    path.write_text('database_url = "postgresql+asyncpg://db/ngcc"\n[ami]\nhost = "10.0.0.5"\nport = 5039\n')
    s = load_settings(
        path,
        environ={"NGCC112_AMI_PORT": "6000", "NGCC112_QUEUE": "other-queue", "NGCC112_PANEL_LISTEN": "0.0.0.0:9000"},
    )
    assert (s.ami.host, s.ami.port, s.calls.queue) == ("10.0.0.5", 6000, "other-queue")
    assert (s.panel.host, s.panel.port) == ("0.0.0.0", 9000)
    assert s.database_url == "postgresql+asyncpg://db/ngcc"


@pytest.mark.parametrize(
    ("variable", "value", "read", "expected"),
    [
        ("NGCC112_AMI__HOST", "10.1.1.1", lambda s: s.ami.host, "10.1.1.1"),
        ("NGCC112_AMI__PING_INTERVAL", "2.5", lambda s: s.ami.ping_interval, 2.5),
        ("NGCC112_CALLS__SUPERVISOR_QUEUE", "sv", lambda s: s.calls.supervisor_queue, "sv"),
        ("NGCC112_CALLS__EXTENSIONS", "112, 110", lambda s: s.calls.extensions, ("112", "110")),
        ("NGCC112_PANEL__PORT", "9001", lambda s: s.panel.port, 9001),
        ("NGCC112_PANEL__LANGUAGE", "en", lambda s: s.panel.language, "en"),
        ("NGCC112_LOCATION__AML_WINDOW_AFTER_SECONDS", "120", lambda s: s.location.aml_window_after_seconds, 120.0),
        ("NGCC112_AML__RATE_PER_MINUTE", "30", lambda s: s.aml.rate_per_minute, 30),
        ("NGCC112_BACKFILL__LOOKBACK_HOURS", "24", lambda s: s.backfill.lookback_hours, 24.0),
        ("NGCC112_SLA__CLOSING", "45", lambda s: s.sla.closing, 45.0),
        ("NGCC112_ROUTING__NO_SPEECH_SECONDS", "8", lambda s: s.routing.no_speech_seconds, 8.0),
        ("NGCC112_ROUTING__BURST_COUNT", "4", lambda s: s.routing.burst_count, 4),
        ("ngcc112_log_level", "debug", lambda s: s.log_level, "debug"),
    ],
)
def test_every_setting_is_settable_as_section_double_underscore_key(variable, value, read, expected):
    assert read(load_settings(environ={variable: value})) == expected != read(Settings())


def test_a_whole_table_may_come_as_json_and_bad_json_is_refused():
    assert load_settings(environ={"NGCC112_AMI": '{"port": 6000}'}).ami.port == 6000
    with pytest.raises(SettingsError, match='field "ami".*is JSON'):
        load_settings(environ={"NGCC112_AMI": "{bad"})


def test_the_new_spelling_wins_over_the_older_name():
    s = load_settings(environ={"NGCC112_QUEUE": "old", "NGCC112_CALLS__QUEUE": "new"})
    assert s.calls.queue == "new"


@pytest.mark.parametrize(("legacy", "section", "key"), [(v, *k) for v, k in ENVIRONMENT.items()])
def test_every_documented_older_name_is_still_honoured(legacy, section, key):
    values = {
        "NGCC112_AMI_PORT": "6001",
        "NGCC112_WRAPUP_SECONDS": "45",
        "NGCC112_PANEL_COOKIE_SECURE": "yes",
        "NGCC112_METRICS_ALLOW": "10.0.0.0/8",
        "NGCC112_TRUSTED_PROXIES": "10.0.0.1",
        "NGCC112_AML_ALLOW": "10.20.0.0/24",
        "NGCC112_AML_SENDERS": f"gw:{SENDER_SECRET}",
        "NGCC112_METRICS_TOKEN": "a-long-metrics-token-0123456789",
        "NGCC112_BACKFILL_SOURCE": "off",
        "NGCC112_SLA_ACKNOWLEDGE": "60",
        "NGCC112_SLA_ARRIVAL": "600",
        "NGCC112_CLUSTER": "on",
        "NGCC112_SITE": "north",
    }
    value = values.get(legacy, "changed")
    environ = {legacy: value}
    if section == "cluster":  # cluster mode runs on PostgreSQL only
        environ["NGCC112_DATABASE_URL"] = "postgresql+asyncpg://postgres@127.0.0.1/ngcc112"
    read = getattr(getattr(load_settings(environ=environ), section), key)
    assert read != getattr(getattr(Settings(), section), key)


def test_secrets_never_show_in_repr_str_or_a_log_line():
    s = load_settings(
        environ={
            "NGCC112_AMI_SECRET": "top-secret-ami",
            "NGCC112_PANEL_COOKIE_SECRET": "top-secret-cookie",
            "NGCC112_METRICS_TOKEN": "top-secret-metrics-token",
            "NGCC112_AML_SENDERS": f"gw:{SENDER_SECRET}",
            "NGCC112_DATABASE_URL": "postgresql+asyncpg://ngcc:top-secret-db@db/ngcc",
        }
    )
    assert s.ami.secret.get_secret_value() == "top-secret-ami"
    assert s.panel.cookie_secret.get_secret_value() == "top-secret-cookie"
    assert s.aml.senders == (SecretStr(f"gw:{SENDER_SECRET}"),)
    saved, handlers, level = structlog.get_config(), logging.root.handlers[:], logging.root.level
    stream = io.StringIO()
    try:
        configure("json", "debug", stream=stream)
        structlog.get_logger("t").info("settings.loaded", config=s, ami=s.ami, panel=s.panel)
    finally:
        structlog.configure(**saved)
        logging.root.handlers[:], logging.root.level = handlers, level
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    for shown in (repr(s), str(s), repr(s.ami), str(s.panel), repr(s.aml), json.dumps(line)):
        assert "top-secret" not in shown and SENDER_SECRET not in shown, shown


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NGCC112_AMI_PORT": "70000"}, r"^\[ami\] port: '70000' is not valid \(.*65536; from NGCC112_AMI_PORT\)$"),
        ({"NGCC112_AMI__PORT": "x"}, r"^\[ami\] port: 'x' is not valid \(.*integer.*; from NGCC112_AMI__PORT\)$"),
        ({"NGCC112_PANEL_LISTEN": "8112"}, "NGCC112_PANEL_LISTEN must be host:port"),
        ({"NGCC112_QUEUE": "a\r\nAction: Hangup"}, r"\[calls\] queue: .* is not valid \(must not contain a line break"),
        ({"NGCC112_DATABASE_URL": "mysql://x"}, "database_url: must be a SQLAlchemy URL"),
        ({"NGCC112_LOG_FORMAT": "xml"}, r"log_format: 'xml' is not valid \(Input should be 'json' or 'console'"),
        ({"NGCC112_AMI__HOTS": "x"}, r"^unknown setting \[ami\] 'hots' \(from NGCC112_AMI__HOTS\)$"),
        ({"NGCC112_AMI__RECONNECT_MIN": "0"}, r"\[ami\] reconnect_min: '0' is not valid \(Input should be greater"),
        ({"NGCC112_ROUTING__GHOST_THRESHOLD": "2"}, r"^\[routing\] routing.ghost_threshold must be between 0 and 1"),
        ({"NGCC112_ROUTING__NO_SPEECH_SECONDS": "ten"}, r"routing.no_speech_seconds must be a number, got 'ten'"),
    ],
)
def test_bad_values_are_refused_naming_the_setting_and_where_it_was_set(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_a_refused_secret_is_never_repeated_in_the_message():
    for environ in (
        {"NGCC112_METRICS_TOKEN": "short-token"},
        {"NGCC112_AML_SENDERS": "gw:short-token"},
        {"NGCC112_DATABASE_URL": "mysql://u:short-token@x"},
    ):
        with pytest.raises(SettingsError) as excinfo:
            load_settings(environ=environ)
        assert "short-token" not in str(excinfo.value)


def test_bad_files_are_refused_clearly(tmp_path):
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[ami\nport=1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken, environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[ami]\nhots = 'typo'\n")
    with pytest.raises(SettingsError, match=rf"^unknown setting \[ami\] 'hots' \(in {unknown}\)$"):
        load_settings(unknown, environ={})
    unknown.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match=r"^unknown setting 'colour' \(in "):
        load_settings(unknown, environ={})
    typed = tmp_path / "typed.toml"
    typed.write_text("[calls]\nqueue = 5\n")
    with pytest.raises(
        SettingsError, match=rf"\[calls\] queue: 5 is not valid \(Input should be a valid string; in {typed}"
    ):
        load_settings(typed, environ={})


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
    s = load_settings(
        environ={
            "NGCC112_AML_SENDERS": "sms-gateway:0123456789abcdef,els:fedcba9876543210",
            "NGCC112_AML_ALLOW": "10.20.0.0/24",
            "NGCC112_METRICS_ALLOW": "10.9.0.5,::1/128",
            "NGCC112_METRICS_TOKEN": "a-long-metrics-token-0123456789",
            "NGCC112_TRUSTED_PROXIES": "10.0.0.1",
        }
    )
    assert [entry.get_secret_value() for entry in s.aml.senders] == [
        "sms-gateway:0123456789abcdef",
        "els:fedcba9876543210",
    ]
    assert s.aml.allow_networks == ("10.20.0.0/24",)
    assert s.panel.metrics_allow == ("10.9.0.5", "::1/128") and s.panel.trusted_proxies == ("10.0.0.1",)
    assert "0123456789abcdef" not in repr(s) and "metrics-token" not in repr(s)
    assert load_settings(environ={}).panel.metrics_allow == ("127.0.0.1/32", "::1/128")


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"NGCC112_AML_SENDERS": "gateway"}, "each entry is name:secret"),
        ({"NGCC112_AML_SENDERS": "gateway:short"}, "at least 16 characters"),
        ({"NGCC112_AML_SENDERS": "gw:0123456789abcdef,gw:fedcba9876543210"}, "listed twice"),
        ({"NGCC112_AML_ALLOW": "10.0.0.0/33"}, r"\[aml\] allow_networks: .*'10.0.0.0/33' is not an address"),
        ({"NGCC112_METRICS_ALLOW": "localhost"}, r"\[panel\] metrics_allow: .*'localhost' is not an address"),
        ({"NGCC112_TRUSTED_PROXIES": "proxy"}, r"\[panel\] trusted_proxies"),
        ({"NGCC112_METRICS_TOKEN": "short"}, r"\[panel\] metrics_token: must be at least 16"),
    ],
)
def test_bad_security_settings_are_refused_at_start(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


@pytest.mark.parametrize("key", ["rate_per_minute", "bytes_per_hour"])
def test_the_aml_budgets_must_allow_something(tmp_path, key):
    path = tmp_path / "ngcc112.toml"
    path.write_text(f"[aml]\n{key} = 0\n")
    with pytest.raises(
        SettingsError, match=rf"\[aml\] {key}: 0 is not valid \(Input should be greater than or equal to 1"
    ):
        load_settings(path, environ={})


def test_the_agency_targets_come_from_the_file_or_the_environment_and_are_checked(tmp_path):
    defaults = load_settings(environ={}).sla
    assert isinstance(defaults, SlaTargets) and (defaults.acknowledge, defaults.arrival) == (120.0, 900.0)
    config = tmp_path / "ngcc112.toml"
    config.write_text("[sla]\nacknowledge = 60\narrival = 600\n", encoding="utf-8")
    targets = load_settings(config, environ={"NGCC112_SLA_ARRIVAL": "1200"}).sla
    assert (targets.acknowledge, targets.arrival) == (60.0, 1200.0)
    with pytest.raises(SettingsError, match=r"\[sla\] acknowledge must be"):
        load_settings(environ={"NGCC112_SLA_ACKNOWLEDGE": "soon"})
    with pytest.raises(SettingsError, match=r"\[sla\] arrival must be a positive.*from NGCC112_SLA_ARRIVAL"):
        load_settings(environ={"NGCC112_SLA_ARRIVAL": "-5"})


def test_the_routing_policy_is_built_and_checked_with_the_settings(tmp_path):
    config = tmp_path / "ngcc112.toml"
    config.write_text("[routing]\nno_speech_seconds = 8\nburst_count = 4\n", encoding="utf-8")
    policy = load_settings(config, environ={}).routing
    assert policy == Policy(no_speech_seconds=8.0, burst_count=4)
    config.write_text("[routing]\nno_speech_seconds = '8'\n", encoding="utf-8")  # quoted in a file: a mistake
    with pytest.raises(SettingsError, match=rf"must be a number, got '8' \(in {config}\)"):
        load_settings(config, environ={})
    config.write_text("[routing]\nno_such_knob = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown routing setting"):
        load_settings(config, environ={})


def test_the_example_file_loads_with_its_agency_targets():
    targets = load_settings(EXAMPLE, environ={}).sla
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


def test_settings_are_immutable_and_sections_refuse_unknown_keys():
    with pytest.raises(ValueError, match="frozen"):
        Settings().ami.port = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="hots"):
        AmiSettings(hots="typo")  # type: ignore[call-arg]


POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1/ngcc112"


def test_cluster_mode_is_one_setting_away_on_postgresql():
    s = load_settings(
        environ={
            "NGCC112_DATABASE_URL": POSTGRES_URL,
            "NGCC112_CLUSTER": "on",
            "NGCC112_NODE_NAME": "node-b",
            "NGCC112_SITE": "north",
        }
    )
    assert (s.cluster.enabled, s.cluster.node_name, s.cluster.site) == (True, "node-b", "north")
    single = load_settings(environ={})
    assert (single.cluster.enabled, single.cluster.site) == (False, "main")
    assert single.cluster.node_name  # the host name by default


def test_cluster_mode_refuses_sqlite_with_a_clear_message():
    with pytest.raises(SettingsError, match=r"\[cluster\] enabled needs PostgreSQL"):
        load_settings(environ={"NGCC112_CLUSTER": "on"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NGCC112_CLUSTER": "maybe"}, r"\[cluster\] enabled: 'maybe' is not valid .*from NGCC112_CLUSTER"),
        ({"NGCC112_SITE": "North Site"}, r"\[cluster\] site: 'North Site' is not valid .*from NGCC112_SITE"),
        ({"NGCC112_NODE_NAME": " "}, r"\[cluster\] node_name: ' ' is not valid .*from NGCC112_NODE_NAME"),
    ],
)
def test_bad_cluster_settings_are_refused_naming_them(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)
