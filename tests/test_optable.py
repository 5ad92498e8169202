"""The op table: one source (csrc/mg_ops.def), and everything made from it."""
import math
import os
import subprocess
import sys

import pytest

import micrograd
from micrograd import _ops_py, _optable, functions
from conftest import CORE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
in_source_tree = pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "csrc")),
                                    reason="needs the source tree (tools/, docs/)")
UNARY = _optable.of_kind("UNARY")
EDGES = [0.0, -0.0, 1.0, -1.0, -2.0, 1e300, -1e300, 710.0, math.inf, -math.inf, math.nan]


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_the_compiled_table_is_the_parsed_table():
    c_rows = CORE.OP_TABLE
    py_rows = [(op.name, _optable.KINDS.index(op.kind), op.arity) for op in _optable.OPS]
    assert len(c_rows) == len(py_rows) == _optable.NUM_OPS
    for code, (c, p) in enumerate(zip(c_rows, py_rows)):
        assert c == p, f"code {code}: C has {c}, the reference has {p}"


def test_parse_refuses_a_malformed_row():
    with pytest.raises(ValueError, match="cannot read"):
        _optable.parse('MG_OP(X, x, "x", UNARY, 1)\n')
    with pytest.raises(ValueError, match="unknown kind"):
        _optable.parse('MG_OP(X, x, "x", WEIRD, 1, "doc")\n')
    rows = _optable.parse('MG_OP(A, a, "a", UNARY, 1, "first")\nMG_OP(B, b, "b", NARY, -1, "x")\n')
    assert [(r.code, r.name, r.arity) for r in rows] == [(0, "a", 1), (1, "b", -1)]


def test_codes_are_row_positions_and_constants():
    for op in _optable.OPS:
        assert getattr(_optable, op.CODE) == op.code
    assert _optable.NAMES[_optable.LEAF] == ""


@pytest.mark.parametrize("op", _optable.of_kind("BINARY", "CONST", "UNARY", "PARAM", "RANGE"),
                         ids=lambda op: op.CODE)
def test_every_row_has_its_python_formulas(op):
    assert callable(getattr(_ops_py, "fwd_" + op.stem))
    assert callable(getattr(_ops_py, "bwd_" + op.stem))


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.name)
def test_a_forward_that_can_raise_has_an_ieee_twin(op):
    raises = False
    for x in EDGES:
        try:
            _ops_py.FWD[op.code](x)
        except (ArithmeticError, ValueError):
            raises = True
    assert raises == hasattr(_ops_py, "ieee_" + op.stem)


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.name)
def test_every_plain_unary_op_is_a_method_a_step_and_a_function(impl, op):
    x = impl.Number(0.25)
    try:
        expect = _ops_py.FWD[op.code](0.25)
    except (ArithmeticError, ValueError):
        pytest.skip("not defined at 0.25")
    assert getattr(x, op.name)().value == expect and getattr(x, op.name)().op == op.name
    assert getattr(impl.Chain(x), op.name)().result().value == expect
    assert getattr(functions, op.name)(x).value == expect
    assert getattr(micrograd, op.name) is getattr(functions, op.name)
    assert getattr(type(x), op.name).__doc__


@in_source_tree
def test_stubs_are_generated_from_the_table():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "regen.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@in_source_tree
def test_every_op_has_its_documentation_line():
    with open(os.path.join(ROOT, "docs", "ops.md"), encoding="utf-8") as f:
        text = f.read()
    missing = [op.name for op in _optable.OPS[1:] if f"`{op.name}`" not in text]
    assert not missing, f"docs/ops.md lacks a line for {missing}"


def test_a_rows_doc_is_capitalised_only_where_it_starts_with_a_word():
    # "E ** x" was shown for exp: a variable's case is its meaning
    assert _optable.sentence("e ** x") == "e ** x."
    assert _optable.sentence("log(1 + x), accurate near 0") == "log(1 + x), accurate near 0."
    assert _optable.sentence("x if x > 0 else 0") == "x if x > 0 else 0."
    assert _optable.sentence("the sine of x (radians)") == "The sine of x (radians)."
    import micrograd
    assert micrograd.exp.__doc__ == "e ** x."
    assert micrograd.Number.exp.__doc__.splitlines()[-1] == "e ** x."
