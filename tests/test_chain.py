"""Chain, on both backends."""
import math

import pytest

from micrograd import _optable
from micrograd.chain import Step


def test_seed_article_example(impl):
    x, y = impl.Number(2), impl.Number(3)
    z = impl.Chain([x, y]).add(x.mul(y)).result()
    assert z.value == 12.0
    z.backward()
    assert x.gradient == 6.0 and y.gradient == 4.0
    assert isinstance(z, impl.Number)


def test_start_forms(impl):
    x = impl.Number(2.5)
    assert impl.Chain(x).result() is x
    assert impl.Chain([x]).result() is x                      # one element: itself
    assert impl.Chain((x,)).result() is x
    three = impl.Chain([x, 2, impl.Number(4.0)]).result()     # left to right
    assert three.value == 2.5 * 2 * 4.0 and three.op == "mul"
    assert three.children[0].children == (x,)
    real = impl.Chain([1.5, 2.0]).result()
    assert real.value == 3.0
    assert isinstance(impl.Chain([1.5, x]).result(), impl.Number)
    with pytest.raises(ValueError, match="empty"):
        impl.Chain([])
    with pytest.raises(TypeError):
        impl.Chain("12")


def test_steps_return_new_chains_and_branch(impl):
    x = impl.Number(0.5)
    base = impl.Chain(x).mul(2.0)
    left, right = base.exp(), base.neg()
    assert base.result().value == 1.0 and len(base) == 1
    assert left.result().value == math.exp(1.0) and right.result().value == -1.0
    assert [s.name for s in left.steps] == ["mul", "exp"]
    assert [s.name for s in right.steps] == ["mul", "neg"]


STEPS = [
    ("add", lambda c, n: c.add(n), lambda v, n: v + n),
    ("sub", lambda c, n: c.sub(n), lambda v, n: v - n),
    ("mul", lambda c, n: c.mul(n), lambda v, n: v * n),
    ("div", lambda c, n: c.div(n), lambda v, n: v / n),
    ("pow", lambda c, n: c.pow(n), lambda v, n: v ** n),
    ("rsub", lambda c, n: c.rsub(n), lambda v, n: n - v),
    ("rdiv", lambda c, n: c.rdiv(n), lambda v, n: n / v),
]


@pytest.mark.parametrize("name,step,oracle", STEPS, ids=[s[0] for s in STEPS])
def test_binary_steps_with_numbers_and_reals(impl, name, step, oracle):
    for operand in (impl.Number(1.25), 1.25, 3):
        x = impl.Number(0.75)
        chain = step(impl.Chain(x), operand)
        expect = oracle(x, operand)
        got = chain.result()
        assert got.value == expect.value and got.op == expect.op
        record = chain.steps[-1]
        assert record.name == name and record.operand is operand
        assert record.op == got.op           # op names, never codes


UNARY = [op.name for op in _optable.of_kind("UNARY")] + ["softplus", "leaky_relu", "elu"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_steps_are_the_number_methods(impl, name):
    x = impl.Number(0.3)
    got = getattr(impl.Chain(x), name)().result()
    expect = abs(x) if name == "abs" else getattr(x, name)()
    assert got.value == expect.value and got.op == expect.op
    got.backward()
    g = x.gradient
    x.gradient = 0.0
    expect.backward()
    assert x.gradient == g


def test_parametrised_activation_steps(impl):
    x = impl.Number(-0.5)
    assert impl.Chain(x).leaky_relu(0.2).result().value == x.leaky_relu(0.2).value
    assert impl.Chain(x).elu(2.0).result().value == x.elu(2.0).value
    assert impl.Chain(x).softplus(beta=2.0, threshold=5.0).result().value == \
        x.softplus(2.0, 5.0).value
    tanh_form = impl.Chain(x).gelu(approximate="tanh")
    assert tanh_form.result().op == "gelu_tanh" and tanh_form.steps[-1].op == "gelu_tanh"


def test_apply_takes_any_callable(impl):
    x = impl.Number(2.0)

    def square_plus_one(n):
        return n * n + 1

    chain = impl.Chain(x).apply(square_plus_one).apply(lambda n: n.tanh())
    assert chain.result().value == math.tanh(5.0)
    assert chain.steps[0] == Step("apply", None, square_plus_one)
    with pytest.raises(TypeError, match="not a Number"):
        impl.Chain(x).apply(lambda n: 3.0)


def test_failing_step_keeps_its_type_and_names_the_step(impl):
    chain = impl.Chain(impl.Number(0.0)).mul(2.0)
    with pytest.raises(ValueError) as err:
        chain.sqrt().neg().log()
    assert "step 4 (log)" in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)
    with pytest.raises(ZeroDivisionError, match=r"step 2 \(div\)"):
        chain.div(0)
    with pytest.raises(ZeroDivisionError, match=r"step 2 \(rdiv\)"):
        chain.rdiv(1.0)
    with pytest.raises(TypeError, match=r"step 2 \(add\)"):
        chain.add("x")
    with pytest.raises(OverflowError, match=r"step 3 \(exp\)"):
        chain.add(1000.0).exp()
    assert chain.result().value == 0.0 and len(chain) == 1      # unchanged


