"""The benchmarks, from a source checkout: the same as `python -m micrograd bench`.

The workloads live in micrograd/bench/ (workloads, other systems, report) so that an
installed wheel can run them; results are recorded in benchmarks/RESULTS.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from micrograd.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
