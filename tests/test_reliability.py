"""Regression tests for issue 11: what an adversarial but realistic user broke.

One test (or one parametrised family) per reported item, in the issue's
order, on both backends where both apply; docs/reliability.md lists the
promise each one holds.  The wider property-based suites are
tests/test_misuse.py and tests/test_optim_state.py.
"""
import contextlib
import copy
import gc
import json
import math
import os
import pickle
import subprocess
import sys
import threading
import weakref
from decimal import Decimal

import numpy as np
import pytest

import micrograd
from micrograd import Chain, losses, nn, optim, transforms

from conftest import CORE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def outcome(fn):
    """('raise', type, message) or ('value', repr): what both backends must share."""
    try:
        result = fn()
    except Exception as exc:        # noqa: BLE001 - the exception is the outcome
        return ("raise", type(exc).__name__, str(exc))
    if hasattr(result, "value"):
        return ("value", repr(result.value), repr(result.gradient))
    return ("value", repr(result))


# -- crashes and memory corruption --------------------------------------------------

def test_param_array_is_private(impl):
    assert not hasattr(impl, "ParamArray")
    assert "ParamArray" not in impl.__all__ and "_ParamArray" not in impl.__all__


def test_param_array_refuses_a_non_number_and_keeps_nothing(impl):
    good = impl.Number(1.0)
    with pytest.raises(TypeError, match="can only optimize Numbers"):
        impl._ParamArray([good, "x"], "sgd")
    arr = impl._ParamArray([good], "sgd")
    with pytest.raises(TypeError, match="made once"):
        arr.__init__([good, "x"], "sgd")          # refused: it changes nothing
    assert arr.params == (good,)
    sgd = optim.SGD([impl.Number(0.0)], lr=0.5, momentum=0.9)
    good.grad = 1.0
    arr.step(sgd._options(sgd.param_groups[0]))
    assert good.value == 0.5


def test_param_array_params_cannot_be_changed(impl):
    p = impl.Number(1.0)
    arr = impl._ParamArray([p], "sgd")
    with pytest.raises(AttributeError):
        arr.params = ()
    assert isinstance(arr.params, tuple)


def test_param_array_state_is_copied_and_length_checked(impl):
    ps = [impl.Number(1.0), impl.Number(2.0)]
    arr = impl._ParamArray(ps, "adam")
    state = arr.get_state("exp_avg")
    state.clear()                                  # the caller's copy only
    assert arr.get_state("exp_avg") == [0.0, 0.0]
    with pytest.raises(ValueError):
        arr.set_state("exp_avg", [1.0])
    with pytest.raises(ValueError):
        arr.set_state("exp_avg", [1.0, 2.0, 3.0])
    assert arr.get_state("exp_avg") == [0.0, 0.0]


def test_subclass_cycles_are_collected(impl):
    class Tagged(impl.Number):
        pass

    gc.collect()
    refs = []
    for _ in range(200):
        t = Tagged(1.5)
        t.out = t * 2.0
        t.more = impl.sum([t.out, t, 1.0]).tanh() * t
        refs.append(weakref.ref(t))
    del t
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_results_of_subclass_operands_still_behave_as_numbers(both):
    core, ref = both
    outs = []
    for impl in both:
        class Tagged(impl.Number):
            pass
        x = Tagged(0.5)
        y = (x * x + 1.0).tanh() * impl.where(x, x, 2.0)
        y.backward()
        assert type(y).__name__ == "Number" and isinstance(y, impl.Number)
        assert y.op == "mul" and repr(y).startswith("Number(value=")
        z = copy.copy(y)
        assert type(z) is impl.Number and z.value == y.value
        outs.append((y.value, x.grad, pickle.loads(pickle.dumps(y)).value))
    assert outs[0] == outs[1]


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_plain_numbers_stay_out_of_the_collector():
    x = CORE.Number(1.0)
    y = CORE.sum([x * 2.0 + x, x.exp()])
    assert not gc.is_tracked(x) and not gc.is_tracked(y)


