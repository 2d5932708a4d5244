"""Smoke runs of the benchmarks (bench/*.py --quick), so none can rot."""
