"""The derivative rules (MG_RULE lines of csrc/mg_ops.def) and their
translation into both backends (micrograd/_rules.py)."""
import re

import pytest

from micrograd import _higher_py, _optable, _rules

HEAD = 'MG_OP(LEAF, leaf, "", LEAF, 0, "a leaf")\n'
EXP_ROW = 'MG_OP(EXP, exp, "exp", UNARY, 1, "e ** x")\n'


def test_every_row_that_has_operands_to_differentiate_has_a_rule():
    for op in _optable.OPS:
        if op.kind in _rules.VARIABLES:
            assert op.rule, f"{op.CODE} has no MG_RULE line"
        else:
            assert op.rule is None, op.CODE


def test_the_reference_runs_a_rule_for_every_row_that_has_one():
    assert sorted(_higher_py.RULES) == sorted(op.code for op in _optable.OPS if op.rule)


def test_a_rule_may_go_on_over_several_lines():
    ops = _optable.parse(HEAD + EXP_ROW + 'MG_RULE(EXP, "e = y;"\n        "g * e")\n')
    assert ops[1].rule == "e = y; g * e"


@pytest.mark.parametrize("text, message", [
    ('MG_RULE(LOG, "g / x")\n', "LOG, which has no row"),
    ('MG_RULE(EXP, "g * y")\nMG_RULE(EXP, "g")\n', "two MG_RULE lines"),
    ('MG_RULE(EXP "g * y")\n', "cannot be read"),
])
def test_a_rule_line_that_cannot_be_read_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        _optable.parse(HEAD + EXP_ROW + text)


def _translate(kind, rule):
    row = f'MG_OP(NEW, new, "new", {kind}, 2, "a new op")\nMG_RULE(NEW, "{rule}")\n'
    ops = _optable.parse(HEAD + "".join(f'MG_OP({o.CODE}, {o.stem}, "{o.name}", {o.kind}, '
                                        f'{o.arity}, "{o.doc}")\n'
                                        for o in _optable.OPS[1:]) + row)
    return _rules.source(ops, "py"), _rules.source(ops, "pyx")


@pytest.mark.parametrize("kind, rule, message", [
    ("UNARY", "g * z", "unknown name 'z'"),
    ("UNARY", "g if x > 0 else 1.0", "branches give Number and real"),
    ("UNARY", "g * (None if x > 0 else g)", "an operand is Number or None"),
    ("UNARY", "g * foo(x)", "must name a UNARY op"),
    ("UNARY", "g * exp(x, x)", "must name a UNARY op"),
    ("UNARY", "c", "unknown name 'c'"),
    ("CONST", "c * 2", "a contribution is a Number or None, not a real"),
    ("CONST", "g * exp(c) if g else None", "a condition must be a comparison"),
    ("BINARY", "g", "gives a pair"),
    ("UNARY", "g *", "cannot parse"),
    ("UNARY", "x = g; g", "'x' is already a name"),
    ("UNARY", "t = None; g", "a name must be a Number or a real"),
    ("UNARY", "g; g", "only `name = expr;`"),
    ("UNARY", "g * 'a'", "only numbers and None"),
    ("UNARY", "g % x", "unknown operator"),
])
def test_a_rule_that_cannot_be_translated_names_its_row_and_why(kind, rule, message):
    with pytest.raises(_rules.RuleError, match=re.escape(message)) as info:
        _translate(kind, rule)
    assert "the rule of NEW" in str(info.value)


def test_the_two_translations_build_the_same_ops_in_the_same_order():
    """The Cython is the Python with the core's spellings: undo them and the
    two are the same text, rule for rule."""
    py = _rules.source(_optable.OPS, "py")
    pyx = _rules.source(_optable.OPS, "pyx")
    body = pyx[:pyx.index("cdef object _unary_rule(")]
    body = re.sub(r"\(<Number>\((.*?)\)\)\.node\.value", r"(\1)._value", body)
    for core, ref in (("_ib(", "_b("), ("_ik(", "_k("), ("_iu(", "_u("), ("MG_", "T."),
                      ("_C_NAN", "_NAN"), ("_C_INF", "_INF"), ("cdef object ", "def "),
                      ("Number ", ""), ("double ", "")):
        body = body.replace(core, ref)
    body = "\n".join(line for line in body.splitlines() if not line.startswith("    cdef "))
    assert body.strip() == py[:py.index("RULES = {")].strip()


def test_reals_divide_as_c_does_where_python_would_raise():
    """A rule's arithmetic on two reals: / and ** by the op's IEEE value."""
    py, _ = _translate("CONST", "g * (1 / c) * (c ** -1)")
    assert "_fb(T.DIV, 1.0, c)" in py and "_fb(T.POW, c, (-1.0))" in py
    names = {}
    exec(compile(py[:py.index("RULES = {")], "<rule>", "exec"), dict(vars(_higher_py)), names)
    from micrograd import _core_py as P
    got = names["_rule_NEW"](P.Number(2.0), P.Number(1.0), P.Number(1.0), 0.0)
    assert got.value == float("inf")