def test_a_deep_chain_from_a_subclass_leaf_is_freed(impl):
    class Tagged(impl.Number):
        pass
    t = Tagged(1.0)
    y = t
    for _ in range(200_000):
        y = y * 1.0
    t.last = y
    del y
    r = weakref.ref(t)
    del t
    gc.collect()
    assert r() is None


# -- silent wrong results -----------------------------------------------------------

@pytest.mark.parametrize("lr", [np.float32(0.1), np.float64(0.1), Decimal("0.1"), 0.1],
                         ids=["float32", "float64", "Decimal", "float"])
def test_hyper_parameters_never_leak_into_values(impl, lr):
    p = impl.Number(1.0)
    opt = optim.SGD([p], lr=lr, momentum=0.5)
    for _ in range(3):
        p.grad = 0.3
        opt.step()
    assert type(p.value) is float and type(p.grad) is float
    q = impl.Number(1.0)
    ref = optim.SGD([q], lr=float(lr), momentum=0.5)
    for _ in range(3):
        q.grad = 0.3
        ref.step()
    assert p.value == q.value


def test_a_scheduler_returning_numpy_keeps_values_floats(impl):
    p = impl.Number(1.0)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.LambdaLR(opt, lambda k: np.float64(0.5) ** k)
    for _ in range(3):
        p.grad = 1.0
        opt.step()
        sched.step()
    assert type(p.value) is float
    with pytest.raises(ZeroDivisionError):
        p / 0


def test_number_values_are_python_floats_whatever_is_stored(impl):
    n = impl.Number(np.float32(1.5))
    n.value = np.float64(2.5)
    n.grad = Decimal("0.25")
    assert type(n.value) is float and type(n.grad) is float
    assert (n.value, n.grad) == (2.5, 0.25)


def test_functional_transforms_work_inside_no_grad(impl):
    f = lambda x, y: (x * y).sin() + x * x          # noqa: E731
    outside = transforms.value_and_grad(f, (0, 1))(0.3, -1.2)
    with impl.no_grad():
        inside = transforms.value_and_grad(f, (0, 1))(impl.Number(0.3), impl.Number(-1.2))
        assert transforms.grad(f)(impl.Number(0.3), -1.2) == outside[1][0]
        assert transforms.gradcheck(f, impl.Number(0.3), impl.Number(-1.2))
        assert not impl.is_grad_enabled()            # and the caller's mode is back
    assert inside == outside


def test_a_no_grad_inside_the_function_still_holds(impl):
    def f(x):
        with impl.no_grad():
            frozen = x * 3.0
        return frozen + x * x
    assert transforms.grad(f)(impl.Number(2.0)) == 4.0


# -- the backends do not diverge ----------------------------------------------------

def test_threads_calling_backward_on_one_graph_take_turns(impl):
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        xs = [impl.Number(0.1 * i - 0.7) for i in range(12)]
        y = xs[0]
        for x in xs[1:]:
            y = (y * x + x).tanh() + y
        for _ in range(200):
            y.backward()
        serial = [x.grad for x in xs]
        for x in xs:
            x.grad = 0.0

        def work():
            for _ in range(50):
                y.backward()
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert [x.grad for x in xs] == serial


def test_the_number_and_chain_classes_pickle(impl):
    assert pickle.loads(pickle.dumps(impl.Number)) is impl.Number
    assert pickle.loads(pickle.dumps(impl.Chain)) is impl.Chain
    assert impl.Number.__module__.startswith("micrograd.")


def test_a_chain_pickles_copies_and_deep_copies(impl):
    x = impl.Number(0.7)
    c = (impl.Chain([x, 2.0]).exp().softplus(2.0, 10.0).gelu("tanh").clamp(0.0, 3.0)
         .rsub(2).where(x, 1.5).leaky_relu(0.2).maximum(0.1).add(x).pow(2))
    # a pickle loads into the active backend, as a pickled Number does
    for other, kind in ((pickle.loads(pickle.dumps(c)), micrograd.Chain),
                        (copy.deepcopy(c), impl.Chain), (copy.copy(c), impl.Chain)):
        assert type(other) is kind
        assert other.result().value == c.result().value
        assert repr(other.steps) == repr(c.steps) and repr(other) == repr(c)
    deep = copy.deepcopy(c)
    deep.result().backward()
    assert x.grad == 0.0           # the deep copy's graph is its own


