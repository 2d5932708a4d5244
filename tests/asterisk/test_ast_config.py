"""The shipped files are what the docs say they are."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import tomllib
import wave

import pytest

from ngcc112 import names
from ngcc112.ami import needed_events
from ngcc112.ami.message import AmiMessage
from ngcc112.ami.tracker import CallTracker
from ngcc112.settings import ENVIRONMENT, Settings, load_settings


def _sections(sections, name):
    return [s for s in sections if s.name == name]


def test_silent_prompt_is_8khz_mono_16bit_wav(config_dir):
    path = config_dir / "sounds" / "id" / "ngcc112-silent-prompt.wav"
    with wave.open(str(path), "rb") as wav:
        assert wav.getframerate() == 8000
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        seconds = wav.getnframes() / wav.getframerate()
    # short enough that prompt + 3 s wait stays well inside the intake time target
    assert 1.0 < seconds < 6.0


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_prompt_script_rebuilds_the_same_format(config_dir, tmp_path):
    script = tmp_path / "sounds" / "make-sounds.sh"
    (tmp_path / "sounds" / "id").mkdir(parents=True)
    shutil.copy(config_dir / "sounds" / "make-sounds.sh", script)
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=60)
    with wave.open(str(tmp_path / "sounds" / "id" / "ngcc112-silent-prompt.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)


def test_operator_queue_settings(queues_conf):
    (common,) = _sections(queues_conf, "ngcc112-common")
    (operators,) = _sections(queues_conf, names.OPERATOR_QUEUE)
    (supervisors,) = _sections(queues_conf, names.SUPERVISOR_QUEUE)
    assert common.is_template
    assert operators.templates == supervisors.templates == ("ngcc112-common",)
    assert operators.one("strategy") == "rrmemory"
    assert common.one("timeout") == "15"  # member ring timeout
    assert common.one("announce-holdtime") in ("yes", "once")
    assert int(common.one("announce-frequency")) > 0
    assert common.one("periodic-announce")
    assert int(common.one("periodic-announce-frequency")) > 0
    # callers are never turned away or pushed out by the queue itself
    assert common.one("joinempty") == "yes"
    assert common.one("leavewhenempty") == "no"
    assert common.one("maxlen") == "0"
    assert not operators.get("member"), "operators join dynamically (QueueAdd)"


def test_pjsip_transports_and_geolocation(pjsip_conf):
    transports = {s.one("protocol") for s in pjsip_conf if s.get("type") == ["transport"]}
    assert transports == {"udp", "tcp"}
    (trunk,) = _sections(pjsip_conf, "carrier-trunk")
    assert trunk.is_template and trunk.one("geoloc_incoming_call_profile") == "ngcc-geo-in"
    assert trunk.one("context") == names.INCOMING_CONTEXT
    identify = [s for s in pjsip_conf if s.name == "carrier" and s.get("type") == ["identify"]]
    assert identify and identify[0].get("match")
    registration = [s for s in pjsip_conf if s.get("type") == ["registration"]]
    assert registration and registration[0].one("endpoint") == "carrier-reg"
    for op in names.SAMPLE_OPERATORS:
        assert [s for s in pjsip_conf if s.name == op and s.templates == ("operator",)]


def test_geolocation_profile(config_dir):
    parser = configparser.ConfigParser(comment_prefixes=(";",), inline_comment_prefixes=(";",))
    parser.read(config_dir / "geolocation.conf", encoding="utf-8")
    assert parser["ngcc-geo-in"]["type"] == "profile"
    assert parser["ngcc-geo-in"]["profile_precedence"] == "prefer_incoming"


def test_manager_user_is_locked_to_the_daemon_host(manager_conf):
    (user,) = _sections(manager_conf, names.AMI_USERNAME)
    assert user.get("deny") == ["0.0.0.0/0.0.0.0"]
    assert user.get("permit")
    read = {c.strip() for c in user.one("read").split(",")}
    assert read == {"call", "agent", "dialplan", "dtmf", "system"}
    (general,) = _sections(manager_conf, "general")
    assert general.one("webenabled") == "no"


def test_manager_user_gets_only_the_events_the_daemon_needs(manager_conf):
    (user,) = _sections(manager_conf, names.AMI_USERNAME)
    lines = [f"{key} = {value}".rstrip() for key, value in user.items if key.startswith("eventfilter")]
    assert lines == needed_events.manager_conf_lines()
    # include filters only: an exclude line would let every unlisted event through again
    assert all("action(include)" in line for line in lines)


def test_every_event_the_daemon_handles_is_let_through():
    tracker = CallTracker(context=names.INCOMING_CONTEXT, extensions=["112"], queues=[names.OPERATOR_QUEUE])
    link = {"FullyBooted", "Shutdown"}  # ami/link.py: resync after a restart, the reason of a drop
    callbacks = {"OriginateResponse"}  # tickets/callbacks.py
    assert set(tracker._handlers) | link | callbacks == needed_events.needed_names()


@pytest.mark.parametrize(
    ("event", "headers", "passes"),
    [
        ("VarSet", {"Variable": "NGCC_GEO_LOCATION"}, True),
        ("VarSet", {"Variable": "__NGCC_CALL"}, True),
        ("VarSet", {"Variable": "QUEUESTATUS"}, True),
        ("VarSet", {"Variable": "QUEUESTATUSX"}, False),
        ("VarSet", {"Variable": "QUEUEWAIT"}, False),
        ("VarSet", {"Variable": "RTPAUDIOQOS"}, False),
        ("VarSet", {"Variable": "MY_NGCC_X"}, False),
        ("Newexten", {"Priority": "1", "Context": "from-pstn"}, True),
        ("Newexten", {"Priority": "12", "Context": "from-pstn"}, False),
        ("Newstate", {}, False),
        ("BridgeEnter", {}, False),
        ("Hangup", {}, True),
    ],
)
def test_what_the_filter_lets_through(event, headers, passes):
    message = AmiMessage.from_pairs([("Event", event), *headers.items()])
    assert message is not None
    assert needed_events.needed(message) is passes


def test_modules_required(config_dir):
    text = (config_dir / "modules.conf").read_text(encoding="utf-8")
    required = {line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("require")}
    assert {"app_queue.so", "res_pjsip.so", "chan_pjsip.so", "func_talkdetect.so"} <= required
    loaded = {line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("load")}
    assert {"res_geolocation.so", "res_pjsip_geolocation.so"} <= loaded


def test_example_toml_matches_settings_exactly(docs_dir):
    path = docs_dir / "ngcc112.example.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    top = set(Settings.model_fields)
    assert set(raw) == top
    defaults = Settings()
    for section in ("ami", "calls", "panel"):
        fields = set(type(getattr(defaults, section)).model_fields)
        assert set(raw[section]) == fields, section
    settings = load_settings(path, environ={})
    assert settings.calls.queue == names.OPERATOR_QUEUE
    assert settings.calls.supervisor_queue == names.SUPERVISOR_QUEUE
    assert settings.calls.context == names.INCOMING_CONTEXT
    assert settings.calls.extensions == tuple(names.EMERGENCY_NUMBERS)
    assert settings.ami.username == names.AMI_USERNAME
    assert settings.ami.port == names.AMI_PORT
    # the routing table is one the scoring policy accepts (the settings built the policy from it)
    from ngcc112.routing.policy import Policy

    assert isinstance(settings.routing, Policy)


def test_operations_doc_lists_every_environment_variable(docs_dir):
    text = (docs_dir / "operations.md").read_text(encoding="utf-8")
    for var in [*ENVIRONMENT, "NGCC112_PANEL_LISTEN"]:
        assert var in text, var


def test_systemd_unit(docs_dir):
    text = (docs_dir / "ngcc112.service").read_text(encoding="utf-8")
    unit = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    unit.optionxform = str  # keys are case-sensitive
    unit.read_string(text)
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert float(service["RestartSec"]) > 0
    assert service["ExecStart"].endswith(" run") and "--config" in service["ExecStart"]
    assert service["ExecStartPre"].endswith(" db upgrade")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == value, key
    assert service["User"] != "root"
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_unit_verifies(docs_dir):
    result = subprocess.run(
        ["systemd-analyze", "verify", str(docs_dir / "ngcc112.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # the binary is not installed on the test host; every other complaint is a real one
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert not problems, problems
