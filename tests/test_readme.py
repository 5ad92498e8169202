"""Every Python example in README.md runs as written."""
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


@pytest.mark.parametrize("code", blocks(), ids=lambda c: c.strip().splitlines()[0][:40])
def test_readme_example_runs(code):
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_readme_has_examples():
    assert len(blocks()) >= 2        # the rest live in docs/, run by tests/test_docs.py
