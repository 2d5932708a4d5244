"""`make bench`: every benchmark in one run; bench/results.json and bench/RESULTS.md from what they measured.

Each benchmark is its own script (``bench/<name>.py [--quick] [--json PATH]``, results in
bench/stats.py's shape) and runs in its own process, one after the other, so none
measures another's leftovers. This file only runs them and writes the two reports:

* ``bench/results.json``: the figures issue 14 names (null where a benchmark could not
  measure, e.g. no real Asterisk build), the machine, the versions, the date, and every
  benchmark's full result;
* ``bench/RESULTS.md``: the same for a human: the targets and whether this run met them,
  every distribution as p50 / p99 / max, the ratios, each benchmark's notes.

Nothing is asserted: machines are shared and noisy; the figures are read. ``--smoke``
runs every benchmark's seconds-long ``--quick`` form into a temporary folder (CI's
``tests/bench`` does the same per script, so none can rot).

Run: ``make bench`` (``.venv/bin/python bench/run.py [--only surge,memory] [--smoke]
[--with 'surge=--seconds 20']``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Run in this order (the quietest first: the surges leave the page cache warm, not the CPU busy).
BENCHMARKS = ("throughput", "memory", "screen_pop", "surge", "asterisk_surge", "login_flood")


#: The figures results.json always carries (null when not measured), and the target each has.
@dataclass(frozen=True, slots=True)
class Target:
    key: str
    text: str
    bound: float
    at_most: bool = True

    def met(self, value: Any) -> bool | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return None
        return value <= self.bound if self.at_most else value >= self.bound


TARGETS = (
    Target("ticket_open_p99_ms_sqlite", "ticket-open p99 at 100 calls/s, simulator, SQLite", 50),
    Target("ticket_open_p99_ms_postgresql", "ticket-open p99 at 100 calls/s, simulator, PostgreSQL", 50),
    Target("real_asterisk_ticket_open_p99_ms", "ticket-open p99 at 20 calls/s, real Asterisk", 100),
    Target("screen_pop_p99_ms", "screen-pop p99 with 100 operators", 25),
    Target("throughput_ratio_vs_panoramisk", "pipeline throughput ÷ panoramisk alone", 0.5, at_most=False),
    Target("throughput_ratio_vs_cacofonisk", "pipeline throughput ÷ cacofonisk's tracker", 1.0, at_most=False),
    Target("rss_mb_1000_calls", "RSS with 1,000 calls in the queue, MB", 200),
    Target("lost_tickets", "calls without a ticket, every surge", 0),
    Target("duplicated_tickets", "calls with two tickets, every surge", 0),
)
FIGURES = (*(target.key for target in TARGETS), "cpu_ms_per_call")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One benchmark's run: its result (bench/stats.py's JSON) or why there is none."""

    name: str
    result: dict[str, Any] | None
    seconds: float
    error: str = ""
    #: What the benchmark was given beyond ``--json`` (``--with``), for the report.
    args: tuple[str, ...] = ()


