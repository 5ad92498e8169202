"""Custom ops (micrograd.custom_op): a user's forward and derivative as one node.

A custom op whose functions are a table op's own formulas gives that op's
bits (value, gradient, tangent); against the same function written with
table ops it agrees within what the formulas allow; against torch float64
to the first and (with `second`) second order; core and reference give the
same bits; it works in a Chain, under no_grad, in detect_anomaly (named)
and with hooks; bad use raises the same on both backends and changes
nothing; a tape refuses it, naming it.
"""
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import micrograd as mg
from micrograd import _ops_py, _optable
from graphs import floats, same_float

REL = 1e-12


def close(a, b, rel=REL):
    return abs(a - b) <= 1e-300 + rel * max(abs(a), abs(b))


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# x * sin(y), its partials, and its partials as ops (for second derivatives)
xsin = mg.custom_op(lambda x, y: x * math.sin(y),
                    lambda x, y, out: (math.sin(y), x * math.cos(y)),
                    name="xsin", second=lambda x, y, out: (y.sin(), x * y.cos()))
# softplus written out, with its second derivative from the table's sigmoid
softplus = mg.custom_op(lambda x: math.log1p(math.exp(-abs(x))) + max(x, 0.0),
                        lambda x, out: (_sigmoid(x),),
                        name="softplus_of_the_tests", second=lambda x, out: (x.sigmoid(),))
# no second: first order only
plain = mg.custom_op(lambda x: x * x, lambda x, out: (2.0 * x,), name="square")


def _table_twins():
    """For each plain unary row, a custom op made of its own formulas."""
    twins = []
    for op in _optable.of_kind("UNARY"):
        fwd, bwd = _ops_py.FWD[op.code], _ops_py.BWD[op.code]
        twins.append((op.name, mg.custom_op(fwd, lambda x, y, bwd=bwd: (bwd(1.0, x, y),),
                                            name="twin_" + op.name)))
    return twins


TWINS = _table_twins()
POINTS = [-3.5, -0.75, -0.0, 0.0, 0.3, 1.0, 2.5, 40.0]


# -- the op itself ---------------------------------------------------------------
def test_the_node_carries_the_name_and_the_operands(impl):
    x, y = impl.Number(0.5), impl.Number(2.0)
    z = xsin(x, y)
    assert z.op == "xsin" and z._op == "xsin"
    assert z.children == (x, y)
    assert type(z) is impl.Number
    assert z.value == 0.5 * math.sin(2.0)
    assert "xsin" in mg.to_dot(z)
    # a real operand costs no node, in any position
    w = xsin(3.0, y)
    assert w.children == (y,) and w.value == 3.0 * math.sin(2.0)
    w.backward()
    assert y.gradient == 3.0 * math.cos(2.0)


def test_a_node_is_a_node_like_any_other(impl):
    x = impl.Number(0.5)
    z = xsin(x, 2.0)
    with pytest.raises(TypeError, match=r"result of an op \('xsin'\) and cannot become a leaf"):
        z.__init__(1.0)

    class Tracked(impl.Number):             # a __dict__: the GC tracks it
        pass
    t = Tracked(0.5)
    t.out = xsin(t, 2.0)                    # a cycle through the graph
    assert t.out.children == (t,)
    t.out.backward()
    assert t.gradient == math.sin(2.0)
    z._backward()                           # 0.1.0's one step, by hand
    assert x.gradient == 0.0 * math.sin(2.0)


def test_all_real_operands_give_a_leaf_without_calling_derivative(impl):
    calls = []
    op = mg.custom_op(lambda x: x + 1.0, lambda x, out: calls.append(x) or (1.0,),
                      name="inc")
    n = op(impl.Number(1.0).value)
    assert n.op == "" and n.value == 2.0 and calls == []


