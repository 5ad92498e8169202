"""Comparisons: micrograd.gt, ge, lt, le (ops of the table, which a trace
records) and Python's < <= > >= on a Number (a bool, refused inside a trace).

Values follow IEEE and torch (false at NaN, -0.0 equal to 0.0); the gradient is
exactly 0.0 for both operands, whatever arrives; the second derivative has no
edge.  Both backends, the tape and op by op give the same bits (compared with
==, NaN equal to NaN)."""
import math
import operator
import pickle

import numpy as np
import pytest

import micrograd
from micrograd import TraceError, transforms

INF, NAN = math.inf, math.nan
NAMES = ("gt", "ge", "lt", "le")
RELATION = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
# a real on the left is the mirrored relation on the Number: the node's op
MIRROR = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 5e-324, 1e308, INF, -INF, NAN, 3, -2, True]
PAIRS = [(a, b) for a in EDGES for b in EDGES]


def bits(v):
    """v's bits, any NaN as the same NaN: which NaN an operation on two NaNs
    keeps depends on its operands' order, which the compiler may swap (the
    sanitizer build does); NaN's sign is no part of the promise."""
    a = np.array(v, dtype=np.float64)
    a[np.isnan(a)] = np.nan
    return a.tobytes()


def expected(name, a, b):
    return 1.0 if RELATION[name](float(a), float(b)) else 0.0


@pytest.mark.parametrize("name", NAMES)
def test_values_in_every_operand_form(impl, name):
    fn = getattr(impl, name)
    for a, b in PAIRS:
        want = expected(name, a, b)
        both = fn(impl.Number(a), impl.Number(b))
        left = fn(impl.Number(a), b)
        right = fn(a, impl.Number(b))
        reals = fn(a, b)
        for r in (both, left, right, reals):
            assert type(r.value) is float and bits(r.value) == bits(want), (name, a, b)
        assert (both.op, left.op, right.op, reals.op) == (name, name, MIRROR[name], "")
        assert reals.children == () and len(both.children) == 2
        assert len(left.children) == len(right.children) == 1


def test_signed_zeros_are_equal_and_nan_is_false_as_torch_says(impl, torch):
    x, z, n = impl.Number(0.0), impl.Number(-0.0), impl.Number(NAN)
    assert impl.gt(x, z).value == 0.0 and impl.ge(x, z).value == 1.0
    assert impl.le(z, x).value == 1.0 and impl.lt(z, 0.0).value == 0.0
    assert [getattr(impl, f)(n, n).value for f in NAMES] == [0.0] * 4
    t = torch.tensor([0.0, NAN, INF, -INF], dtype=torch.float64)
    for name in NAMES:
        ours = [getattr(impl, name)(impl.Number(a), b).value
                for a in [0.0, NAN, INF, -INF] for b in [-0.0, NAN, INF]]
        theirs = [float(getattr(torch, name)(ta, tb))
                  for ta in t for tb in torch.tensor([-0.0, NAN, INF], dtype=torch.float64)]
        assert ours == theirs, name


def test_top_level_functions_work_in_the_backend_of_their_numbers(impl):
    x = impl.Number(2.0)
    for name in NAMES:
        r = getattr(micrograd, name)(x, 1)
        assert isinstance(r, impl.Number) and r.value == expected(name, 2.0, 1)
        assert getattr(micrograd, name).__doc__.startswith("1.0 if a ")
    assert micrograd.gt(1, 2).value == 0.0 and micrograd.gt(1, 2).op == ""


@pytest.mark.parametrize("name", NAMES)
def test_no_gradient_flows_back_not_even_a_nan(impl, name):
    fn = getattr(impl, name)
    for seed in (1.0, INF, NAN):
        a, b = impl.Number(1.5), impl.Number(-2.0)
        for r in (fn(a, b), fn(a, 0.5), fn(0.5, b), fn(a, a)):
            r.backward(seed)
        assert bits(a.gradient) == bits(b.gradient) == bits(0.0)
    x = impl.Number(3.0)
    y = impl.where(fn(x, 0), x * x, x * -1.0) + fn(x, 2.0) * x
    y.backward()
    taken = x.value * 2.0 if RELATION[name](3.0, 0) else -1.0
    assert x.gradient == taken + expected(name, 3.0, 2.0)