def test_a_subclass_number_pickles_with_its_attributes(impl):
    t = _Tagged[impl.BACKEND](2.5)
    t.label, t.grad = "w0", 0.25
    back = pickle.loads(pickle.dumps(t))
    assert (type(back), back.value, back.grad, back.label) == (type(t), 2.5, 0.25, "w0")


class _TaggedCore(CORE.Number if CORE is not None else object):
    pass


class _TaggedPy(micrograd._core_py.Number):
    pass


_Tagged = {"core": _TaggedCore, "python": _TaggedPy}


def test_optimizers_pickle_copy_and_deep_copy(impl):
    ps = [impl.Number(0.5), impl.Number(-1.0)]
    opt = optim.Adam(ps, lr=0.1, amsgrad=True)
    for _ in range(2):
        for p in ps:
            p.grad = p.value * 0.3
        opt.step()
    for make in (lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy):
        twin = make((ps, opt))
        tps, topt = twin
        assert type(topt) is optim.Adam and topt.param_groups[0]["params"][0] is tps[0]
        for _ in range(2):
            for p, q in zip(ps, tps):
                p.grad = q.grad = p.value * 0.3
            opt.step()
            topt.step()
        assert [p.value for p in tps] == [p.value for p in ps]
    shallow = copy.copy(opt)
    assert shallow.param_groups[0]["params"][0] is ps[0]


def _run(code, purepython):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MICROGRAD_PUREPYTHON", "MICROGRAD_REQUIRE_CORE")}
    if purepython:
        env["MICROGRAD_PUREPYTHON"] = "1"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


SAVE = """
import pickle, sys
import micrograd
from micrograd import nn, optim, Chain, Number
m = nn.MLP(2, [3, 1], activations=["tanh", None], seed=0)
opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
for _ in range(2):
    out = m([0.5, -1.0]); opt.zero_grad(); out.backward(); opt.step()
ch = Chain(Number(0.5)).exp().softplus(2.0)
with open(sys.argv[1] if len(sys.argv) > 1 else {path!r}, "wb") as f:
    pickle.dump((m, opt, ch, Number(1.25)), f)
print(micrograd.BACKEND)
"""

LOAD = """
import pickle
import micrograd
with open({path!r}, "rb") as f:
    m, opt, ch, n = pickle.load(f)
out = m([0.5, -1.0]); opt.zero_grad(); out.backward(); opt.step()
print(micrograd.BACKEND, type(n).__module__, repr(m([0.5, -1.0]).value), repr(ch.result().value),
      repr(n.value))
"""


@pytest.mark.skipif(CORE is None, reason="needs the compiled core to save or load on")
@pytest.mark.parametrize("saver,loader", [(False, True), (True, False)],
                         ids=["core-to-python", "python-to-core"])
def test_pickles_load_on_the_other_backend(tmp_path, saver, loader):
    path = str(tmp_path / "model.pkl")
    _run(SAVE.format(path=path), purepython=saver)
    loaded = _run(LOAD.format(path=path), purepython=loader).split()
    same = _run(LOAD.format(path=path), purepython=saver).split()
    assert loaded[0] == ("python" if loader else "core") and same[0] != loaded[0]
    assert loaded[2:] == same[2:]                    # the same numbers either way


def test_model_pickles_hold_no_bound_method(impl):
    m = nn.MLP(2, [2, 1], activations=["relu", None], seed=1)
    assert b"_core_py" not in pickle.dumps(m) and b"micrograd._core\n" not in pickle.dumps(m)


def test_purepython_flag_values(tmp_path):
    code = "import micrograd; print(micrograd.BACKEND)"
    for value in ("0", "false", "No", "OFF", "", " "):
        env = dict(os.environ, MICROGRAD_PUREPYTHON=value)
        env.pop("MICROGRAD_REQUIRE_CORE", None)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=ROOT).stdout.strip()
        assert out == ("core" if CORE is not None else "python"), value
    for value in ("1", "true", "yes", "on"):
        env = dict(os.environ, MICROGRAD_PUREPYTHON=value)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=ROOT).stdout.strip()
        assert out == "python", value