@pytest.mark.parametrize("name, op", TWINS, ids=[t[0] for t in TWINS])
def test_a_twin_of_a_table_op_gives_its_bits(impl, name, op):
    """forward and derivative the row's own formulas: value, gradient and
    tangent are the table op's, bit for bit (as the root, g = 1)."""
    for v in POINTS:
        try:
            expect = _ops_py.FWD[_optable.NAMES.index(name)](v)
        except (ArithmeticError, ValueError):
            continue
        a, b = impl.Number(v), impl.Number(v)
        ya, yb = getattr(a, name)(), op(b)
        assert same_float(ya.value, yb.value) and same_float(yb.value, expect)
        ya.backward()
        yb.backward()
        assert same_float(a.gradient, b.gradient), (name, v)
        ta = mg.jvp(lambda t: getattr(t, name)(), [impl.Number(v)], [1.0])
        tb = mg.jvp(op, [impl.Number(v)], [1.0])
        assert same_float(ta[1], tb[1]), (name, v)


def test_against_the_same_function_written_with_table_ops(impl):
    """x * sin(y): value and gradients are the composition's bits (the same
    products, seed 1); softplus within an ulp or two of the table's."""
    x, y = impl.Number(0.7), impl.Number(-1.3)
    a = xsin(x, y)
    a.backward()
    got = (a.value, x.gradient, y.gradient)
    x2, y2 = impl.Number(0.7), impl.Number(-1.3)
    b = x2 * y2.sin()
    b.backward()
    assert got == (b.value, x2.gradient, y2.gradient)
    for v in POINTS:
        p, q = impl.Number(v), impl.Number(v)
        s, t = softplus(p), q.softplus()
        s.backward()
        t.backward()
        assert close(s.value, t.value, 1e-15) and close(p.gradient, q.gradient, 1e-15)


def test_a_custom_op_inside_a_graph(impl):
    """Backward multiplies the incoming gradient by each partial, and adds
    into operands used elsewhere, as any node."""
    x = impl.Number(0.4)
    z = softplus(x * 3.0) * x + xsin(x, x)
    z.backward()
    s = _sigmoid(1.2)
    expect = (s * 3.0 * 0.4 + math.log1p(math.exp(1.2)) + math.sin(0.4)
              + 0.4 * math.cos(0.4))
    assert close(x.gradient, expect)


def _mixed(a, b):
    return xsin(softplus(a * b), b) / (a + softplus(b)) + plain(a - b)


def _pair(a, b):
    return xsin(softplus(a * b), b)


@pytest.mark.parametrize("v, w", [(0.3, -1.1), (2.5, 0.25), (-4.0, 3.0), (0.0, -0.0)])
def test_core_and_reference_give_the_same_bits(both, v, w):
    got = []
    for mod in both:
        x, y = mod.Number(v), mod.Number(w)
        z = _mixed(x, y)
        z.backward()
        jv = mg.jvp(_mixed, [mod.Number(v), mod.Number(w)], [0.5, -2.0])
        jac = mg.jacfwd(_pair)(mod.Number(v), mod.Number(w))
        h = mg.hessian(_pair)(mod.Number(v), mod.Number(w))
        got.append([z.value, x.gradient, y.gradient, *jv, *jac[0], *h[0], *h[1]])
    assert all(same_float(a, b) for a, b in zip(*got)), got


# three operands, any of them a real: a * b + c * c
fma3 = mg.custom_op(lambda a, b, c: a * b + c * c, lambda a, b, c, out: (b, a, 2.0 * c),
                    name="fma3", second=lambda a, b, c, out: (b, a, c * 2.0))
STEP_OPS = [op for _, op in TWINS] + ["xsin", "fma3", "mul", "add"]


@st.composite
def _custom_programs(draw):
    inputs = draw(st.lists(floats, min_size=1, max_size=3))
    steps, n = [], len(inputs)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(STEP_OPS))
        slot = st.one_of(st.integers(0, n - 1), floats.map(lambda v: ("c", v)))
        arity = {"xsin": 2, "fma3": 3, "mul": 2, "add": 2}.get(op, 1)
        args = [draw(st.integers(0, n - 1))] + [draw(slot) for _ in range(arity - 1)]
        steps.append((op, args))
        n += 1
    return inputs, steps


