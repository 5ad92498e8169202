"""Benchmarks: the compiled core against the pure-Python reference (and the
other systems where they import), in one run.

    python -m micrograd bench                    # full run, a few minutes
    python -m micrograd bench --quick            # smaller sizes, well under 30 s
    python -m micrograd bench --json             # one JSON object on stdout
    python -m micrograd bench --workload deep    # only some workloads

It ships in the package so that an installed wheel can run it.  The parts:
workloads.py (what is timed, on one backend), others.py (the columns for
PyTorch and the other systems), report.py (running them and the table or
JSON), mlp.py (one training run, in a fresh interpreter).  Ratios are
python / core or other / core: above 1, the core is faster or smaller.
"""
from .report import format_table, main, run

__all__ = ["run", "main", "format_table"]