# -- optimizers as torch.optim ------------------------------------------------------

def _pair(torch, impl, values):
    """The same leaves in micrograd and as float64 torch tensors."""
    ours = [impl.Number(v) for v in values]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    return ours, theirs


def _loss(ps):
    """A coupled loss that works on Numbers and on tensors alike."""
    total = 0.0
    for i, p in enumerate(ps):
        total = total + (i + 1.0) * p * p * p * 0.1 + p * (0.5 - i)
    return total


def _step_both(opts, params, torch):
    (ours_opt, theirs_opt), (ours, theirs) = opts, params
    ours_opt.zero_grad()
    _loss(ours).backward()
    ours_opt.step()
    theirs_opt.zero_grad()
    _loss(theirs).backward()
    theirs_opt.step()


def _agree(ours, theirs):
    assert [p.value for p in ours] == pytest.approx([t.item() for t in theirs], rel=1e-12,
                                                   abs=1e-15)


def test_a_parameter_listed_twice_in_a_group_steps_as_torch(impl, torch):
    ours, theirs = _pair(torch, impl, [1.0])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = optim.SGD([ours[0], ours[0]], lr=0.1, momentum=0.9)
    with pytest.warns(UserWarning):
        topt = torch.optim.SGD([theirs[0], theirs[0]], lr=0.1, momentum=0.9)
    for _ in range(3):
        _step_both((opt, topt), (ours, theirs), torch)
    _agree(ours, theirs)
    assert ours[0].value == pytest.approx(theirs[0].item(), rel=1e-12)


def test_a_parameter_in_two_groups_is_refused_with_torchs_message(impl, torch):
    a = impl.Number(1.0)
    with pytest.raises(ValueError) as ours:
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    t = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD([{"params": [t]}, {"params": [t]}], lr=0.1)
    assert str(ours.value) == str(theirs.value)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("edit", ["append-param", "remove-param", "add_param_group",
                                  "append-group", "replace-params", "set-lr"])
def test_param_group_edits_are_seen_by_step_as_in_torch(impl, torch, edit):
    ours, theirs = _pair(torch, impl, [0.5, -1.0, 2.0])
    opt = optim.Adam([ours[0], ours[1]], lr=0.05)
    topt = torch.optim.Adam([theirs[0], theirs[1]], lr=0.05)
    _step_both((opt, topt), (ours, theirs), torch)
    for o, ps in ((opt, ours), (topt, theirs)):
        group = o.param_groups[0]
        if edit == "append-param":
            group["params"].append(ps[2])
        elif edit == "remove-param":
            group["params"].remove(ps[0])
        elif edit == "add_param_group":
            o.add_param_group({"params": [ps[2]], "lr": 0.2})
        elif edit == "append-group":
            o.param_groups.append(dict(group, params=[ps[2]], lr=0.3))
        elif edit == "replace-params":
            group["params"] = [ps[1], ps[2]]
        elif edit == "set-lr":
            group["lr"] = 0.5
    for _ in range(3):
        _step_both((opt, topt), (ours, theirs), torch)
    _agree(ours, theirs)