def _run_custom(mod, program):
    """The program's nodes on mod's Numbers, or the exception a step raised."""
    inputs, steps = program
    nodes = [mod.Number(v) for v in inputs]
    for op, args in steps:
        vals = [a[1] if isinstance(a, tuple) else nodes[a] for a in args]
        try:
            if op == "mul":
                out = vals[0] * vals[1]
            elif op == "add":
                out = vals[0] + vals[1]
            else:
                out = {"xsin": xsin, "fma3": fma3}.get(op, op)(*vals)
        except Exception as exc:            # noqa: BLE001 - compared across backends
            return nodes, (type(exc), str(exc))
        nodes.append(out)
    return nodes, None


@given(_custom_programs())
def test_random_graphs_with_custom_ops_give_the_same_bits_on_both_backends(both, program):
    got = []
    for mod in both:
        nodes, err = _run_custom(mod, program)
        if err is not None:
            got.append([err])
            continue
        root, leaves = nodes[-1], nodes[:len(program[0])]
        root.backward()
        tangents = mod.forward_tangents([root], leaves, [[1.0] * len(leaves)])[0]
        got.append([root.value] + [x.gradient for x in leaves] + tangents)
    assert len(got[0]) == len(got[1])
    if isinstance(got[0][0], tuple):
        assert got[0] == got[1]
    else:
        assert all(same_float(a, b) for a, b in zip(*got)), got


# -- against torch float64 ----------------------------------------------------------
POINTS2 = [(0.3, -1.1), (2.5, 0.25), (-4.0, 3.0), (1e-3, 7.0)]


def _f(mod_ops, a, b):
    """softplus(a * b) * sin(b) ... written once for torch and for us."""
    return mod_ops["xsin"](mod_ops["softplus"](a * b), b) + mod_ops["softplus"](a) * a


OURS = {"xsin": xsin, "softplus": softplus}


def _torch_ops(torch):
    return {"xsin": lambda x, y: x * torch.sin(y),
            "softplus": torch.nn.functional.softplus}


@pytest.mark.parametrize("v, w", POINTS2)
def test_first_and_second_order_agree_with_torch(impl, torch, v, w):
    ta = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    out = _f(_torch_ops(torch), ta, tb)
    ga, gb = torch.autograd.grad(out, (ta, tb), create_graph=True)
    H = [[h.item() for h in torch.autograd.grad(g, (ta, tb), retain_graph=True)]
         for g in (ga, gb)]
    x, y = impl.Number(v), impl.Number(w)
    z = _f(OURS, x, y)
    z.backward()
    assert close(z.value, out.item())
    assert close(x.gradient, ga.item()) and close(y.gradient, gb.item())
    ours = mg.hessian(lambda a, b: _f(OURS, a, b))(impl.Number(v), impl.Number(w))
    for r in range(2):
        for c in range(2):
            assert close(ours[r][c], H[r][c], 1e-11), (r, c, ours, H)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
@pytest.mark.parametrize("v, w", POINTS2)
def test_jvp_and_jacfwd_agree_with_torch(impl, torch, v, w):
    from torch.func import jacfwd, jvp
    ops = _torch_ops(torch)
    args = (torch.tensor(v, dtype=torch.float64), torch.tensor(w, dtype=torch.float64))
    _, tan = jvp(lambda a, b: _f(ops, a, b), args,
                 (torch.tensor(0.5, dtype=torch.float64), torch.tensor(-2.0, dtype=torch.float64)))
    value, ours = mg.jvp(lambda a, b: _f(OURS, a, b), [impl.Number(v), impl.Number(w)],
                         [0.5, -2.0])
    assert close(ours, tan.item())
    J = jacfwd(lambda a, b: _f(ops, a, b), argnums=(0, 1))(*args)
    got = mg.jacfwd(lambda a, b: _f(OURS, a, b))(impl.Number(v), impl.Number(w))
    assert close(got[0][0], J[0].item()) and close(got[0][1], J[1].item())


def test_create_graph_gives_differentiable_gradients(impl):
    x = impl.Number(0.8)
    z = softplus(x) * x
    z.backward(create_graph=True)
    g = x.grad_node
    assert close(g.value, x.gradient)
    x.gradient = 0.0
    g.backward()
    s = _sigmoid(0.8)
    assert close(x.gradient, 2 * s + 0.8 * s * (1 - s))


