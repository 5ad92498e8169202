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


def _inside_a_shape(svg, x, y):
    """Whether (x, y) is inside a node's box or an op's ellipse of the SVG."""
    import re
    for bx, by, bw, bh in re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                                     r'height="([\d.]+)"', svg):
        bx, by, bw, bh = map(float, (bx, by, bw, bh))
        if bx + 1 < x < bx + bw - 1 and by + 1 < y < by + bh - 1:
            return True
    for cx, cy, rx, ry in re.findall(r'<ellipse cx="([\d.]+)" cy="([\d.]+)" rx="([\d.]+)" '
                                     r'ry="([\d.]+)"', svg):
        cx, cy, rx, ry = map(float, (cx, cy, rx, ry))
        if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 0.9:
            return True
    return False


def _points(d, steps=40):
    """Points along an SVG path of M, C and L commands."""
    import re
    tokens = re.findall(r"[MCL]|-?[\d.]+,-?[\d.]+", d)
    pts, pen, i = [], None, 0
    while i < len(tokens):
        cmd = tokens[i]
        args = []
        i += 1
        while i < len(tokens) and tokens[i] not in "MCL":
            args.append(tuple(map(float, tokens[i].split(","))))
            i += 1
        if cmd == "M":
            pen = args[0]
        elif cmd == "L":
            for t in range(steps + 1):
                pts.append((pen[0] + (args[0][0] - pen[0]) * t / steps,
                            pen[1] + (args[0][1] - pen[1]) * t / steps))
            pen = args[0]
        else:
            (x1, y1), (x2, y2), (x3, y3) = args
            for t in (k / steps for k in range(steps + 1)):
                u = 1 - t
                pts.append((u ** 3 * pen[0] + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t ** 3 * x3,
                            u ** 3 * pen[1] + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y3))
            pen = (x3, y3)
    return pts


@pytest.mark.parametrize("build", [
    lambda mg: (lambda x: x * x + x)(mg.Number(3.0)),
    lambda mg: (lambda x, w: ((x * w).tanh() + x) * w + x)(mg.Number(0.5), mg.Number(-2.0)),
    lambda mg: (lambda a: a.exp().log().sin() * a + a)(mg.Number(0.25)),
], ids=["node-used-twice", "skips-two-columns", "long-skip"])
def test_no_edge_of_a_drawn_graph_passes_under_a_node(build):
    """docs/from-scratch.md's "A node used twice": z = x*x + x drew the x -> add
    edge straight behind the mul node, hiding the very edge it is about."""
    import re
    import micrograd as mg
    from micrograd.viz import to_svg
    z = build(mg)
    z.backward()
    svg = to_svg(z)
    for d in re.findall(r'<path d="([^"]+)"', svg):
        pts = _points(d)
        start, end = pts[0], pts[-1]
        hidden = [p for p in pts if _inside_a_shape(svg, *p)
                  and min(abs(p[0] - e[0]) + abs(p[1] - e[1]) for e in (start, end)) > 3]
        assert not hidden, (d, hidden[:3])