def test_stop_gradient_cuts_a_comparison_off_as_torch_does(impl):
    # sqrt at 0 has an infinite derivative: the zero a comparison sends down is
    # still swept through it (0 / 0), as under a relu that is off; a
    # stop_gradient prunes the operand's graph, as torch's comparison does
    x = impl.Number(0.0)
    impl.gt(x.sqrt().stop_gradient(), 1.0).backward()
    assert x.gradient == 0.0
    x = impl.Number(0.0)
    impl.gt(x.sqrt(), 1.0).backward()
    assert math.isnan(x.gradient)


@pytest.mark.parametrize("name", NAMES)
def test_second_order_has_no_edge_and_is_zero(impl, name):
    fn = getattr(impl, name)
    f = lambda x, y: impl.where(fn(x, y), x * x * y, y * y * 3.0) + fn(y, 0.5)  # noqa: E731
    for xs in ((2.0, 1.0), (1.0, 2.0), (1.0, 1.0)):
        x, y = (impl.Number(v) for v in xs)
        out = f(x, y)
        out.backward(create_graph=True)
        for leaf in (x, y):       # None: reached through a comparison only (no edge)
            g = leaf.grad_node
            assert (g.value if g is not None else 0.0) == leaf.gradient
        H = transforms.hessian(f)(*[impl.Number(v) for v in xs])
        a, b = xs
        want = ([[2.0 * b, 2.0 * a], [2.0 * a, 0.0]] if RELATION[name](a, b)
                else [[0.0, 0.0], [0.0, 6.0]])
        assert H == want
    z = transforms.hessian(lambda x, y: fn(x, y) + fn(x * y, 1.0))(impl.Number(0.5),
                                                                    impl.Number(3.0))
    assert [[bits(v) for v in row] for row in z] == [[bits(0.0)] * 2] * 2


def _all_comparisons(m):
    def fn(a, b):
        cmps = [m.gt(a, b), m.ge(a, 0.0), m.lt(-0.0, a), m.le(a, b), m.gt(1.0, b),
                m.lt(a, m.maximum(b, -1.0)), m.ge(a * b, b)]
        guarded = m.where(m.gt(a, 0), abs(a).sqrt(), -a)   # sqrt(0) untaken: no NaN
        return m.sum([c * a * b for c in cmps]) + guarded, m.le(b, a)
    return fn


X = np.array([[2.0, 1.0], [1.0, 2.0], [0.0, -0.0], [-0.0, 0.0], [NAN, 1.0], [1.0, NAN],
              [INF, -INF], [-INF, INF], [0.5, 0.5], [-3.0, 2.0], [5e-324, 0.0], [4.0, -1.0]])


def test_the_tape_replays_comparisons_with_the_bits_of_op_by_op(impl):
    tape = micrograd.trace(_all_comparisons(impl), impl.Number(1.0), impl.Number(2.0))
    ops = {n.op for n in _walk(*_all_comparisons(impl)(impl.Number(1.0), impl.Number(2.0)))}
    assert set(NAMES) <= ops
    out = tape(X)
    _, grads = tape.value_and_grad(X, reduction="none", wrt="inputs")
    for i, (a, b) in enumerate(X):
        na, nb = impl.Number(a), impl.Number(b)
        first, second = _all_comparisons(impl)(na, nb)
        first.backward()
        assert bits(out[i, 0]) == bits(first.value) and bits(out[i, 1]) == bits(second.value)
        assert bits(grads[i, 0]) == bits(na.gradient) and bits(grads[i, 1]) == bits(nb.gradient)


def test_a_comparison_alone_replays_with_zero_gradients(impl):
    w = impl.Number(0.25)
    tape = micrograd.trace(lambda x: impl.gt(x, w) + impl.le(w, x), impl.Number(1.0))
    out, g = tape.value_and_grad(X[:, :1], reduction="sum")
    assert bits(g[0]) == bits(0.0)
    assert list(out) == [expected("gt", v, 0.25) + expected("le", 0.25, v) for v in X[:, 0]]


def _walk(*roots):
    seen, stack = [], list(roots)
    while stack:
        n = stack.pop()
        seen.append(n)
        stack.extend(k for k in n.children if k.children or k.op)
    return seen