# -- second derivatives without `second`, and a bad `second` -------------------------
def _second_error(mod, op, *vals):
    with pytest.raises(Exception) as info:
        mg.grad(mg.grad(op))(*[mod.Number(v) for v in vals])
    return type(info.value), str(info.value)


def test_without_second_a_second_derivative_names_the_op(both):
    errs = [_second_error(mod, plain, 0.5) for mod in both]
    assert errs[0] == errs[1]
    assert errs[0][0] is NotImplementedError and "'square'" in errs[0][1]
    x = both[1].Number(0.5)
    with pytest.raises(NotImplementedError, match="'square' has no second derivative"):
        plain(x).backward(create_graph=True)
    assert x.gradient == 0.0 and x.grad_node is None      # nothing changed


@pytest.mark.parametrize("second, kind, words", [
    (lambda x, out: (x, x), ValueError, "second returned 2 partials for 1 operand"),
    (lambda x, out: x, TypeError, "second must return a tuple"),
    (lambda x, out: ("a",), TypeError, "second's partial 0 must be a real, not str"),
])
def test_a_bad_second_raises_the_same_on_both_backends(both, second, kind, words):
    op = mg.custom_op(lambda x: x * x, lambda x, out: (2.0 * x,), name="bad_second",
                      second=second)
    errs = [_second_error(mod, op, 0.5) for mod in both]
    assert errs[0] == errs[1] and errs[0][0] is kind and words in errs[0][1]


def test_second_of_the_other_backend_is_refused(both):
    core, ref = both
    op = mg.custom_op(lambda x: x * x, lambda x, out: (2.0 * x,), name="other_second",
                      second=lambda x, out: (ref.Number(2.0) * x.value,))
    with pytest.raises(TypeError, match="cannot mix"):
        mg.grad(mg.grad(op))(core.Number(0.5))


def test_second_may_give_reals(impl):
    lin = mg.custom_op(lambda x: 3.0 * x, lambda x, out: (3.0,), name="lin",
                       second=lambda x, out: (3.0,))
    assert mg.grad(mg.grad(lambda x: lin(x) * x))(impl.Number(2.0)) == 6.0


# -- Chain, no_grad, anomaly, hooks, pickles --------------------------------------------
def test_in_a_chain(impl):
    x = impl.Number(0.5)
    c = impl.Chain(x).mul(2.0).apply(softplus).add(1.0)
    r = c.result()
    assert c.steps[1] == mg.Step("apply", None, softplus)
    assert "apply(softplus_of_the_tests)" in repr(c)
    assert r.value == softplus(1.0).value + 1.0
    r.backward()
    assert close(x.gradient, 2.0 * _sigmoid(1.0))
    back = pickle.loads(pickle.dumps(c))         # the op by reference, by its name
    assert back.result().value == r.value and back.steps[1].operand is softplus


def test_a_chain_step_that_fails_says_which(impl):
    with pytest.raises(TypeError, match=r"Chain step 1 \(apply\) failed: .*takes 2 operands"):
        impl.Chain(impl.Number(0.5)).apply(xsin)


def test_under_no_grad_a_leaf_and_no_derivative(impl):
    calls = []
    op = mg.custom_op(lambda x: x * 2.0, lambda x, out: calls.append(x) or (2.0,),
                      name="double")
    x = impl.Number(1.5)
    with impl.no_grad():
        y = op(x)
    assert y.op == "" and y.children == () and y.value == 3.0 and calls == []
    z = op(x)
    assert z.op == "double" and calls == [1.5]


def test_anomaly_names_the_op(both):
    nan_forward = mg.custom_op(lambda x: math.nan, lambda x, out: (0.0,), name="nanny")
    nan_partial = mg.custom_op(lambda x: x, lambda x, out: (math.nan,), name="nanpart")
    msgs = []
    for mod in both:
        x = mod.Number(0.5)
        with mod.detect_anomaly():
            with pytest.raises(mg.AnomalyError) as forward:
                nan_forward(x)
            y = nan_partial(x)
            with pytest.raises(mg.AnomalyError) as backward:
                y.backward()
        assert x.gradient == 0.0                    # put back as it was
        msgs.append((str(forward.value), str(backward.value)))
    assert msgs[0] == msgs[1]
    assert msgs[0][0].startswith("anomaly: nanny made nan from operands that are not nan (0.5)")
    assert "backward through nanpart made a nan gradient for its operand 0" in msgs[0][1]
    assert "the nanpart made at" in msgs[0][1]


