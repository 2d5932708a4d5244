"""bench/run.py runs each benchmark in its own process and writes results.json and RESULTS.md from them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

GOOD = """
import argparse, json, sys
parser = argparse.ArgumentParser()
parser.add_argument("--json"); parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
sys.path.insert(0, {bench!r})
from stats import BenchResult, Distribution
BenchResult(
    "surge",
    figures={{"ticket_open_p99_ms_sqlite": 12.5, "ticket_open_p99_ms_postgresql": 80.0, "lost_tickets": 0,
              "duplicated_tickets": 0, "cpu_ms_per_call_sim": 1.5, "quick": args.quick}},
    distributions={{"ticket open, SQLite": Distribution.of([1.0, 2.0, 12.5])}},
    notes=["measured on the simulator"],
).write(args.json)
"""

BROKEN = "import sys; sys.exit(3)\n"


@pytest.fixture
def run_module():
    spec = importlib.util.spec_from_file_location("ngcc112_bench_run", BENCH / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "surge.py").write_text(GOOD.format(bench=str(BENCH)))
    (folder / "memory.py").write_text(BROKEN)
    return folder


def test_the_figures_of_every_benchmark_land_in_results_json(run_module, bench_dir: Path, tmp_path: Path) -> None:
    status = run_module.main(["--smoke", "--bench-dir", str(bench_dir), "--out", str(tmp_path / "out")])

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert status == 1  # memory.py failed, and says so
    assert results["ticket_open_p99_ms_sqlite"] == 12.5
    assert results["quick"] is True and results["benchmarks"]["surge"]["figures"]["quick"] is True
    assert results["lost_tickets"] == 0 and results["duplicated_tickets"] == 0
    assert results["cpu_ms_per_call"] == 1.5  # the simulator's, with no real Asterisk figure
    for key in (
        "real_asterisk_ticket_open_p99_ms",
        "screen_pop_p99_ms",
        "throughput_ratio_vs_panoramisk",
        "throughput_ratio_vs_cacofonisk",
        "rss_mb_1000_calls",
    ):
        assert key in results and results[key] is None
    assert results["machine"]["cores"] >= 1 and results["date"]
    assert results["benchmarks"]["memory"]["error"] == "exited with status 3"


def test_results_md_says_which_targets_this_run_met(run_module, bench_dir: Path, tmp_path: Path) -> None:
    run_module.main(["--smoke", "--bench-dir", str(bench_dir), "--out", str(tmp_path / "out")])

    text = (tmp_path / "out" / "RESULTS.md").read_text()
    rows = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| ") and "`" in line}
    assert rows["ticket_open_p99_ms_sqlite"].endswith("| yes |")
    assert rows["ticket_open_p99_ms_postgresql"].endswith("| **no** |")
    assert rows["screen_pop_p99_ms"].endswith("| not measured |")
    assert "| ticket open, SQLite (ms) | 3 | 2.00 | 12.5 | 12.5 |" in text
    assert "- measured on the simulator" in text
    assert "Not measured: exited with status 3." in text


def test_an_unknown_benchmark_is_refused_by_name(run_module, bench_dir: Path) -> None:
    with pytest.raises(SystemExit):
        run_module.main(["--only", "nonsense", "--bench-dir", str(bench_dir)])


def test_with_gives_one_benchmark_more_arguments_and_the_report_says_so(
    run_module, bench_dir: Path, tmp_path: Path
) -> None:
    (bench_dir / "memory.py").write_text(GOOD.format(bench=str(BENCH)).replace('"surge"', '"memory"'))
    status = run_module.main(
        ["--smoke", "--bench-dir", str(bench_dir), "--out", str(tmp_path / "out"), "--with", "surge=--seconds 20"]
    )
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert status == 1  # GOOD's parser does not know --seconds: the benchmark got it, and said so
    assert results["benchmarks"]["surge"]["error"] == "exited with status 2"
    assert results["benchmarks"]["memory"]["error"] is None
    assert results["benchmarks"]["surge"]["args"] == ["--quick", "--seconds", "20"]
    assert "surge.py --quick --seconds 20" in (tmp_path / "out" / "RESULTS.md").read_text()