def test_repr_shows_the_steps(impl):
    x = impl.Number(2.0)
    text = repr(impl.Chain([x, 3.0]).add(1).tanh().apply(abs))
    assert text.startswith("Chain([Number(value=2.0, gradient=0.0), 3.0]).add(1).tanh().apply(abs)")
    assert text.endswith(repr(impl.Chain([x, 3.0]).add(1).tanh().apply(abs).result()))


def test_chain_result_equals_operator_graph_bit_for_bit(impl):
    a, b = impl.Number(0.37), impl.Number(-1.2)
    c = impl.Chain(a).mul(b).add(0.5).tanh().rsub(1.0).pow(2).sigmoid().result()
    d = (1.0 - (a * b + 0.5).tanh()) ** 2
    d = d.sigmoid()
    assert c.value == d.value
    c.backward()
    ga, gb = a.gradient, b.gradient
    a.gradient = b.gradient = 0.0
    d.backward()
    assert (a.gradient, b.gradient) == (ga, gb)


@pytest.mark.core
def test_chain_works_with_either_backend(both):
    for chain_mod in both:
        for mod in both:
            z = chain_mod.Chain([mod.Number(2.0), 4.0]).exp().mul(2).rsub(1.0).tanh().result()
            assert isinstance(z, mod.Number)
            assert z.value == math.tanh(1.0 - 2 * math.exp(8.0))
            with pytest.raises(ValueError, match=r"step 1 \(log\)"):
                chain_mod.Chain(mod.Number(-1.0)).log()


def test_twins_record_and_show_the_same(both):
    core, py = both
    x = core.Number(0.5)
    a = core.Chain([x, 2.0]).add(x).leaky_relu(0.1).apply(abs).softplus(beta=2.0)
    b = py.Chain([x, 2.0]).add(x).leaky_relu(0.1).apply(abs).softplus(beta=2.0)
    assert a.steps == b.steps and repr(a) == repr(b) and len(a) == len(b) == 4
    assert a.result().value == b.result().value


def test_long_chain_is_freed_without_recursion(impl):
    c = impl.Chain(impl.Number(1.0))
    for _ in range(200_000):
        c = c.mul(1.0)
    assert len(c) == 200_000
    del c


def test_methods_are_written_once(both):
    """Every shared method is ChainMethods' on the reference and on the core
    (installed, unless the core compiles it: then with the same docstring)."""
    from micrograd._chain_methods import BINARY_STEPS, ChainMethods
    core, ref = both
    for name, shared in vars(ChainMethods).items():
        if name.startswith("__") and name not in ("__reduce__", "__copy__", "__deepcopy__"):
            continue
        assert getattr(ref.Chain, name) is getattr(ChainMethods, name)
        mine = core.Chain.__dict__[name]
        if mine is not shared:          # compiled: the hot path and type slots only
            assert name in BINARY_STEPS + ("result",), name
        doc = getattr(core.Chain, name).__doc__ or ""
        if doc.startswith(f"Chain.{name}("):    # Cython's embedded signature line
            doc = doc.split("\n", 1)[1].lstrip("\n")
        assert doc == (getattr(ref.Chain, name).__doc__ or ""), name
