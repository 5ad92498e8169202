"""Number: conversions, attributes, operators, interop."""
import copy
import math
import pickle
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest


def bits(x):
    return struct.pack("<d", x)


@pytest.mark.parametrize("real", [True, 3, -7, 2.5, np.float32(0.1), np.float64(-1.25),
                                  np.int64(12), np.bool_(True), Fraction(1, 3),
                                  Decimal("0.1"), 10**20, -0.0])
def test_reals_convert_as_float_does(impl, real):
    n = impl.Number(real)
    assert type(n.value) is float and bits(n.value) == bits(float(real))
    assert n.gradient == 0.0 and n.op == "" and n.children == ()


@pytest.mark.parametrize("bad", ["1", b"1", bytearray(b"1"), 1j, np.complex64(1), None, [1.0]])
def test_non_reals_are_refused(impl, bad):
    with pytest.raises(TypeError):
        impl.Number(bad)


def test_huge_int_overflows_like_float(impl):
    with pytest.raises(OverflowError) as expected:
        float(1 << 2000)
    with pytest.raises(OverflowError) as got:
        impl.Number(1 << 2000)
    assert str(got.value) == str(expected.value)
    with pytest.raises(OverflowError):
        impl.Number(1.0) + (1 << 2000)


def test_failing_dunder_float_propagates(impl):
    class Bad:
        def __float__(self):
            raise ArithmeticError("no float for you")
    with pytest.raises(ArithmeticError, match="no float for you"):
        impl.Number(Bad())

    class Idx:
        def __index__(self):
            return 7
    assert impl.Number(Idx()).value == 7.0


def test_value_and_gradient_are_settable_with_aliases(impl):
    n = impl.Number(1)
    n.value, n.gradient = 4, Fraction(1, 2)
    assert (n.data, n.grad) == (4.0, 0.5) and type(n.data) is float
    n.data, n.grad = 5.0, 6.0
    assert (n.value, n.gradient) == (5.0, 6.0)
    with pytest.raises(TypeError):
        n.value = "x"
    assert n.value == 5.0
    with pytest.raises(AttributeError):
        n.label = "x"


@pytest.mark.parametrize("v", [0.1, 1e16, 1e-7, math.nan, math.inf, -math.inf, -0.0, 2.0, 5e-324])
def test_repr_and_format_follow_float(impl, v):
    n = impl.Number(v)
    n.gradient = v
    assert repr(n) == f"Number(value={v!r}, gradient={v!r})"
    assert str(n) == repr(n)
    assert f"{n:.3f}" == f"{v:.3f}" and f"{n}" == repr(n) and format(n, "e") == format(v, "e")
    assert float(n) == v or math.isnan(v)


