"""Nested transforms against torch.func: each level differentiates with
respect to its own variable only, and its result stays differentiable with
respect to the variables it closes over (no perturbation confusion).

A random nesting is an expression over the variables in scope, in which a
node may apply a transform (grad, value_and_grad, hessian, hvp, jacobian) to
a body over a new variable, at an argument that is itself an expression
(often exactly an outer variable).  The outermost level is grad over x.  The
same tree is evaluated with micrograd and with torch.func, float64."""
import math

import pytest
from hypothesis import assume, given, settings, strategies as st

import micrograd as mg

# torch.func's hessian reaches torch.jit.script, which torch 2.13 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")

KINDS = ("grad", "value_and_grad", "hessian", "hvp", "jacobian")
UNARY = ("sin", "tanh", "exp", "sq")
NAMES = "xyzw"


@st.composite
def trees(draw, scope=1, depth=0, size=3):
    """An expression over NAMES[:scope], at most `size` operations deep;
    transforms nest up to three levels (with the outermost grad)."""
    leaves = ["var", "var", "const"]
    ops = ["add", "mul", "unary"] + (["T", "T"] if depth < 2 else [])
    choice = draw(st.sampled_from(leaves + (ops if size > 0 else [])))
    if choice == "var":
        return ("var", NAMES[draw(st.integers(0, scope - 1))])
    if choice == "const":
        return ("const", draw(st.sampled_from([0.5, -1.5, 2.0, 0.25])))
    if choice in ("add", "mul"):
        return (choice, draw(trees(scope, depth, size - 1)), draw(trees(scope, depth, size - 1)))
    if choice == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), draw(trees(scope, depth, size - 1)))
    kind = draw(st.sampled_from(KINDS))
    var = NAMES[scope]
    # the body always uses its own variable, and often the outer ones
    body = ("mul", ("add", ("var", var), draw(trees(scope + 1, depth + 1, size - 1))),
            draw(trees(scope + 1, depth + 1, size - 1)))
    second = draw(trees(scope + 1, depth + 1, size - 1))  # jacobian's second output
    arg = draw(st.one_of(st.just(("var", NAMES[draw(st.integers(0, scope - 1))])),
                         trees(scope, depth + 1, size - 1)))
    return ("T", kind, var, body, second, arg, draw(st.sampled_from([0, 1])))


def ev_mg(mod, tree, env):
    tag = tree[0]
    if tag == "var":
        return env[tree[1]]
    if tag == "const":
        return mod.Number(tree[1])
    if tag == "add":
        return ev_mg(mod, tree[1], env) + ev_mg(mod, tree[2], env)
    if tag == "mul":
        return ev_mg(mod, tree[1], env) * ev_mg(mod, tree[2], env)
    if tag == "unary":
        a = ev_mg(mod, tree[2], env)
        if tree[1] == "sq":
            return a * a
        if tree[1] == "exp":
            return (a * 0.25).exp()
        return getattr(a, tree[1])()
    _, kind, var, body, second, arg, pick = tree
    at = ev_mg(mod, arg, env)

    def f(v):
        return ev_mg(mod, body, {**env, var: v})
    if kind == "grad":
        return mg.grad(f)(at)
    if kind == "value_and_grad":
        value, g = mg.value_and_grad(f)(at)
        return value + g
    if kind == "hessian":
        return mg.hessian(f)(at)[0][0]
    if kind == "hvp":
        return mg.hvp(f, [at], [1.5])[0]
    return mg.jacobian(lambda v: [f(v), ev_mg(mod, second, {**env, var: v})])(at)[pick][0]


def ev_torch(torch, tree, env):
    from torch.func import grad, hessian, jacrev
    tag = tree[0]
    if tag == "var":
        return env[tree[1]]
    if tag == "const":
        return torch.tensor(tree[1], dtype=torch.float64)
    if tag == "add":
        return ev_torch(torch, tree[1], env) + ev_torch(torch, tree[2], env)
    if tag == "mul":
        return ev_torch(torch, tree[1], env) * ev_torch(torch, tree[2], env)
    if tag == "unary":
        a = ev_torch(torch, tree[2], env)
        if tree[1] == "sq":
            return a * a
        if tree[1] == "exp":
            return torch.exp(a * 0.25)
        return getattr(torch, tree[1])(a)
    _, kind, var, body, second, arg, pick = tree
    at = ev_torch(torch, arg, env)

    def f(v):
        return ev_torch(torch, body, {**env, var: v})
    if kind == "grad":
        return grad(f)(at)
    if kind == "value_and_grad":
        return f(at) + grad(f)(at)
    if kind == "hessian":
        return hessian(f)(at)
    if kind == "hvp":
        return 1.5 * hessian(f)(at)
    return jacrev(lambda v: torch.stack([f(v), ev_torch(torch, second, {**env, var: v})]))(at)[pick]


def close(a, b, tol=1e-12):
    """tol relative, and tol absolute below 1: a nesting often cancels large
    terms to a small result, where the two libraries' second-order formulas
    (each correct to a few ulps of the terms) differ by more than ulps of it."""
    return (a == b or abs(a - b) <= tol * max(abs(a), abs(b), 1.0)
            or (math.isnan(a) and math.isnan(b)))


@settings(max_examples=max(500, settings().max_examples), deadline=None)
@given(trees(), st.sampled_from([0.7, -0.3, 1.1]))
def test_random_nestings_agree_with_torch_func(impl, torch, tree, x0):
    from torch.func import grad
    want = grad(lambda x: ev_torch(torch, tree, {"x": x}) * 1.0)(
        torch.tensor(x0, dtype=torch.float64)).item()
    assume(math.isfinite(want) and abs(want) < 1e100)
    try:
        got = mg.grad(lambda x: ev_mg(impl, tree, {"x": x}) * 1.0)(impl.Number(x0))
    except OverflowError:             # exp of an exp: torch's float overflowed too
        assume(False)
    assert close(float(got), want), (tree, got, want)


@pytest.mark.parametrize("case, want", [
    ("x * grad(y -> x * y)(1.0)", 4.0),
    ("grad(y -> x * y)(x)", 1.0),
    ("x * grad(y -> x + y)(x)", 1.0),
])
def test_the_classic_confusions(impl, case, want):
    fns = {"x * grad(y -> x * y)(1.0)": lambda x: x * mg.grad(lambda y: x * y)(1.0),
           "grad(y -> x * y)(x)": lambda x: mg.grad(lambda y: x * y)(x),
           "x * grad(y -> x + y)(x)": lambda x: x * mg.grad(lambda y: x + y)(x)}
    assert mg.grad(fns[case])(impl.Number(2.0 if "1.0" in case else 1.0)) == want


def test_sin_of_a_product_nested_as_torch_func(impl, torch):
    from torch.func import grad
    got = mg.grad(lambda x: mg.grad(lambda y: (x * y).sin())(x))(impl.Number(0.7))
    want = grad(lambda x: grad(lambda y: torch.sin(x * y))(x))(
        torch.tensor(0.7, dtype=torch.float64)).item()
    assert close(got, want) and abs(got - 0.4211194882023866) < 1e-15