def test_hooks_see_and_change_gradients(impl):
    seen = []
    x = impl.Number(0.3)
    y = softplus(x)
    y.register_hook(lambda g: seen.append(("y", g)) or g * 2.0)
    x.register_hook(lambda g: seen.append(("x", g)))
    (y * 3.0).backward()
    assert seen == [("y", 3.0), ("x", 6.0 * _sigmoid(0.3))]
    assert x.gradient == 6.0 * _sigmoid(0.3)


def test_a_pickled_result_is_a_leaf(impl):
    y = softplus(impl.Number(0.3))
    back = pickle.loads(pickle.dumps(y))
    assert back.op == "" and back.value == y.value


def test_an_op_pickles_by_name(impl):
    assert pickle.loads(pickle.dumps(softplus)) is softplus
    orphan = mg.custom_op(abs, lambda x, out: (1.0,), name="orphan_op")
    data = pickle.dumps(orphan)
    from micrograd import _custom
    del _custom._BY_NAME["orphan_op"]
    with pytest.raises(LookupError, match="'orphan_op' is not registered in this process"):
        pickle.loads(data)


# -- bad use: the same exception on both backends, nothing changed ------------------------
def _failure(fn):
    try:
        fn()
    except Exception as exc:            # noqa: BLE001 - the type is what is compared
        return type(exc), str(exc)
    return None


def _op(forward=lambda x: 2.0 * x, derivative=lambda x, out: (2.0,)):
    return mg.custom_op(forward, derivative, name="checked")