def test_the_backends_agree_bit_for_bit(both):
    core, ref = both
    for name in NAMES:
        for a, b in PAIRS:
            results = []
            for m in (core, ref):
                x, y = m.Number(a), m.Number(b)
                r = m.sum([getattr(m, name)(x, y) * x, getattr(m, name)(b, x) * y,
                           getattr(m, name)(x, b)])
                r.backward()
                results.append([bits(v) for v in (r.value, x.gradient, y.gradient)] + [r.op])
            assert results[0] == results[1], (name, a, b)
    outs = [micrograd.trace(_all_comparisons(m), m.Number(1.0), m.Number(2.0))
            .value_and_grad(X, "none", "inputs") for m in (core, ref)]
    assert bits(outs[0][0]) == bits(outs[1][0]) and bits(outs[0][1]) == bits(outs[1][1])


# -- Python's operators ---------------------------------------------------------------
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def test_operators_give_a_bool_of_the_values(impl):
    for a, b in PAIRS:
        x = impl.Number(a)
        for symbol, op in OPERATORS.items():
            want = op(float(a), float(b))
            for got in (op(x, impl.Number(b)), op(x, b)):
                assert got is want, (symbol, a, b)
            assert op(b, x) is op(float(b), float(a))          # the reflected form
            assert op(x, np.float64(b)) is want and op(np.float64(b), x) is op(float(b), float(a))
    x = impl.Number(0.5)
    assert impl.where(x > 0, 1.0, 2.0).value == 1.0
    assert (x > 0) and not (x < 0)
    assert micrograd.where(x > 0, x, -x).op == "where"


def test_numbers_still_hash_and_compare_equal_by_identity(impl):
    x, y = impl.Number(1.0), impl.Number(1.0)
    assert x == x and x != y and not (x == y) and len({x, y, x}) == 2
    assert hash(x) == object.__hash__(x)
    assert {x: 1}[x] == 1 and x != 1.0
    assert not hasattr(impl.Number, "gt")          # the functions are top-level only


@pytest.mark.parametrize("symbol", OPERATORS)
def test_operators_are_refused_inside_a_trace_naming_the_function(impl, symbol):
    op, name = OPERATORS[symbol], {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[symbol]
    w = impl.Number(1.0)
    cases = [lambda x: op(x, 0.0), lambda x: op(x, w), lambda x: op(w, x),
             lambda x: op(x * 2.0, x)]
    for fn in cases:
        with pytest.raises(TraceError) as info:
            micrograd.trace(fn, impl.Number(1.0))
        message = str(info.value)
        assert "Use micrograd." in message and "micrograd.where(micrograd." in message
        assert "while micrograd.trace records" in message
    with pytest.raises(TraceError, match=rf"`a {symbol} b` on a traced Number \(an input of "
                                         rf"the traced function\).*micrograd\.{name}\(a, b\)"):
        micrograd.trace(lambda x: op(x, 0.0), impl.Number(1.0))
    with pytest.raises(TraceError, match=r"the result of 'mul'"):
        micrograd.trace(lambda x: op(x * 2.0, 1.0), impl.Number(1.0))
    assert op(w, 0.5) is op(1.0, 0.5)             # an untraced parameter reads fine


def test_messages_are_the_same_on_both_backends(both):
    def messages(m):
        x = m.Number(1.0)
        out = []
        for call in (lambda: x < "a", lambda: "a" >= x, lambda: x > None, lambda: x <= [1],
                     lambda: x > np.array([1.0, 2.0]), lambda: m.gt(x, "a"),
                     lambda: m.le("a", x), lambda: m.ge("a", "b"), lambda: m.lt(x, None),
                     lambda: m.gt(x), lambda: m.gt(x, 1, 2), lambda: m.lt(x, 1j),
                     lambda: micrograd.trace(lambda a: a > 0, 1.0) if m is micrograd._backend.impl
                     else micrograd.trace(lambda a: a > 0, m.Number(1.0))):
            with pytest.raises((TypeError, TraceError)) as info:
                call()
            out.append((type(info.value).__name__, str(info.value)))
        return out
    core, ref = both
    assert messages(core) == messages(ref)
    mixed = [core.Number(1.0), ref.Number(1.0)]
    with pytest.raises(TypeError, match="cannot mix Numbers") as a:
        mixed[0] < mixed[1]                           # noqa: B015
    with pytest.raises(TypeError, match="cannot mix Numbers") as b:
        core.gt(mixed[0], mixed[1])
    assert "core and python" in str(a.value) and "core and python" in str(b.value)


def test_a_comparison_pickles_and_copies_as_a_leaf(impl):
    r = impl.gt(impl.Number(2.0), 1.0)
    assert pickle.loads(pickle.dumps(r)).value == 1.0
