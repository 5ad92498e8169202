"""Every Python example in README.md runs as written, and prints what the
README shows under it (a ```text block right after it), on every run."""
import contextlib
import io
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def blocks():
    """(code, the output the README shows for it or None), in order."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```\n)?", text, flags=re.S)]


def run(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue()


@pytest.mark.parametrize("code, shown", blocks(), ids=lambda c: (c or "").strip()[:40])
def test_readme_example_runs_and_prints_what_it_shows(code, shown):
    printed = run(code)
    if shown is not None:
        assert printed == shown
        assert run(code) == printed          # seeded: the same on a second run


def test_readme_has_examples_with_their_output():
    found = blocks()
    assert len(found) >= 2 and sum(shown is not None for _, shown in found) >= 2