BAD_CALLS = {
    "too many operands": (_op(), lambda x: _op()(x, x), TypeError,
                          "checked() takes 1 operand (2 given)"),
    "no operands": (_op(), lambda x: _op()(), TypeError, "checked() takes 1 operand (0 given)"),
    "a string operand": (_op(), lambda x: _op()("1"), TypeError, "must be real number, not str"),
    "a wrong count": (_op(derivative=lambda x, out: (1.0, 2.0)), None, ValueError,
                      "custom op 'checked': derivative returned 2 partials for 1 operand"),
    "a non-tuple": (_op(derivative=lambda x, out: 1.0), None, TypeError,
                    "derivative must return a tuple of 1 partials, not float"),
    "a non-real partial": (_op(derivative=lambda x, out: ("a",)), None, TypeError,
                           "custom op 'checked': partial 0 must be a real, not str"),
    "a None partial": (_op(derivative=lambda x, out: (None,)), None, TypeError,
                       "partial 0 must be a real, not NoneType"),
    "a non-real forward": (_op(forward=lambda x: "2"), None, TypeError,
                           "custom op 'checked': forward's result must be a real, not str"),
    "a complex forward": (_op(forward=lambda x: 1j), None, TypeError,
                          "forward's result must be a real, not complex"),
    "forward raising": (_op(forward=lambda x: 1.0 / 0.0), None, ZeroDivisionError,
                        "float division by zero"),
    "derivative raising": (_op(derivative=lambda x, out: math.log(-x)), None, ValueError,
                           "math domain error"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_use_raises_the_same_on_both_backends_and_changes_nothing(both, case):
    op, call, kind, words = BAD_CALLS[case]
    errs = []
    for mod in both:
        x = mod.Number(0.5)
        x.gradient = 7.0
        errs.append(_failure(lambda: (call or op)(x)))
        assert x.value == 0.5 and x.gradient == 7.0 and x.children == ()
    assert errs[0] == errs[1] == (kind, errs[0][1]) and words in errs[0][1], errs


def test_a_number_returned_by_forward_or_derivative_is_refused(both):
    for mod in both:
        x = mod.Number(0.5)
        with pytest.raises(TypeError, match="forward's result must be a real, not Number"):
            _op(forward=lambda v: x)(x)
        with pytest.raises(TypeError, match="partial 0 must be a real, not Number"):
            _op(derivative=lambda v, out: (x,))(x)


def test_the_exception_of_forward_propagates_unchanged(impl):
    boom = KeyError("boom")

    def forward(x):
        raise boom
    with pytest.raises(KeyError) as info:
        _op(forward=forward)(impl.Number(1.0))
    assert info.value is boom


def test_numbers_of_both_backends_are_refused(both):
    core, ref = both
    with pytest.raises(TypeError, match="cannot mix"):
        xsin(core.Number(1.0), ref.Number(1.0))


@pytest.mark.parametrize("kwargs, kind, words", [
    ({"forward": 1}, TypeError, "custom_op: forward must be callable, not int"),
    ({"derivative": None}, TypeError, "custom_op: derivative must be callable, not NoneType"),
    ({"second": 2.0}, TypeError, "custom_op: second must be callable or None, not float"),
    ({"name": 3}, TypeError, "custom_op: name must be a str, not int"),
    ({"name": ""}, ValueError, "custom_op: name must not be empty"),
    ({"vectorized": 1}, TypeError, "custom_op: vectorized must be a bool, not int"),
])
def test_custom_op_checks_its_arguments(kwargs, kind, words):
    args = {"forward": abs, "derivative": lambda x, out: (1.0,), "name": "n"}
    args.update(kwargs)
    with pytest.raises(kind, match=words):
        mg.custom_op(args.pop("forward"), args.pop("derivative"), **args)


def test_the_name_is_required():
    with pytest.raises(TypeError, match="name"):
        mg.custom_op(abs, lambda x, out: (1.0,))


def test_arity_comes_from_the_signature_of_forward(impl):
    x = impl.Number(1.0)
    opt = mg.custom_op(lambda a, b=2.0: a * b,
                       lambda *a: (2.0,) if len(a) == 2 else (a[1], a[0]), name="optional")
    assert opt(x).value == 2.0
    with pytest.raises(TypeError, match=r"optional\(\) takes from 1 to 2 operands \(3 given\)"):
        opt(x, x, x)
    many = mg.custom_op(lambda *xs: math.fsum(xs), lambda *a: (1.0,) * (len(a) - 1),
                        name="many")
    assert many(x, 2.0, x).value == 4.0
    with pytest.raises(TypeError, match=r"many\(\) takes at least 1 operand \(0 given\)"):
        many()


# -- the tape ------------------------------------------------------------------------
# vectorized: forward and derivative on NumPy arrays of lanes, in exactly
# rounded operations only (NumPy's exp or log may differ from libm's in the
# last bit, and then a lane would differ from the op-by-op call)
softplus_v = mg.custom_op(lambda x: np.maximum(x, 0.0) + 0.25 * x * x,
                          lambda x, out: (np.where(x > 0.0, 1.0, 0.0) + 0.5 * x,),
                          name="vectorized_of_the_tests", vectorized=True)


def _traced_fn(mod):
    w = mod.Number(0.7)

    def fn(x, y):
        return xsin(softplus(x * w + y), 2.0) * y + softplus_v(x) + fma3(x, w, y)
    return fn, w


def _batch(B=300):
    X = np.random.default_rng(3).normal(size=(B, 2)) * 3.0
    X[0] = [0.0, -0.0]
    return X


@pytest.mark.parametrize("replay, threads", [("fast", 1), ("plain", 1), ("fast", 2)])
def test_a_tape_replays_custom_ops_with_the_op_by_op_bits(impl, replay, threads):
    """Each lane: the value, the input gradients and the parameter gradient
    of the same function called op by op on its sample (the vectorized op's
    NumPy formulas are the scalar ones here, so its bits are too)."""
    fn, w = _traced_fn(impl)
    tape = mg.trace(fn, impl.Number(0.1), impl.Number(0.2))
    tape.replay = replay
    X = _batch()
    out, gin = tape.value_and_grad(X, reduction="none", wrt="inputs", threads=threads)
    _, gw = tape.value_and_grad(X, reduction="none", threads=threads)
    for i in range(len(X)):
        a, b = impl.Number(X[i, 0]), impl.Number(X[i, 1])
        w.gradient = 0.0
        z = fn(a, b)
        z.backward()
        assert same_float(z.value, out[i]) and same_float(a.gradient, gin[i][0])
        assert same_float(b.gradient, gin[i][1]) and same_float(w.gradient, gw[i][0])


def test_tape_jvp_through_custom_ops_gives_the_op_by_op_bits(impl):
    fn, w = _traced_fn(impl)
    tape = mg.trace(fn, impl.Number(0.1), impl.Number(0.2))
    X = _batch(40)
    V = np.random.default_rng(4).normal(size=X.shape)
    out, tout = tape.jvp(X, V)
    for i in range(len(X)):
        value, tangent = mg.jvp(fn, [impl.Number(X[i, 0]), impl.Number(X[i, 1])],
                                [V[i, 0], V[i, 1]])
        assert same_float(value, out[i]) and same_float(tangent, tout[i])


def test_core_and_reference_tapes_give_the_same_bits_and_calls(both):
    """The same calls of the user's functions, in the same order, chunk by
    chunk (one thread), and the same bits."""
    got = []
    for mod in both:
        calls = []
        op = mg.custom_op(lambda x: calls.append(("f", x)) or math.sin(x) * x,
                          lambda x, out: calls.append(("d", x, out)) or
                          (math.sin(x) + x * math.cos(x),), name="logged_of_the_tests")
        w = mod.Number(1.5)
        tape = mg.trace(lambda x: op(x * w) + op(x), mod.Number(0.3))
        X = _batch(300)[:, :1].copy()
        out = tape(X)
        mean = tape.backward(X)
        got.append((calls, out.tolist(), mean, w.gradient, tape.jvp(X, X)[1].tolist()))
    assert got[0] == got[1]
    # the trace; forward; backward (forward and derivative); jvp (the same)
    assert len(got[0][0]) == 2 * 2 + 2 * 300 + 2 * 300 * 2 + 2 * 300 * 2


def _tape_failure(mod, op):
    w = mod.Number(2.0)
    tape = mg.trace(lambda x: op(x * w) * 3.0, mod.Number(1.0))
    X = np.array([[1.0], [0.5], [0.0], [2.0]] * 100)
    failures = [_failure(lambda: tape.backward(X)), _failure(lambda: tape(X)),
                _failure(lambda: tape.backward(X, threads=2)), _failure(lambda: tape.jvp(X, X))]
    assert w.gradient == 0.0                  # nothing added anywhere
    return failures


@pytest.mark.parametrize("op, kind, words", [
    (mg.custom_op(lambda x: 1.0 / x, lambda x, out: (-1.0 / (x * x),), name="inverse"),
     ZeroDivisionError, "float division by zero"),
    (mg.custom_op(lambda x: x, lambda x, out: (1.0,) if x else (1.0, 2.0), name="lane_count"),
     ValueError, "custom op 'lane_count': derivative returned 2 partials for 1 operand"),
    # (op by op, on floats, they are fine: the trace calls them so)
    (mg.custom_op(lambda x: np.resize(x, 2) if np.ndim(x) else x, lambda x, out: (x,),
                  name="wide",
                  vectorized=True),
     ValueError, "custom op 'wide': forward's result has shape (2,), not the chunk's"),
    (mg.custom_op(lambda x: x.astype(str) if np.ndim(x) else x, lambda x, out: (x,),
                  name="strings",
                  vectorized=True),
     TypeError, "custom op 'strings': forward's result must be reals, not <U"),
])
def test_a_custom_op_failing_in_a_lane_raises_the_same_on_both_backends(both, op, kind, words):
    errs = [_tape_failure(mod, op) for mod in both]
    assert errs[0] == errs[1]
    for err in errs[0]:
        if op.name == "lane_count" and err is None:
            continue                          # tape(X) and jvp... need no derivative
        assert err[0] is kind and words in err[1], err


def test_a_tape_with_a_custom_op_pickles_by_the_ops_name(impl):
    w = impl.Number(0.7)
    tape = mg.trace(lambda x, y: softplus(x * w) * y + softplus_v(y), impl.Number(0.5),
                    impl.Number(1.0))
    state = tape._impl.to_state()
    assert [ins[4] for ins in state["code"] if ins[0] == "CUSTOM"] == [
        "softplus_of_the_tests", softplus_v.name]
    back = pickle.loads(pickle.dumps(tape))
    X = np.random.default_rng(5).uniform(-3.0, 3.0, (2 * tape.lanes + 3, 2))
    for wrt in ("params", "inputs"):
        a, b = (t.value_and_grad(X, "none", wrt=wrt) for t in (tape, back))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(tape.jvp(X, X)[1], back.jvp(X, X)[1])


def test_a_tape_goes_to_an_executor_with_its_custom_ops(impl):
    from concurrent.futures import ThreadPoolExecutor
    w = impl.Number(0.7)
    tape = mg.trace(lambda x: softplus(x * w) * x, impl.Number(0.5))
    X = np.random.default_rng(6).uniform(-3.0, 3.0, (3 * tape.lanes + 1, 1))
    here = tape.value_and_grad(X, "sum")
    with ThreadPoolExecutor(2) as ex:
        there = tape.value_and_grad(X, "sum", executor=ex)
    assert np.array_equal(here[0], there[0]) and np.array_equal(here[1], there[1])


def test_a_pickled_tape_needs_its_custom_ops_made_where_it_loads(both):
    errs = []
    for mod in both:
        tape = mg.trace(lambda x: softplus(x), mod.Number(0.5))
        state = tape._impl.to_state()
        code = state["code"][0]
        got = []
        for c, b in (("not_made_here", code[3]), ("softplus_of_the_tests", 2),
                     (0.0, code[3])):
            state["code"] = [code[:3] + (b, c) + code[5:]]
            got.append(_failure(lambda: type(tape._impl).from_state(state, tape.params)))
        errs.append(got)
    assert errs[0] == errs[1]
    (k1, m1), (k2, m2), (k3, m3) = errs[0]
    assert k1 is k2 is k3 is ValueError
    assert "custom op 'not_made_here' is not registered in this process" in m1
    assert "'softplus_of_the_tests' with 2 operands" in m2
    assert m3 == "tape: the pickled tape is not consistent"


def test_a_traced_custom_node_shows_its_name(impl):
    shown = []

    def fn(x):
        y = softplus(x)
        shown.append(repr(y))
        return x * 2.0
    mg.trace(fn, impl.Number(0.5))
    assert shown == ["Number(traced, op='softplus_of_the_tests')"]


def test_a_pickled_tape_naming_the_custom_row_is_refused(impl):
    tape = mg.trace(lambda x, y: impl.dot([x, 2.0], [y, x]), impl.Number(0.5), impl.Number(1.0))
    state = tape._impl.to_state()
    assert [ins[0] for ins in state["code"]] == ["DOT"]
    state["code"] = [("CUSTOM",) + tuple(state["code"][0][1:])]
    with pytest.raises(ValueError, match="not consistent"):
        type(tape._impl).from_state(state, tape.params)


@pytest.mark.core
def test_replay_threads_call_back_into_python(both):
    """With two threads, a thread the C started takes the GIL for the
    callback: the same bits as one thread, and a lane's exception raised
    with nothing added (the reference has no threads)."""
    core = both[0]
    ws = [core.Number(0.1 * i) for i in range(30)]
    odd = mg.custom_op(lambda x: 1.0 / 0.0 if x > 50.0 else math.sin(x) * x,
                       lambda x, out: (math.sin(x) + x * math.cos(x),), name="odd_of_the_tests")

    def fn(x):
        h = x
        for w in ws:
            h = (h * w).tanh() + w
        return odd(h) + core.dot(ws, [h] * 30) + odd(x)
    tape = mg.trace(fn, core.Number(0.3))
    X = np.random.default_rng(0).normal(size=(20000, 1))
    one = tape.value_and_grad(X, reduction="sum", threads=1)
    two = tape.value_and_grad(X, reduction="sum", threads=2)
    assert tape._impl.threads_used == 2
    assert (one[0] == two[0]).all() and (one[1] == two[1]).all()
    X[15000] = 100.0                # a lane late in the batch (maybe the other thread's)
    with pytest.raises(ZeroDivisionError):
        tape.backward(X, threads=2)
    assert all(w.gradient == 0.0 for w in ws)
