"""The tutorial notebook, docs/notebooks/quickstart.ipynb, runs from top to
bottom in a fresh kernel of this interpreter, and shows what it promises."""
import json
import os
import sys

import pytest

import micrograd

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "docs", "notebooks", "quickstart.ipynb")


def outputs(cell, kind):
    """The text of cell's outputs in mimetype `kind` ('text/plain', 'text/html', 'stream')."""
    out = []
    for o in cell.get("outputs", []):
        if kind == "stream" and o["output_type"] == "stream":
            out.append(o["text"])
        elif kind in o.get("data", {}):
            out.append(o["data"][kind])
    return "".join(out)


def test_committed_notebook_has_no_outputs():
    if not os.path.exists(NOTEBOOK):
        pytest.skip("docs/notebooks is not here (tests/ copied without the docs)")
    with open(NOTEBOOK, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    if not os.path.exists(NOTEBOOK):
        pytest.skip("docs/notebooks is not here (tests/ copied without the docs)")
    reason = "the notebook runner (nbclient, nbformat, ipykernel: the test extra) is not installed"
    nbclient = pytest.importorskip("nbclient", reason=reason)
    nbformat = pytest.importorskip("nbformat", reason=reason)
    pytest.importorskip("ipykernel", reason=reason)
    # a kernel spec of its own, so the kernel is this interpreter whatever else is installed
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")      # jupyter_core's future default
    # the kernel imports the micrograd this test imported
    package_root = os.path.dirname(os.path.dirname(micrograd.__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    stderr = [o.text for c in cells for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr
    text = "".join(outputs(c, "stream") for c in cells)
    html = "".join(outputs(c, "text/html") for c in cells)
    assert "dc/da = " in text and "digraph micrograd" in text
    accuracy = [line for line in text.splitlines() if line.startswith("accuracy: ")]
    assert len(accuracy) == 1 and int(accuracy[0][len("accuracy: "):-1]) >= 95, text
    assert "<b>Number</b>" in html and ">tanh</td>" in html         # a Number's table
    assert "<svg" in html                                           # and its picture
    assert "<b>Chain of 2 steps</b>" in html and "<b>MLP: 337 parameters</b>" in html
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "PyTorch is not installed" in text
    else:
        assert "same weights after the round trip: True" in text