def test_zero_grad_closure_state_and_scheduler_state_as_torch(impl, torch):
    ours, theirs = _pair(torch, impl, [0.5, -1.0])
    opt = optim.Adam(ours, lr=0.1)
    topt = torch.optim.Adam(theirs, lr=0.1)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = _loss(ours)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad(set_to_none=True)
        loss = _loss(theirs)
        loss.backward()
        return loss

    with impl.no_grad():                    # step enables grad for the closure, as torch
        for _ in range(3):
            got = opt.step(closure)
            assert got.value == pytest.approx(topt.step(tclosure).item(), rel=1e-12)
            sched.step()
            tsched.step()
    _agree(ours, theirs)
    assert set(opt.state) == set(ours) and opt.state[ours[0]]["step"] == 3.0
    assert sorted(opt.state[ours[0]]) == sorted(topt.state[theirs[0]])
    assert sched.last_epoch == tsched.last_epoch == 3
    assert sched.state_dict() == {k: v for k, v in tsched.state_dict().items()
                                  if k in sched.state_dict()}
    fresh = optim.StepLR(optim.Adam([impl.Number(0.0)], lr=0.1), step_size=9, gamma=0.1)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.state_dict() == sched.state_dict()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_nan_learning_rate_is_accepted_or_refused_as_torch(impl, torch, name):
    ours = outcome(lambda: getattr(optim, name)([impl.Number(1.0)], lr=math.nan) and None)
    theirs = outcome(lambda: getattr(torch.optim, name)(
        [torch.tensor(1.0, requires_grad=True)], lr=math.nan) and None)
    assert ours == theirs


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr="0.1")), ("Adam", dict(lr="0.1")), ("Adam", dict(betas=(0.9, 1.5))),
    ("Adam", dict(betas=(1.5, 0.999))), ("AdamW", dict(betas=(0.9, 1.5))),
    ("Adagrad", dict(lr_decay=-1)), ("RMSprop", dict(alpha=1.5, lr=-0.1)),
    ("Adam", dict(eps=None)), ("SGD", dict(momentum="x")),
])
def test_invalid_hyper_parameters_refused_up_front(both, torch, name, kwargs):
    results = [outcome(lambda: getattr(optim, name)([impl.Number(1.0)], **kwargs) and None)
               for impl in both]
    assert results[0] == results[1] and results[0][0] == "raise"
    theirs = outcome(lambda: getattr(torch.optim, name)(
        [torch.tensor(1.0, requires_grad=True)], **kwargs) and None)
    if theirs[0] == "raise":
        assert results[0][:2] == theirs[:2]     # where torch validates, its exception
        reals = all(isinstance(v, (int, float)) or (isinstance(v, tuple) and all(
            isinstance(x, (int, float)) for x in v)) for v in kwargs.values())
        if reals:                               # and its words for a real out of range
            assert results[0] == theirs
        else:                                   # a string or None: ours name the argument
            assert "must be a real number" in results[0][2]


def test_a_bad_hyper_parameter_set_later_changes_nothing(impl):
    ps = [impl.Number(1.0), impl.Number(2.0)]
    opt = optim.SGD(ps, lr=0.1)
    opt.param_groups[0]["lr"] = "0.1"
    for p in ps:
        p.grad = 1.0
    with pytest.raises(TypeError, match="lr must be a real number"):
        opt.step()
    assert [p.value for p in ps] == [1.0, 2.0]


