"""The shipped Asterisk configuration and the docs use exactly the names in names.py."""

from __future__ import annotations

import re

from ngcc112 import names

#: NGCC_* variables the dialplan keeps to itself: the daemon does not read them.
DIALPLAN_ONLY_VARS = {
    "NGCC_PROMPT",  # the prompt file actually played
    "NGCC_QUEUE_RESULT",  # QUEUESTATUS of the last queue round
}

#: Every NGCC_* variable names.py defines (the daemon's side of the contract).
NAMES_VARS = {
    value for key, value in vars(names).items() if key.startswith("VAR_") and key != "VAR_GEO_PREFIX"
}


def _set_variables(dialplan) -> dict[str, list]:
    """Variable name -> the steps that set it (Set, ExecIf(...?Set(...)), Read)."""
    found: dict[str, list] = {}
    for step in dialplan.all_steps():
        targets = []
        if step.app == "Set":
            targets.append(step.args.partition("=")[0])
        elif step.app == "Read":
            targets.append(step.arg(0))
        elif step.app == "ExecIf":
            inner = step.args.partition("?")[2]
            if inner.startswith("Set("):
                targets.append(inner[4:].partition("=")[0])
        for target in targets:
            found.setdefault(target.lstrip("_"), []).append(step)
    return found


def test_queue_names_match(dialplan, queues_conf):
    queues = [s.arg(0) for s in dialplan.all_steps() if s.app == "Queue"]
    assert set(queues) == {names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE}
    real = {s.name for s in queues_conf if not s.is_template and s.name != "general"}
    assert real == {names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE}


def test_contexts_and_emergency_numbers(dialplan):
    assert names.INCOMING_CONTEXT in dialplan.steps
    assert names.OPERATOR_CONTEXT in dialplan.steps
    # the one place: [globals] NGCC_CATEGORY_<number> holds exactly names.EMERGENCY_NUMBERS
    prefix = f"{names.VAR_CATEGORY}_"
    categories = {k[len(prefix):]: v for k, v in dialplan.globals.items() if k.startswith(prefix)}
    assert categories == names.EMERGENCY_NUMBERS
    for number in names.EMERGENCY_NUMBERS:
        found = dialplan.find(names.INCOMING_CONTEXT, number)
        assert found, f"{number} is not answered in [{names.INCOMING_CONTEXT}]"
        assert found.context == names.INCOMING_CONTEXT, "the flow must run in the entry context"
        sets = [s.args for s in found.steps if s.app == "Set"]
        assert f"{names.VAR_CATEGORY}=${{{prefix}${{EXTEN}}}}" in sets


def _endpoint_option(sections, name: str, key: str) -> str | None:
    """An option of PJSIP endpoint ``name``, looked up through its templates."""
    by_name: dict[str, list] = {}
    for section in sections:
        by_name.setdefault(section.name, []).append(section)

    def lookup(section) -> tuple[str | None, str | None]:  # (type, value)
        kind = section.get("type")[0] if section.get("type") else None
        value = section.get(key)[0] if section.get(key) else None
        for template in section.templates:
            for parent in by_name[template]:
                parent_kind, parent_value = lookup(parent)
                kind, value = kind or parent_kind, value or parent_value
        return kind, value

    for section in by_name.get(name, []):
        kind, value = lookup(section)
        if kind == "endpoint":
            return value
    raise AssertionError(f"no PJSIP endpoint {name}")


def test_pjsip_contexts(pjsip_conf):
    for operator in names.SAMPLE_OPERATORS:
        assert _endpoint_option(pjsip_conf, operator, "context") == names.OPERATOR_CONTEXT
    for trunk in ("carrier", "carrier-reg"):
        assert _endpoint_option(pjsip_conf, trunk, "context") == names.INCOMING_CONTEXT
        assert _endpoint_option(pjsip_conf, trunk, "geoloc_incoming_call_profile") == "ngcc-geo-in"


def test_supervisor_queue_members_are_operator_interfaces(queues_conf):
    (supervisors,) = [s for s in queues_conf if s.name == names.SUPERVISOR_QUEUE]
    interfaces = [m.split(",")[0] for m in supervisors.get("member")]
    assert interfaces == [names.operator_interface(op) for op in names.SAMPLE_OPERATORS]


def test_every_daemon_variable_is_set(dialplan):
    found = _set_variables(dialplan)
    for var in NAMES_VARS:
        assert var in found, f"the dialplan never sets {var}"
    # the call mark is inherited by every leg
    assert any(s.args.startswith(f"__{names.VAR_CALL_MARK}=") for s in found[names.VAR_CALL_MARK])


def test_no_unknown_ngcc_variables(dialplan):
    found = set(_set_variables(dialplan))
    ngcc = {v for v in found if v.startswith("NGCC_")}
    unknown = {
        v
        for v in ngcc - NAMES_VARS - DIALPLAN_ONLY_VARS
        if not v.startswith(names.VAR_GEO_PREFIX)
    }
    assert not unknown, f"NGCC_ variables not in names.py: {sorted(unknown)}"


def test_silent_prompt_read(dialplan, config_dir):
    (read,) = [s for s in dialplan.all_steps() if s.app == "Read"]
    args = [a.strip() for a in read.args.split(",")]
    assert args[0] == names.VAR_SILENT_DIGIT
    assert args[2:] == ["1", "", "1", str(names.SILENT_PROMPT_SECONDS)]
    script = (config_dir / "sounds" / "make-sounds.sh").read_text(encoding="utf-8")
    assert f"tekan {names.SILENT_DIGIT}" in script


def test_ami_user_and_port(manager_conf):
    sections = {s.name: s for s in manager_conf}
    assert names.AMI_USERNAME in sections
    assert sections["general"].one("port") == str(names.AMI_PORT)
    assert set(sections) == {"general", names.AMI_USERNAME}


def test_docs_use_the_same_names(dialplan, docs_dir):
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(docs_dir.glob("*.md")))
    must = [
        names.OPERATOR_QUEUE,
        names.SUPERVISOR_QUEUE,
        names.INCOMING_CONTEXT,
        names.OPERATOR_CONTEXT,
        names.AMI_USERNAME,
        *sorted(NAMES_VARS),
        *names.SAMPLE_OPERATORS,
        *names.EMERGENCY_NUMBERS,
    ]
    for name in must:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"docs never mention {name}"
    # and mention no NGCC_* variable or ngcc112-* queue/context that does not exist
    known_vars = set(_set_variables(dialplan)) | set(dialplan.globals)
    for var in set(re.findall(r"\bNGCC_[A-Z_]*[A-Z]\b", text)):
        assert var in known_vars or var.startswith(names.VAR_GEO_PREFIX), f"docs name unknown {var}"
    known_dashed = set(dialplan.steps) | {names.OPERATOR_QUEUE, names.SUPERVISOR_QUEUE}
    known_dashed |= {"ngcc112-silent-prompt", "ngcc112-common"}
    # the CEL file(s) cel_custom.conf makes Asterisk write (ngcc112-cel.csv)
    cel_custom = (docs_dir.parent / "asterisk-config" / "cel_custom.conf").read_text(encoding="utf-8")
    known_dashed |= set(re.findall(r"^(ngcc112-[a-z-]+)\.csv\s*=>", cel_custom, re.MULTILINE))
    for word in set(re.findall(r"\bngcc112-[a-z]+(?:-[a-z]+)*", text)):
        assert word in known_dashed, f"docs name unknown {word}"
