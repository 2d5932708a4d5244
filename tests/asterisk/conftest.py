"""Readers for the shipped Asterisk configuration, shared by tests/asterisk.

Small and strict on purpose: they understand the subset of Asterisk's config
syntax the shipped files use (sections, templates, ``key = value``,
``exten =>`` / ``same =>`` / ``include =>``) and fail loudly on anything else,
so a change of style in asterisk-config/ shows up here instead of being
silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "asterisk-config"
DOCS_DIR = ROOT / "docs"


def strip_comment(line: str) -> str:
    """Drop a ``;`` comment (``\\;`` is a literal semicolon)."""
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            out.append(line[i : i + 2])
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


@dataclass
class Section:
    name: str
    templates: tuple[str, ...]
    is_template: bool
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]

    def one(self, key: str) -> str:
        values = self.get(key)
        assert len(values) == 1, f"[{self.name}] {key}: expected one value, got {values}"
        return values[0]


_SECTION = re.compile(r"^\[([^\]]+)\]\s*(?:\(([^)]*)\))?$")


def read_sections(path: Path) -> list[Section]:
    """A plain Asterisk config file: sections in order (names may repeat)."""
    sections: list[Section] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        match = _SECTION.match(line)
        if match:
            options = [o.strip() for o in (match.group(2) or "").split(",") if o.strip()]
            sections.append(
                Section(
                    name=match.group(1).strip(),
                    templates=tuple(o for o in options if o != "!"),
                    is_template="!" in options,
                )
            )
            continue
        key, sep, value = line.partition("=")
        if not sep or not sections:
            raise AssertionError(f"{path.name}:{number}: cannot read {raw!r}")
        value = value.lstrip(">").strip()
        sections[-1].items.append((key.strip(), value))
    return sections


@dataclass(frozen=True)
class Step:
    """One dialplan priority."""

    context: str
    exten: str
    priority: int
    label: str
    app: str
    args: str
    line: int

    def arg(self, index: int) -> str:
        parts = split_args(self.args)
        return parts[index] if index < len(parts) else ""


def split_args(args: str) -> list[str]:
    """Split application arguments on top-level commas (not inside () or ${})."""
    parts, depth, current = [], 0, []
    for char in args:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class Found:
    context: str
    exten: str  # the extension as written: a number, "s" or a pattern
    steps: list[Step]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (``_`` prefix) as a regular expression."""
    out = []
    chars = iter(pattern[1:])
    for char in chars:
        if char == "X":
            out.append("[0-9]")
        elif char == "Z":
            out.append("[1-9]")
        elif char == "N":
            out.append("[2-9]")
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        elif char == "[":
            body = []
            for inner in chars:
                if inner == "]":
                    break
                body.append(inner)
            cls = "".join(body)
            out.append("[" + re.sub(r"([\\\]^])", r"\\\1", cls) + "]")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out))


@dataclass
class Dialplan:
    globals: dict[str, str]
    includes: dict[str, list[str]]
    steps: dict[str, dict[str, list[Step]]]  # context -> exten -> priorities in order

    def extensions(self, context: str) -> dict[str, list[Step]]:
        return self.steps.get(context, {})

    def find(self, context: str, dialled: str) -> Found | None:
        """The extension a call to ``dialled`` runs in ``context``, as Asterisk picks it:
        an exact extension first, then a pattern (``_X.``, ``_[0-9+]`` ...), then the
        context's includes. ``dialled`` may also be an extension's own name (a pattern)."""
        extensions = self.steps.get(context, {})
        if dialled in extensions:
            return Found(context, dialled, extensions[dialled])
        matching = [e for e in extensions if e.startswith("_") and pattern_regex(e).fullmatch(dialled)]
        assert len(matching) <= 1, f"{dialled} matches several patterns in [{context}]: {matching}"
        if matching:
            return Found(context, matching[0], extensions[matching[0]])
        for included in self.includes.get(context, []):
            found = self.find(included, dialled)
            if found:
                return found
        return None

    def all_steps(self) -> list[Step]:
        return [s for exts in self.steps.values() for steps in exts.values() for s in steps]


_EXTEN = re.compile(r"^(exten|same)\s*=>\s*(.*)$")
_PRIORITY = re.compile(r"^(\d+|n)(?:\(([^)]+)\))?$")
_APP = re.compile(r"^([A-Za-z]+)(?:\((.*)\))?$")


def read_dialplan_file(path: Path) -> Dialplan:
    dialplan = Dialplan(globals={}, includes={}, steps={})
    context = ""
    exten = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        if line.startswith("["):
            context = line.strip("[]")
            dialplan.steps.setdefault(context, {})
            continue
        if context in ("general", "globals"):
            key, _, value = line.partition("=")
            if context == "globals":
                dialplan.globals[key.strip()] = value.strip()
            continue
        if line.startswith("include"):
            dialplan.includes.setdefault(context, []).append(line.partition("=>")[2].strip())
            continue
        match = _EXTEN.match(line)
        assert match, f"{path.name}:{number}: cannot read {raw!r}"
        kind, rest = match.groups()
        if kind == "exten":
            exten, _, rest = rest.partition(",")
            exten = exten.strip()
        prio_text, _, app_text = rest.partition(",")
        prio = _PRIORITY.match(prio_text.strip())
        assert prio, f"{path.name}:{number}: bad priority {prio_text!r}"
        app = _APP.match(app_text.strip())
        assert app, f"{path.name}:{number}: bad application {app_text!r}"
        steps = dialplan.steps[context].setdefault(exten, [])
        if prio.group(1) == "n":
            assert steps, f"{path.name}:{number}: priority n without a priority 1"
            priority = steps[-1].priority + 1
        else:
            priority = int(prio.group(1))
        steps.append(
            Step(context, exten, priority, prio.group(2) or "", app.group(1), app.group(2) or "", number)
        )
    return dialplan


@pytest.fixture(scope="session")
def config_dir() -> Path:
    return CONFIG_DIR


@pytest.fixture(scope="session")
def docs_dir() -> Path:
    return DOCS_DIR


@pytest.fixture(scope="session")
def read_dialplan():
    """The dialplan reader itself, for tests that build a modified copy."""
    return read_dialplan_file


@pytest.fixture(scope="session")
def dialplan() -> Dialplan:
    return read_dialplan_file(CONFIG_DIR / "extensions.conf")


@pytest.fixture(scope="session")
def queues_conf() -> list[Section]:
    return read_sections(CONFIG_DIR / "queues.conf")


@pytest.fixture(scope="session")
def pjsip_conf() -> list[Section]:
    return read_sections(CONFIG_DIR / "pjsip.conf")


@pytest.fixture(scope="session")
def manager_conf() -> list[Section]:
    return read_sections(CONFIG_DIR / "manager.conf")