def test_state_dict_survives_json(impl):
    ps = [impl.Number(0.5), impl.Number(-1.0)]
    opt = optim.Adam(ps, lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        _loss(ps).backward()
        opt.step()
    qs = [impl.Number(p.value) for p in ps]
    other = optim.Adam(qs, lr=0.1, amsgrad=True)
    other.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    assert len(other.state) == 2
    for o, xs in ((opt, ps), (other, qs)):
        for _ in range(2):
            o.zero_grad()
            _loss(xs).backward()
            o.step()
    assert [p.value for p in ps] == [q.value for q in qs]


@pytest.mark.parametrize("bad", ["sgd-into-adam", "short-group", "extra-group", "bad-entry",
                                 "unknown-index"])
def test_a_mismatched_state_dict_changes_nothing(impl, bad):
    ps = [impl.Number(0.5), impl.Number(-1.0)]
    opt = optim.Adam(ps, lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        _loss(ps).backward()
        opt.step()
    before = (opt.state_dict(), [dict(g) for g in opt.param_groups])
    sgd = optim.SGD([impl.Number(0.5), impl.Number(1.0)], lr=0.3, momentum=0.9)
    for p in sgd.param_groups[0]["params"]:
        p.grad = 1.0
    sgd.step()
    saved = copy.deepcopy(opt.state_dict())
    if bad == "sgd-into-adam":
        saved = sgd.state_dict()
    elif bad == "short-group":
        saved["param_groups"][0]["params"] = [0]
    elif bad == "extra-group":
        saved["param_groups"].append(dict(saved["param_groups"][0], params=[2]))
    elif bad == "bad-entry":
        saved["state"][1] = {"step": 2.0}
    elif bad == "unknown-index":
        saved["state"][7] = saved["state"][0]
    with pytest.raises(ValueError):
        opt.load_state_dict(saved)
    assert (opt.state_dict(), [dict(g) for g in opt.param_groups]) == before


def test_clip_grad_norm_scales_huge_gradients_as_torch(impl, torch):
    for grads in ([3e155, -4e155], [1e200, 1e200, -1e200], [math.inf, 1.0], [1e-320, 3e-320],
                  [1e200], [-1e200], [1e-320], [math.nan]):
        ps = [impl.Number(0.0) for _ in grads]
        ts = [torch.tensor(0.0, dtype=torch.float64, requires_grad=True) for _ in grads]
        for p, t, g in zip(ps, ts, grads):
            p.grad = g
            t.grad = torch.tensor(g, dtype=torch.float64)
        total = optim.clip_grad_norm_(ps, 1.0)
        ttotal = torch.nn.utils.clip_grad_norm_(ts, 1.0).item()
        assert total == pytest.approx(ttotal, rel=1e-14) or (math.isnan(total) and
                                                              math.isnan(ttotal))
        for p, t in zip(ps, ts):
            assert p.grad == pytest.approx(t.grad.item(), rel=1e-14, nan_ok=True)


def test_clip_grad_norm_of_one_parameter_is_its_gradient_as_torch(impl, torch):
    """A single 1e200 gradient was zeroed (its square overflowed); torch's norm
    of one element is its absolute value, for every norm type but 0."""
    for norm_type in (2.0, 3.0, 0.5, 7.0, 1.0, math.inf, 0.0, -1.0):
        for g in (1e200, -3.7, 2.0, 1e-320):
            p = impl.Number(0.0)
            p.grad = g
            t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
            t.grad = torch.tensor(g, dtype=torch.float64)
            total = optim.clip_grad_norm_([p], 1.0, norm_type)
            ttotal = torch.nn.utils.clip_grad_norm_([t], 1.0, norm_type).item()
            assert total == ttotal, (norm_type, g)
            assert p.grad == t.grad.item(), (norm_type, g)


def test_mse_of_a_huge_residual_is_inf_not_an_error(impl, torch):
    got = losses.mse([impl.Number(1e200)], [0.0])
    want = torch.nn.functional.mse_loss(torch.tensor([1e200], dtype=torch.float64),
                                        torch.tensor([0.0], dtype=torch.float64))
    assert got.value == want.item() == math.inf


# -- clear errors instead of tracebacks ---------------------------------------------

def _cli(*argv, env=None, **kwargs):
    full = {k: v for k, v in os.environ.items() if k != "MICROGRAD_REQUIRE_CORE"}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "micrograd", *argv], capture_output=True,
                          text=True, env=full, cwd=ROOT, timeout=120, **kwargs)


