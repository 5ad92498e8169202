"""Forward errors: what Python floats and math raise, no node.

The expected exception is computed at test time from the same operation on
floats, so the messages of the running interpreter are what is checked.
"""
import math
import sys

import pytest


def expected(fn):
    try:
        fn()
    except Exception as exc:      # noqa: BLE001 - any exception is the oracle
        return type(exc), str(exc)
    pytest.fail("the float operation did not raise")


def float_pow(x, y):
    r = x ** y
    if isinstance(r, complex):
        return math.pow(x, y)
    return r


CASES = [
    ("n/0", lambda N: N(1.0) / N(0.0), lambda: 1.0 / 0.0),
    ("n/0 const", lambda N: N(1.0) / 0, lambda: 1.0 / 0.0),
    ("1/n0", lambda N: 1 / N(0.0), lambda: 1.0 / 0.0),
    ("0/0", lambda N: N(0.0) / 0, lambda: 0.0 / 0.0),
    ("n/-0", lambda N: N(2.0) / N(-0.0), lambda: 2.0 / -0.0),
    ("0**-1", lambda N: N(0.0) ** -1, lambda: 0.0 ** -1.0),
    ("-0**-2.5", lambda N: N(-0.0) ** -2.5, lambda: (-0.0) ** -2.5),
    ("0**n-1", lambda N: N(0.0) ** N(-1.0), lambda: 0.0 ** -1.0),
    ("rpow 0**-n", lambda N: 0.0 ** N(-3.0), lambda: 0.0 ** -3.0),
    ("-8**(1/3)", lambda N: N(-8.0) ** (1 / 3), lambda: float_pow(-8.0, 1 / 3)),
    ("rpow -8**n", lambda N: (-8.0) ** N(0.5), lambda: float_pow(-8.0, 0.5)),
    ("10**400", lambda N: N(10.0) ** 400, lambda: 10.0 ** 400.0),
    ("rpow 10**n", lambda N: 10 ** N(400.0), lambda: 10.0 ** 400.0),
    ("-10**401", lambda N: N(-10.0) ** N(401.0), lambda: (-10.0) ** 401.0),
    ("exp(710)", lambda N: N(710.0).exp(), lambda: math.exp(710.0)),
    ("exp(1000)", lambda N: N(1000.0).exp(), lambda: math.exp(1000.0)),
    ("log(0)", lambda N: N(0.0).log(), lambda: math.log(0.0)),
    ("log(-0)", lambda N: N(-0.0).log(), lambda: math.log(-0.0)),
    ("log(-1)", lambda N: N(-1.0).log(), lambda: math.log(-1.0)),
    ("log(-inf)", lambda N: N(-math.inf).log(), lambda: math.log(-math.inf)),
    ("sqrt(-1)", lambda N: N(-1.0).sqrt(), lambda: math.sqrt(-1.0)),
    ("sqrt(-inf)", lambda N: N(-math.inf).sqrt(), lambda: math.sqrt(-math.inf)),
    ("sin(inf)", lambda N: N(math.inf).sin(), lambda: math.sin(math.inf)),
    ("cos(-inf)", lambda N: N(-math.inf).cos(), lambda: math.cos(-math.inf)),
]


@pytest.mark.parametrize("name,op,oracle", CASES, ids=[c[0] for c in CASES])
def test_forward_error_matches_python_and_creates_no_node(impl, name, op, oracle):
    etype, message = expected(oracle)
    with pytest.raises(etype) as got:
        op(impl.Number)
    assert str(got.value) == message


def test_failed_op_leaves_operands_untouched(impl):
    x = impl.Number(0.0)
    before = sys.getrefcount(x)
    for _ in range(100):
        with pytest.raises(ZeroDivisionError):
            1 / x
        with pytest.raises(ValueError):
            x.log()
    assert sys.getrefcount(x) == before and x.value == 0.0 and x.gradient == 0.0


SILENT = [
    ("1e308*10", lambda N: N(1e308) * 10, 1e308 * 10),
    ("-1e308-1e308", lambda N: N(-1e308) - 1e308, -1e308 - 1e308),
    ("1e308/1e-10", lambda N: N(1e308) / 1e-10, 1e308 / 1e-10),
    ("inf-inf", lambda N: N(math.inf) - N(math.inf), math.nan),
    ("0*inf", lambda N: N(0.0) * math.inf, math.nan),
    ("exp(-1000)", lambda N: N(-1000.0).exp(), 0.0),
    ("exp(inf)", lambda N: N(math.inf).exp(), math.inf),
    ("log(inf)", lambda N: N(math.inf).log(), math.inf),
    ("log(nan)", lambda N: N(math.nan).log(), math.nan),
    ("5e-324*0.5", lambda N: N(5e-324) * 0.5, 0.0),
    ("2**-1080", lambda N: N(2.0) ** -1080, 2.0 ** -1080),
    ("tanh(800)", lambda N: N(800.0).tanh(), 1.0),
    ("tanh(-800)", lambda N: N(-800.0).tanh(), -1.0),
    ("sigmoid(1000)", lambda N: N(1000.0).sigmoid(), 1.0),
    ("sigmoid(-1000)", lambda N: N(-1000.0).sigmoid(), 0.0),
    ("exp(-745.2)", lambda N: N(-745.2).exp(), math.exp(-745.2)),
    ("nan**0", lambda N: N(math.nan) ** 0, 1.0),
    ("1**nan", lambda N: 1 ** N(math.nan), 1.0),
    ("-8**3", lambda N: N(-8.0) ** 3, -512.0),
    ("relu(nan)", lambda N: N(math.nan).relu(), math.nan),
]


@pytest.mark.parametrize("name,op,value", SILENT, ids=[c[0] for c in SILENT])
def test_silent_ieee_results(impl, name, op, value):
    out = op(impl.Number).value
    assert out == value or (math.isnan(out) and math.isnan(value))


def test_mixing_backends_is_a_type_error(both):
    core, py = both
    for a, b in ((core.Number(1.0), py.Number(2.0)), (py.Number(1.0), core.Number(2.0))):
        for op in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a ** b,
                   lambda a, b: b / a):
            with pytest.raises(TypeError, match="cannot mix Numbers"):
                op(a, b)
    with pytest.raises(TypeError, match="cannot mix Numbers"):
        core.sum([core.Number(1.0), py.Number(1.0)])
    with pytest.raises(TypeError, match="cannot mix Numbers"):
        py.dot([py.Number(1.0)], [core.Number(1.0)])
    with pytest.raises(TypeError):
        core.Number(py.Number(1.0))
