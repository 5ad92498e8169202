"""CONTRIBUTING.md's recipe, done for real: a plain unary op added in its four
places, in a copy of the source tree, builds and appears everywhere, to the
first order and the second (its MG_RULE line is part of its row's place)."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ROW = 'MG_OP(ASINH,      asinh,      "asinh",      UNARY,  1,  "the inverse hyperbolic sine of x")\n'
RULE = 'MG_RULE(ASINH, "g / sqrt(x * x + 1)")\n'
C = '''
MG_INLINE int fwd_asinh(double x, double *out) { *out = asinh(x); return MG_OK; }
MG_INLINE double bwd_asinh(double g, double x, double y)
{
    (void)y;
    return g / sqrt(x * x + 1.0);
}
'''
PY = '''
def fwd_asinh(x): return math.asinh(x)
def bwd_asinh(g, x, y): return g / math.sqrt(x * x + 1.0)
'''
DOC = "| `asinh` | inverse hyperbolic sine | |\n"

CHECK = '''
import math, micrograd
from micrograd import _core, _core_py, functions
for m in (_core, _core_py):
    x = m.Number(0.75)
    y = x.asinh()
    y.backward()
    assert y.op == "asinh" and y.value == math.asinh(0.75), y
    assert x.gradient == 1.0 / math.sqrt(0.75 * 0.75 + 1.0)
    assert m.Chain(x).asinh().result().value == y.value
    assert functions.asinh(x).value == y.value and micrograd.asinh(0.75).value == y.value
# the second order, on both backends with the same bits: create_graph, grad of
# grad and hessian, against d2 asinh / dx2 = -x / (x*x + 1) ** 1.5
second = []
for m in (_core, _core_py):
    x = m.Number(0.75)
    x.asinh().backward(create_graph=True)
    g = x.grad_node
    assert g.value == x.gradient
    x.gradient = 0.0
    g.backward()
    gg = micrograd.grad(micrograd.grad(lambda v: v.asinh()))(m.Number(0.75))
    h = micrograd.hessian(lambda v, w: (v * w).asinh())(m.Number(0.75), m.Number(0.5))
    second.append((x.gradient, gg, h))
truth = -0.75 / (0.75 * 0.75 + 1.0) ** 1.5
assert second[0] == second[1], second
assert abs(second[0][0] - truth) <= 1e-15 and second[0][1] == second[0][0], second
assert abs(second[0][2][0][0] - 0.25 * -0.375 / (0.375 ** 2 + 1) ** 1.5) <= 1e-15, second
# forward mode with nothing more written: jvp, jacfwd and tape.jvp, the same
# bits on both backends, the tangent the backward formula's
import numpy as np
fwd = []
for m in (_core, _core_py):
    value, tangent = micrograd.jvp(lambda v: v.asinh(), [m.Number(0.75)], [2.0])
    tape = micrograd.trace(lambda v: v.asinh(), m.Number(0.0))
    lanes = tape.jvp(np.array([[0.75]]), np.array([[2.0]]))
    fwd.append((value, tangent, micrograd.jacfwd(lambda v: v.asinh())(m.Number(0.75)),
                float(lanes[0][0]), float(lanes[1][0])))
assert fwd[0] == fwd[1], fwd
assert fwd[0][1] == 2.0 / math.sqrt(0.75 * 0.75 + 1.0), fwd
assert fwd[0][2] == [[1.0 / math.sqrt(0.75 * 0.75 + 1.0)]], fwd
assert fwd[0][3:] == fwd[0][:2], fwd
print("ok")
'''


def _insert_after(path, marker, text):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    i = src.index(marker) + len(marker)
    with open(path, "w", encoding="utf-8") as f:
        f.write(src[:i] + text + src[i:])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "csrc")), reason="needs the source tree")
def test_a_plain_unary_op_takes_four_places(tmp_path):
    tree = tmp_path / "tree"
    for part in ("csrc", "micrograd", "tools", "docs"):
        shutil.copytree(os.path.join(ROOT, part), tree / part,
                        ignore=shutil.ignore_patterns("*.so", "_core.c", "__pycache__", "*.html"))
    for part in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(os.path.join(ROOT, part), tree / part)
    # the four places
    _insert_after(tree / "csrc" / "mg_ops.def", 'MG_RULE(ATAN, "g / (x * x + 1)")\n',
                  ROW + RULE)
    _insert_after(tree / "csrc" / "mg_formulas.h", "/* ---- UNARY ----"
                  "----------------------------------------------------------- */\n", C)
    _insert_after(tree / "micrograd" / "_ops_py.py", "# -- UNARY " + "-" * 67 + "\n", PY)
    _insert_after(tree / "docs" / "ops.md", "| `atan` | arctangent (radians) | |\n", DOC)
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("MICROGRAD_PUREPYTHON", None)          # the recipe builds the core too
    for cmd in ([sys.executable, "tools/regen.py"],
                [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                [sys.executable, "-c", CHECK],
                [sys.executable, "tools/regen.py", "--check"]):
        out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
        assert out.returncode == 0, (cmd, out.stdout[-3000:], out.stderr[-3000:])
    with open(tree / "micrograd" / "_core.pyi", encoding="utf-8") as f:
        stub = f.read()
    assert "def asinh(self) -> Number: ..." in stub and "def asinh(self) -> Chain: ..." in stub


@pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "csrc")), reason="needs the source tree")
def test_a_core_built_from_another_table_refuses_to_load(tmp_path):
    """After a row is added, the old build would dispatch codes to the wrong
    formulas: importing it must fail and say to rebuild."""
    import micrograd
    if not any(f.startswith("_core.") and f.endswith((".so", ".pyd"))
               for f in os.listdir(os.path.dirname(micrograd.__file__))):
        pytest.skip("no compiled core in the source tree")
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(ROOT, "micrograd"), tree / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(ROOT, "csrc"), tree / "csrc")
    _insert_after(tree / "csrc" / "mg_ops.def", '"the arctangent of x (radians)")\n', ROW)
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("MICROGRAD_PUREPYTHON", None)
    load = [sys.executable, "-c", "import micrograd._core"]
    out = subprocess.run(load, cwd=tree, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "no fwd_asinh" in out.stderr     # the Python side, first
    _insert_after(tree / "micrograd" / "_ops_py.py", "# -- UNARY " + "-" * 67 + "\n", PY)
    out = subprocess.run(load, cwd=tree, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "different op table" in out.stderr and "rebuild" in out.stderr