@pytest.mark.parametrize("args,says", [
    (["--steps", "0"], "--steps: wants an int >= 1"),
    (["--steps", "-1"], "--steps: wants an int >= 1"),
    (["--hidden", "0"], "--hidden: wants sizes >= 1"),
    (["--hidden", "-3"], "--hidden: wants sizes >= 1"),
    (["--hidden", "a,b"], "--hidden: wants sizes >= 1"),
    (["--lr", "nan"], "--lr: wants a finite number > 0"),
    (["--lr", "-1"], "--lr: wants a finite number > 0"),
    (["--lr", "inf"], "--lr: wants a finite number > 0"),
    (["--seed", "-1"], "--seed: wants an int in [0, 2**32)"),
    (["--plot", "/nonexistent/dir/x.png"], "--plot: folder '/nonexistent/dir' does not exist"),
    (["--plot", "x.txt"], "--plot: wants a .png, .svg or .pdf file name"),
])
def test_bad_demo_arguments_are_one_line_before_any_work(args, says):
    proc = _cli("demo", *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "training" not in proc.stderr
    error, hint = proc.stderr.splitlines()          # one line, and the hint (no usage block)
    assert error.startswith("micrograd demo: error: ") and says in error
    assert hint == "try: python -m micrograd demo --help"


def test_a_width_one_hidden_layer_trains(tmp_path):
    pytest.importorskip("tqdm", reason="the demo extra is not installed")
    proc = _cli("demo", "--steps", "2", "--hidden", "1")
    assert proc.returncode == 0, proc.stderr


def test_ctrl_c_in_the_demo_is_one_line_and_exit_130():
    pytest.importorskip("tqdm", reason="the demo extra is not installed")
    import signal
    import time
    full = {k: v for k, v in os.environ.items() if k != "MICROGRAD_REQUIRE_CORE"}
    proc = subprocess.Popen([sys.executable, "-m", "micrograd", "demo", "--steps", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full, cwd=ROOT)
    seen = ""
    while "training" not in seen:                 # the progress bar has started
        char = proc.stderr.read(1)
        assert char, "the demo ended before training"
        seen += char
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith(
        "micrograd demo: interrupted")


def test_cli_main_runs_the_other_backend_without_replacing_the_caller(capfd):
    pytest.importorskip("tqdm", reason="the demo extra is not installed")
    from micrograd import cli
    other = "python" if micrograd.BACKEND == "core" else "core"
    if other == "core" and CORE is None:
        pytest.skip("micrograd._core is not built")
    status = cli.main(["demo", "--steps", "1", "--hidden", "2", "--backend", other])
    assert status == 0
    assert f"on the {other} backend" in capfd.readouterr().out       # and we are still here


# -- models, chains and losses say what is wrong ------------------------------------

def test_a_width_one_layer_feeds_the_next(impl):
    m = nn.MLP(2, [1, 1], seed=3)
    out = m([0.5, -2.0])
    h = m.layers[0]([0.5, -2.0])
    assert out.value == m.layers[1]([h]).value
    out.backward()
    assert all(type(p.grad) is float for p in m.parameters())


@pytest.mark.parametrize("make,call,kind,says", [
    (lambda: nn.Neuron(2), lambda n: n([1.0]), ValueError, "ReLUNeuron(2) takes 2 inputs, got 1"),
    (lambda: nn.Layer(3, 2), lambda n: n([1.0] * 4), ValueError, "Layer(3, 2) takes 3 inputs, got 4"),
    (lambda: nn.MLP(2, [3, 1]), lambda n: n("ab"), TypeError, "takes a sequence of 2 inputs, not str"),
    (lambda: nn.MLP(2, [3, 1]), lambda n: n(None), TypeError, "not NoneType"),
    (lambda: None, lambda _: nn.MLP(2, []), ValueError, "at least one layer: nouts is empty"),
    (lambda: None, lambda _: nn.MLP(2, 3), TypeError, "nouts must be a sequence of layer widths"),
    (lambda: None, lambda _: nn.MLP(2, [-1]), ValueError, "each of nouts must be an int >= 0"),
    (lambda: None, lambda _: nn.MLP(2.5, [1]), ValueError, "nin must be an int >= 0, not 2.5"),
])
def test_model_misuse_messages(make, call, kind, says):
    with pytest.raises(kind) as got:
        call(make())
    assert says in str(got.value)


def test_chain_starts(impl):
    assert impl.Chain(np.array(2.0)).exp().result().value == math.exp(2.0)
    assert impl.Chain(np.float32(0.5)).result().value == 0.5
    with pytest.raises(TypeError) as got:
        impl.Chain(None)
    assert str(got.value) == ("Chain start must be a Number, a real or an iterable of them, "
                              "not None")


def test_losses_take_numpy_arrays(impl, torch):
    rows = [[impl.Number(v) for v in r] for r in ([0.5, -1.0, 2.0], [1.5, 0.0, -0.5])]
    labels = np.array([0, 2])                      # as make_blobs returns them
    got = losses.cross_entropy(rows, labels)
    assert got.value == losses.cross_entropy(rows, [0, 2]).value
    want = torch.nn.functional.cross_entropy(
        torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=torch.float64),
        torch.tensor([0, 2]))
    assert got.value == pytest.approx(want.item(), rel=1e-14)
    preds = np.array([0.5, 1.5, -2.0])
    assert losses.mse(preds, np.array([0.0, 1.0, 1.0])).value == pytest.approx(
        (0.25 + 0.25 + 9.0) / 3, rel=1e-15)
    with pytest.raises(ValueError, match="empty batch"):
        losses.cross_entropy([], [])
    with pytest.raises(ValueError, match="empty batch"):
        losses.mse([], [])
    with pytest.raises(TypeError, match="class index, not float"):
        losses.cross_entropy(rows, [0.0, 2.0])


def test_bce_at_infinite_logits_is_torchs(impl, torch):
    for x in (math.inf, -math.inf, 800.0, -800.0):
        for t in (0.0, 1.0, 0.3):
            got = losses.binary_cross_entropy(impl.Number(x), t)
            want = torch.nn.functional.binary_cross_entropy_with_logits(
                torch.tensor(x, dtype=torch.float64), torch.tensor(t, dtype=torch.float64))
            assert repr(got.value) == repr(want.item()), (x, t)


def test_clamp_with_a_nan_bound_is_nan_as_torch(impl, torch):
    """clamp(lo=nan) and clamp(0, nan) gave x; torch.clamp and np.clip give
    NaN, and torch's gradient there is 0."""
    nan = math.nan
    for lo, hi in ((nan, None), (None, nan), (0.0, nan), (nan, 2.0), (nan, nan)):
        for v in (1.0, -1.0, 3.0):
            x = impl.Number(v)
            y = x.clamp(lo, hi)
            y.backward()
            t = torch.tensor(v, dtype=torch.float64, requires_grad=True)
            ty = torch.clamp(t, min=lo, max=hi)
            ty.backward()
            assert math.isnan(y.value) and math.isnan(ty.item()), (lo, hi, v)
            assert x.gradient == t.grad.item() == 0.0, (lo, hi, v)
            assert math.isnan(impl.clamp(v, lo, hi).value)     # a real x


def test_a_hook_that_raises_leaves_every_gradient_as_before(impl, torch):
    """An interior hook raised after a leaf had taken part of this pass, and
    the other leaf's hook was still called with a partial gradient: the
    leaves held 11 and 20 + a partial.  torch puts nothing in .grad and calls
    no leaf hook; so does micrograd, on both backends."""
    def run(make, grad_of, set_grad):
        a, b = make(2.0), make(3.0)
        set_grad(a, 10.0)
        set_grad(b, 20.0)
        calls = []
        b.register_hook(lambda g: calls.append(g))
        ab = a * b
        ab.register_hook(lambda g: (_ for _ in ()).throw(RuntimeError("hook")))
        y = (ab + a) * 2.0
        with pytest.raises(RuntimeError, match="hook"):
            y.backward()
        return grad_of(a), grad_of(b), calls, ab, y

    def t_make(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    def t_set(t, g):
        t.grad = torch.tensor(g, dtype=torch.float64)
    want = run(t_make, lambda t: t.grad.item(), t_set)
    got = run(impl.Number, lambda n: n.gradient, lambda n, g: setattr(n, "gradient", g))
    assert got[:3] == want[:3] == (10.0, 20.0, [])
    # interior gradients too: as before the pass (0.0 for a graph never swept)
    assert got[3].gradient == 0.0 and got[4].gradient == 0.0
    for anomaly in (False, True):                      # the same in anomaly mode
        a = impl.Number(1.0)
        a.gradient = 5.0
        h = a * 3.0
        h.register_hook(lambda g: 1 / 0)
        with impl.detect_anomaly() if anomaly else contextlib.nullcontext():
            with pytest.raises(ZeroDivisionError):
                (h * h + a).backward()
        assert a.gradient == 5.0 and h.gradient == 0.0