def test_identity_hash_and_equality(impl):
    a, b = impl.Number(1.0), impl.Number(1.0)
    assert a == a and a != b and len({a, b, a}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert (a < b) is False and (a <= b) is True    # ordering compares values (a bool)
    assert a != 1.0


BINARY = [("__add__", "add", lambda a, b: a + b), ("__sub__", "sub", lambda a, b: a - b),
          ("__mul__", "mul", lambda a, b: a * b), ("__truediv__", "div", lambda a, b: a / b),
          ("__pow__", "pow", lambda a, b: a ** b)]


@pytest.mark.parametrize("dunder,name,fn", BINARY)
def test_operators_numbers_and_reals_on_both_sides(impl, dunder, name, fn):
    a, b = 1.5, 2.25
    x, y = impl.Number(a), impl.Number(b)
    both = fn(x, y)
    assert both.value == fn(a, b) and both.children == (x, y) and both.op == name
    right = fn(x, b)          # constant kept in the node: one node, one child
    assert right.value == fn(a, b) and right.children == (x,) and right.op == name
    left = fn(a, y)
    assert left.value == fn(a, b) and left.children == (y,)
    assert left.op in (name, "r" + name)
    method = getattr(x, name)(y)
    assert method.value == both.value and method.children == (x, y)
    assert getattr(x, name)(b).value == right.value


def test_constant_costs_no_node(impl):
    x = impl.Number(3.0)
    y = x * 2.0
    assert y.children == (x,) and y.children[0] is x
    assert (2.0 * x).children == (x,)
    assert (2 - x).op == "rsub" and (2 - x).value == -1.0
    assert (1 / x).op == "rdiv" and (2 ** x).op == "rpow" and (2 ** x).value == 8.0


def test_unary_ops_and_methods(impl):
    x = impl.Number(0.5)
    for name in ["exp", "log", "sqrt", "sin", "cos", "tanh"]:
        out = getattr(x, name)()
        assert out.value == getattr(math, name)(0.5) and out.op == name and out.children == (x,)
    assert x.sigmoid().value == 1.0 / (1.0 + math.exp(-0.5))
    assert impl.Number(-2.0).relu().value == 0.0 and x.relu().value == 0.5
    assert (-x).value == -0.5 and x.neg().op == "neg" and (-x).children == (x,)
    assert abs(impl.Number(-3.0)).value == 3.0 and abs(x).op == "abs"
    assert +x is x


def test_in_place_operators_rebind(impl):
    x = impl.Number(2.0)
    y = x
    y += 1
    y *= x
    assert y is not x and x.value == 2.0 and y.value == 6.0 and y.children[1] is x


def test_unsupported_operands_give_python_type_error(impl):
    x = impl.Number(1.0)
    for other in ["a", None, 1j, [1], object()]:
        assert x.__add__(other) is NotImplemented
        assert x.__rmul__(other) is NotImplemented
        with pytest.raises(TypeError) as got:
            x + other
        assert str(got.value) == (f"unsupported operand type(s) for +: 'Number' and "
                                  f"'{type(other).__name__}'")
        with pytest.raises(TypeError) as got_method:
            x.add(other)
        assert str(got_method.value) == str(got.value)
    with pytest.raises(TypeError):
        pow(x, 2, 3)


def test_numpy_interop(impl):
    x, y = impl.Number(2.0), impl.Number(3.0)
    for left in (np.float64(2), np.float32(2), np.int64(2)):
        out = left * x
        assert isinstance(out, impl.Number) and out.value == 4.0 and out.children == (x,)
    assert isinstance(x * np.float64(2), impl.Number)
    arr = np.array([x, y], dtype=object)
    assert (arr @ arr).value == 13.0
    total = (arr * 2 + 1).sum()
    assert isinstance(total, impl.Number) and total.value == 12.0
    assert isinstance(x + np.array(1.5), impl.Number)
    total.backward()
    assert x.gradient == 2.0 and y.gradient == 2.0


def test_sum_and_dot_are_single_nary_nodes(impl):
    xs = [impl.Number(v) for v in (1.0, 2.0, 3.0)]
    s = impl.sum(xs)
    assert s.op == "sum" and s.children == tuple(xs) and s.value == 6.0
    s2 = impl.sum([xs[0], 10, xs[1], 0.5])
    assert s2.children == (xs[0], xs[1]) and s2.value == 13.5
    d = impl.dot(xs, [1.0, xs[0], 2])
    assert d.op == "dot" and d.value == 1.0 + 2.0 * 1.0 + 3.0 * 2.0
    assert d.children == (xs[0], xs[1], xs[2], xs[0])
    d.backward()
    assert [x.gradient for x in xs] == [1.0 + 2.0, 1.0, 2.0]
    assert impl.sum([]).value == 0.0 and impl.sum([]).op == ""
    assert impl.sum([1.0, 2.5]).op == "" and impl.sum(iter(xs)).value == 6.0
    with pytest.raises(ValueError, match="lengths differ"):
        impl.dot(xs, [1.0])
    with pytest.raises(TypeError):
        impl.sum([xs[0], "a"])


def test_sum_adds_left_to_right(impl):
    vals = [1e16, 1.0, -1e16, 1.0]
    acc = 0.0
    for v in vals:
        acc += v
    assert impl.sum([impl.Number(v) for v in vals]).value == acc


def test_no_grad_and_detach(impl):
    x = impl.Number(2.0)
    assert impl.is_grad_enabled()
    with impl.no_grad():
        assert not impl.is_grad_enabled()
        y = x * x + 1
        s = impl.sum([x, x])
        with impl.no_grad():
            pass
        assert not impl.is_grad_enabled()
    assert impl.is_grad_enabled()
    assert y.op == "" and y.children == () and y.value == 5.0 and s.op == ""
    d = (x * 3).detach()
    assert d.op == "" and d.value == 6.0 and d.children == ()


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trips_as_leaf(impl, protocol):
    x = impl.Number(-0.0)
    x.gradient = 0.1
    y = (x + 1.5) * x
    y.gradient = math.nan
    for n in (x, y):
        back = pickle.loads(pickle.dumps(n, protocol))
        assert bits(back.value) == bits(n.value) and bits(back.gradient) == bits(n.gradient)
        assert back.op == "" and back.children == ()


def test_copy_and_deepcopy(impl):
    x = impl.Number(1.5)
    y = x * 2
    y.gradient = 3.0
    for c in (copy.copy(y), copy.deepcopy(y)):
        assert c is not y and c.value == 3.0 and c.gradient == 3.0 and c.op == ""
    model = {"w": [impl.Number(0.25), impl.Number(-1.0)], "b": y}
    clone = copy.deepcopy(model)
    assert [w.value for w in clone["w"]] == [0.25, -1.0] and clone["w"][0] is not model["w"][0]


def test_subclass_works(impl):
    class N2(impl.Number):
        pass
    a = N2(2.0)
    b = a * a + N2(1.0)
    b.backward()
    assert a.gradient == 4.0 and isinstance(b, impl.Number)
    chain = a
    for _ in range(100_000):          # subclass leaf, a long chain freed without recursion
        chain = chain * 1.0
    del chain


@pytest.mark.parametrize("real", [np.float64(0.1), np.float32(0.1), np.float16(0.1), np.int64(-3),
                                  np.int32(7), np.uint8(200), np.bool_(True), True, False,
                                  Fraction(1, 3), Decimal("0.1"), 2 ** 60 + 1])
def test_real_operands_on_either_side_are_float_of_them(impl, real):
    """The core's fast paths for real operands (a cache of real types) give
    what float() gives, as the reference does, on both sides of every op."""
    x = impl.Number(0.7)
    for _ in range(3):                           # the cached path too
        for out, expect in ((x * real, 0.7 * float(real)), (real * x, float(real) * 0.7),
                            (x - real, 0.7 - float(real)), (real - x, float(real) - 0.7)):
            assert bits(out.value) == bits(expect) and out.children == (x,)


def _reverse_topological(root):
    order, seen = [], set()

    def visit(n):                         # small graphs: recursion is fine here
        if id(n) not in seen:
            seen.add(id(n))
            for k in n.children:
                visit(k)
            order.append(n)
    visit(root)
    return order[::-1]


@pytest.mark.parametrize("build", [
    lambda x, w: (x * w).relu() + x ** 2 / w,
    lambda x, w: ((x - w).tanh() * x).exp() + (w * 0.5).sigmoid(),
    lambda x, w: (x * w + 1.0) * (x * w) - 3.0 / x,
], ids=["relu-pow-div", "tanh-exp-sigmoid", "shared-node"])
def test_backward_by_hand_with_the_lectures_backward_steps(impl, build):
    """micrograd 0.1.0's lectures call node._backward() on each node, from the
    output down; the same steps here give backward()'s gradients exactly."""
    x, w = impl.Number(1.5), impl.Number(-0.75)
    out = build(x, w)
    out.backward()
    want = (x.gradient, w.gradient)
    x2, w2 = impl.Number(1.5), impl.Number(-0.75)
    out2 = build(x2, w2)
    out2.grad = 1.0
    for node in _reverse_topological(out2):
        node._backward()
    assert (x2.gradient, w2.gradient) == want
    assert x2._backward() is None and x2.gradient == want[0]     # a leaf: nothing


@pytest.mark.parametrize("kind", ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                  "uint32", "uint64", "float16", "float32", "float64",
                                  "longdouble"])
def test_numpy_scalars_on_either_side_are_their_float(impl, kind):
    """Every NumPy scalar type, first or second, is the float float() gives
    (a bool by its truth), on the fast path the core caches by type too."""
    import numpy as np
    info = np.iinfo(kind) if kind.startswith(("int", "uint")) else None
    for v in (0, 1, 3) + ((info.min, info.max) if info else (-2.5, 1e-3)):
        s = getattr(np, kind)(v)
        x = impl.Number(1.5)
        for _ in range(2):                     # the second time from the type cache
            assert (x * s).value == 1.5 * float(s) and (s * x).value == float(s) * 1.5
            assert (x - s).value == 1.5 - float(s) and (s - x).value == float(s) - 1.5