def run_one(script: Path, *, quick: bool, folder: Path, timeout: float, extra: tuple[str, ...] = ()) -> Outcome:
    out = folder / f"{script.stem}.json"
    given = (*(["--quick"] if quick else []), *extra)
    command = [sys.executable, str(script), "--json", str(out), *given]
    started = time.monotonic()
    print(f"== {script.stem}: {' '.join(command[1:])}", flush=True)
    try:
        finished = subprocess.run(command, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Outcome(script.stem, None, time.monotonic() - started, f"did not finish within {timeout:.0f} s", given)
    seconds = time.monotonic() - started
    if finished.returncode != 0 or not out.exists():
        return Outcome(script.stem, None, seconds, f"exited with status {finished.returncode}", given)
    return Outcome(script.stem, json.loads(out.read_text(encoding="utf-8")), seconds, args=given)


def collect(outcomes: list[Outcome]) -> dict[str, Any]:
    """The figures of every result in one table; the totals issue 14 asks for, summed over the surges."""
    figures: dict[str, Any] = {}
    for outcome in outcomes:
        if outcome.result is not None:
            figures.update(outcome.result.get("figures", {}))
    lost = [figures.get(key) for key in ("lost_tickets", "real_asterisk_lost_tickets")]
    duplicated = [figures.get(key) for key in ("duplicated_tickets", "real_asterisk_duplicated_tickets")]
    figures["lost_tickets"] = _total(lost)
    figures["duplicated_tickets"] = _total(duplicated)
    if figures.get("cpu_ms_per_call") is None and figures.get("cpu_ms_per_call_sim") is not None:
        figures["cpu_ms_per_call"] = figures["cpu_ms_per_call_sim"]
    for key in FIGURES:
        figures.setdefault(key, None)
    return figures


def _total(values: list[Any]) -> int | None:
    counted = [value for value in values if isinstance(value, int)]
    return sum(counted) if counted else None


def machine() -> dict[str, Any]:
    cpu = ""
    with _quiet_open("/proc/cpuinfo") as lines:
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    memory_kb = 0
    with _quiet_open("/proc/meminfo") as lines:
        memory_kb = next((int(line.split()[1]) for line in lines if line.startswith("MemTotal")), 0)
    return {
        "host": platform.node(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
    }


class _quiet_open:
    """Lines of a /proc file, or none where there is no /proc."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._file: Any = None

    def __enter__(self) -> list[str]:
        try:
            self._file = open(self._path, encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
        except OSError:
            return []
        return list(self._file)

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("ngcc112", "panoramisk", "aiohttp", "sqlalchemy", "aiosqlite", "asyncpg"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    import sqlite3

    found["sqlite"] = sqlite3.sqlite_version
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
    found["commit"] = commit.stdout.strip() if commit.returncode == 0 else "unknown"
    return found


def report(outcomes: list[Outcome], *, quick: bool) -> dict[str, Any]:
    return {
        **collect(outcomes),
        "machine": machine(),
        "versions": versions(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "benchmarks": {
            outcome.name: {
                "seconds": round(outcome.seconds, 1),
                "error": outcome.error or None,
                "args": list(outcome.args),
                **(outcome.result or {}),
            }
            for outcome in outcomes
        },
    }


def markdown(results: dict[str, Any]) -> str:
    """bench/RESULTS.md from results.json's content."""
    host = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {results['date']}{' (quick smoke run)' if results['quick'] else ''} by `make bench`"
        f" on {host['host']}: {host['system']}, {host['cpu'] or 'unknown CPU'}, {host['cores']} cores,"
        f" {host['memory_gb']} GB.",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in results["versions"].items()) + ".",
        "Machines are shared and noisy: read these as this run's figures, not as guarantees.",
        "",
        "## Targets (issue 14)",
        "",
        "| target | bound | this run | met |",
        "| --- | --- | --- | --- |",
    ]
    for target in TARGETS:
        value = results.get(target.key)
        met = target.met(value)
        verdict = "not measured" if met is None else ("yes" if met else "**no**")
        bound = f"{'≤' if target.at_most else '≥'} {target.bound:g}"
        lines.append(f"| {target.text} (`{target.key}`) | {bound} | {_shown(value)} | {verdict} |")
    lines += ["", f"CPU of ngcc112 per call (`cpu_ms_per_call`): {_shown(results.get('cpu_ms_per_call'))} ms.", ""]
    for name, bench in results["benchmarks"].items():
        given = f" (`bench/{name}.py {' '.join(bench['args'])}`)" if bench.get("args") else ""
        lines += [f"## {name}", "", f"{bench['seconds']} s of wall time{given}."]
        if bench.get("error"):
            lines += ["", f"Not measured: {bench['error']}.", ""]
            continue
        distributions = bench.get("distributions", {})
        if distributions:
            lines += ["", "| distribution | n | p50 | p99 | max | mean |", "| --- | --- | --- | --- | --- | --- |"]
            for key, d in distributions.items():
                unit = d.get("unit", "ms")
                lines.append(
                    f"| {key} ({unit}) | {d['count']} | {_shown(d['p50'])} | {_shown(d['p99'])} "
                    f"| {_shown(d['max'])} | {_shown(d['mean'])} |"
                )
        ratios = bench.get("ratios", {})
        if ratios:
            lines += ["", "| ratio (same run) | value |", "| --- | --- |"]
            lines += [f"| {key} | {_shown(value)} |" for key, value in ratios.items()]
        figures = bench.get("figures", {})
        if figures:
            lines += ["", "Figures: " + ", ".join(f"`{key}` = {_shown(value)}" for key, value in figures.items()) + "."]
        if bench.get("config"):
            lines += ["", "Run with: " + ", ".join(f"{key} {value}" for key, value in bench["config"].items()) + "."]
        if bench.get("notes"):
            lines += ["", *(f"- {note}" for note in bench["notes"])]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="every benchmark's seconds-long --quick form")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for results.json and RESULTS.md (default: bench/; a temporary folder with --smoke)",
    )
    parser.add_argument("--bench-dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one benchmark may take")
    parser.add_argument(
        "--with",
        dest="extra",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="more arguments for one benchmark, e.g. --with 'surge=--seconds 20' (said in RESULTS.md)",
    )
    args = parser.parse_args(argv)
    extra: dict[str, tuple[str, ...]] = {}
    for item in args.extra:
        name, sep, given = item.partition("=")
        if not sep or not name:
            parser.error(f"--with wants NAME=ARGS, got {item!r}")
        extra[name] = (*extra.get(name, ()), *shlex.split(given))
    names = [name for name in args.only.split(",") if name] or [
        name for name in BENCHMARKS if (args.bench_dir / f"{name}.py").exists()
    ]
    unknown = [name for name in names if not (args.bench_dir / f"{name}.py").exists()]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    with tempfile.TemporaryDirectory(prefix="ngcc112-bench-") as scratch:
        folder = Path(scratch)
        outcomes = [
            run_one(
                args.bench_dir / f"{name}.py",
                quick=args.smoke,
                folder=folder,
                timeout=args.timeout,
                extra=extra.get(name, ()),
            )
            for name in names
        ]
        out = args.out or (folder if args.smoke else HERE)
        results = report(outcomes, quick=args.smoke)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (out / "RESULTS.md").write_text(markdown(results), encoding="utf-8")
        print(markdown(results))
        if args.smoke:
            print(f"smoke run: results in {out} (left out of bench/)")
    failed = [outcome for outcome in outcomes if outcome.error]
    for outcome in failed:
        print(f"bench {outcome.name}: {outcome.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
