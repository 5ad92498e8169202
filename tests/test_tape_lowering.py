"""The fast replay's lowerings against the plain interpreter and op by op.

tests/tape_graphs.py draws graphs with exactly the shapes that csrc/mg_tape.c
and csrc/mg_replay.c lower (dense runs, moved activations, parameters summed
inside a dot, first contributions) and their edge cases.  For each graph and
batch, on both backends: fast == plain on every lane, and each sampled lane
== the op-by-op graph of that sample, for outputs, parameter and input
gradients, the "sum" and "mean" reductions (in the documented chunk order),
backward into .gradient, threads 1 and 2, and check=True.  Compared with ==
on bits: NaN matches NaN, -0.0 does not match 0.0.
"""
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, reject, strategies as st

import micrograd as mg
from tape_graphs import (SWEEP_OPS, Layer, Model, Spec, Unbuildable, batches, chain_spec,
                         constant_inputs_spec, layer_spec, make_batch, rows, specs, sweep_spec,
                         where_spec, wide_spec)


# -- comparing ---------------------------------------------------------------------------
def canon(a):
    """The bits of a float64 array, every NaN made the same NaN."""
    a = np.array(a, dtype=np.float64)
    a[np.isnan(a)] = np.nan
    return a.shape, a.tobytes()


def assert_same(a, b, what, model=None, X=None):
    if canon(a) == canon(b):
        return
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    where = ""
    if a.shape == b.shape:
        diff = [i for i, (x, y) in enumerate(zip(a.ravel(), b.ravel()))
                if canon(x) != canon(y)]
        i = np.unravel_index(diff[0], a.shape)
        where = f" first at {tuple(int(k) for k in i)}: {a[i]!r} != {b[i]!r} ({len(diff)} differ)"
    else:
        where = f" shapes {a.shape} != {b.shape}"
    text = f"{what}:{where}"
    if model is not None:
        text += "\n--- reproducer ---\n" + model.source(X)
    raise AssertionError(text)


def chunk_order_sum(per_lane, lanes):
    """The documented reduction: each chunk of `lanes` lanes sums its lanes in
    lane order from 0.0; the chunk sums are added in chunk order from 0.0."""
    per_lane = np.asarray(per_lane, dtype=np.float64)
    total = np.zeros(per_lane.shape[1:])
    for start in range(0, len(per_lane), lanes):
        part = np.zeros(per_lane.shape[1:])
        for row in per_lane[start:start + lanes]:
            part = part + row
        total = total + part
    return total


# -- building ----------------------------------------------------------------------------
EXAMPLES = [0.5, 0.25, 1.5, -0.5]


def build(mod, spec, example=0.5):
    try:
        model = Model(mod, spec, [example] * spec.nin)
    except Unbuildable:
        reject()
    tape = mg.trace(model.fn, *[mod.Number(v) for v in model.example])
    return model, tape


def op_by_op(mod, model, params, row):
    """(outputs, parameter gradients, input gradients) of one sample's graph
    built op by op and differentiated from its first output; None if the
    build or backward raises (where the tape keeps the IEEE value)."""
    for p in params:
        p.gradient = 0.0
    xs = [mod.Number(float(v)) for v in row]
    try:
        outs = model.fn(*xs)
        outs[0].backward()
    except (ArithmeticError, ValueError):
        return None
    return [o.value for o in outs], [p.gradient for p in params], [x.gradient for x in xs]


def plan_size(model):
    return sum(len(e[1]) + len(e[2]) if e[0] == "dot" else 2 for e in model.plan)


def sample_lanes(B, lanes, cells, seed, size):
    """Lanes to compare op by op: the chunk edges, the special cells' rows,
    and a few drawn ones; all of them for a small batch."""
    if B <= size:
        return list(range(B))
    picked = {0, B - 1, lanes - 1, lanes, lanes + 1, 2 * lanes}
    picked |= {r % B for r, _, _ in cells}
    rng = np.random.default_rng(seed)
    picked |= set(int(i) for i in rng.integers(0, B, 3))
    return sorted(i for i in picked if 0 <= i < B)[:size]


# -- what a replay gives -------------------------------------------------------------------
def start_grads(n):
    return [(0.0, -0.0, 0.125, -3.0)[i % 4] for i in range(n)]


def replay_all(tape, X, threads, full=True):
    """Every result the tape gives for X, as a dict of arrays."""
    params = tape.params
    B = len(X)
    R = {}
    R["forward"] = np.reshape(tape(X, threads=threads), (B, -1))
    vals, R["pgrads"] = tape.value_and_grad(X, "none", threads=threads)
    R["values"] = np.reshape(vals, (B, -1))
    vals_i, R["igrads"] = tape.value_and_grad(X, "none", wrt="inputs", threads=threads)
    R["values_i"] = np.reshape(vals_i, (B, -1))
    R["sum"] = tape.value_and_grad(X, "sum", threads=threads)[1]
    if full:
        R["mean"] = tape.value_and_grad(X, "mean", threads=threads)[1]
        R["igrads_mean"] = tape.value_and_grad(X, "mean", wrt="inputs", threads=threads)[1]
    for reduction in ("sum", "mean") if full else ("sum",):
        g0 = start_grads(len(params))
        for p, g in zip(params, g0):
            p.gradient = g
        R["loss_" + reduction] = tape.backward(X, reduction, threads=threads)
        R["grad_" + reduction] = [p.gradient for p in params]
    R["finite"] = bool(np.isfinite(R["values"]).all() and np.isfinite(R["pgrads"]).all()
                       and np.isfinite(R["igrads"]).all())
    return R


def check_check(tape, X, R, threads, model):
    """check=True: the same results where every lane is finite; else
    FloatingPointError and no .gradient changed."""
    params = tape.params
    g0 = start_grads(len(params))
    for p, g in zip(params, g0):
        p.gradient = g
    if R["finite"]:
        _, s = tape.value_and_grad(X, "sum", threads=threads, check=True)
        assert_same(s, R["sum"], "check=True sum", model, X)
        _, pg = tape.value_and_grad(X, "none", threads=threads, check=True)
        assert_same(pg, R["pgrads"], "check=True per lane", model, X)
        loss = tape.backward(X, "sum", threads=threads, check=True)
        assert_same(loss, R["loss_sum"], "check=True loss", model, X)
        assert_same([p.gradient for p in params], R["grad_sum"], "check=True .gradient",
                    model, X)
    else:
        with pytest.raises(FloatingPointError):
            tape.backward(X, "sum", threads=threads, check=True)
        assert_same([p.gradient for p in params], g0, "check=True changed a .gradient",
                    model, X)
        with pytest.raises(FloatingPointError):
            tape.value_and_grad(X, "mean", threads=threads, check=True)


def check_graph(mod, spec, batch, sample=12):
    """The whole comparison for one drawn graph and batch (see the module doc)."""
    with np.errstate(all="ignore"):           # inf - inf in the expected sums
        return _check_graph(mod, spec, batch, sample)


def _check_graph(mod, spec, batch, sample):
    size, cells, seed = batch
    model, tape = build(mod, spec)
    lanes = tape.lanes
    X = make_batch(spec.nin, model.example, rows(size, lanes), cells, seed)
    B = len(X)
    core = mod.BACKEND == "core"
    full = core or B <= 64         # the reference replays in Python: fewer calls
    results = {}
    tape.replay = "plain"
    results["plain", 1] = replay_all(tape, X, 1, full)
    if core:
        results["plain", 2] = replay_all(tape, X, 2, full)
        tape.replay = "fast"
        try:                       # the fast replay with each dense-layer kernel
            for path in gemm_paths(mod):
                mod.gemm_select(path)
                for threads in (1, 2):
                    results["fast " + path, threads] = replay_all(tape, X, threads, full)
        finally:
            mod.gemm_select("auto")
    base = results["plain", 1]
    for key, R in results.items():
        for name in base:
            assert_same(R[name], base[name], f"{key} {name} vs plain threads=1", model, X)
    # the forward of every output, three ways
    assert_same(base["forward"], base["values"], "forward vs value_and_grad", model, X)
    assert_same(base["forward"], base["values_i"], "forward vs wrt=inputs", model, X)
    # the reductions in the documented order, from the per-lane gradients
    total = chunk_order_sum(base["pgrads"], lanes)
    assert_same(base["sum"], total, "sum vs chunk-order sum of lanes", model, X)
    if full:
        assert_same(base["mean"], total / B, "mean", model, X)
        assert_same(base["igrads_mean"], base["igrads"] / B, "wrt=inputs mean", model, X)
    loss = chunk_order_sum(base["values"][:, :1], lanes)[0]
    g0 = start_grads(len(tape.params))
    assert_same(base["loss_sum"], loss, "backward's loss", model, X)
    assert_same(base["grad_sum"], [g + float(t) for g, t in zip(g0, total)],
                "backward added into .gradient", model, X)
    if full:
        assert_same(base["loss_mean"], loss / B, "backward's mean loss", model, X)
        assert_same(base["grad_mean"], [g + float(t) / B for g, t in zip(g0, total)],
                    "backward(mean) added into .gradient", model, X)
    # each sampled lane is the op-by-op graph of its sample
    if plan_size(model) > 5000:
        sample = min(sample, 3)
    params = tape.params
    compared = 0
    for lane in sample_lanes(B, lanes, cells, seed, sample):
        expect = op_by_op(mod, model, params, X[lane])
        if expect is None:
            continue
        compared += 1
        assert_same(base["values"][lane], expect[0], f"lane {lane} outputs", model, X)
        assert_same(base["pgrads"][lane], expect[1], f"lane {lane} parameter gradients",
                    model, X)
        assert_same(base["igrads"][lane], expect[2], f"lane {lane} input gradients", model, X)
    # check=True, on both replays
    for replay in ("fast", "plain") if core else ("fast",):
        tape.replay = replay
        check_check(tape, X, base, 2 if B > lanes else 1, model)
    tape.replay = "fast"
    return model, tape, X, compared


def gemm_paths(mod):
    """The dense-layer kernels (csrc/mg_gemm.h) this machine runs."""
    assert mod.gemm_path() in ("avx512", "avx2", "portable")
    paths = []
    for path in ("avx512", "avx2", "portable"):
        try:
            mod.gemm_select(path)
        except ValueError:
            continue
        paths.append(path)
    mod.gemm_select("auto")
    return paths


# -- the tests -------------------------------------------------------------------------------
def budget_of(mod):
    """Dot operands a drawn graph may hold: the reference replays in Python."""
    return 40_000 if mod.BACKEND == "core" else 600


@given(st.data())
def test_fast_plain_and_op_by_op_agree(impl, data):
    core = impl.BACKEND == "core"
    spec = data.draw(specs(budget=budget_of(impl), big=core), label="spec")
    check_graph(impl, spec, data.draw(batches(small=not core), label="batch"))


@given(st.data())
def test_dense_graphs_without_pruning(impl, data):
    """Graphs with no where or stop_gradient: the path where runs, first
    contributions and parameters summed inside a dot are all on."""
    core = impl.BACKEND == "core"
    spec = data.draw(specs(budget=budget_of(impl), big=core, prune=False), label="spec")
    check_graph(impl, spec, data.draw(batches(small=not core), label="batch"))


@given(st.data())
def test_core_fast_and_reference_agree(both, data):
    spec = data.draw(specs(budget=600, big=False), label="spec")
    size, cells, seed = data.draw(batches(small=True), label="batch")
    models, tapes = zip(*[build(mod, spec) for mod in both])
    lanes = tapes[0].lanes
    assert tapes[1].lanes == lanes
    X = make_batch(spec.nin, models[0].example, rows(size, lanes), cells, seed)
    with np.errstate(all="ignore"):
        tapes[0].replay = "fast"                  # whatever MICROGRAD_REPLAY says
    got = [replay_all(t, X, 1, full=False) for t in tapes]
    for name in got[0]:
        assert_same(got[0][name], got[1][name], f"core vs reference {name}", models[0], X)


SWEEP_CELLS = ((1, 0, math.nan), (2, 1, math.inf), (3, 0, -0.0), (4, 2, 5e-324), (5, 3, -math.inf),
               (6, 0, 0.0), (7, 1, -5e-324), (9, 4, 1e300))


@pytest.mark.parametrize("prune", [False, True], ids=["dense", "pruning"])
@pytest.mark.parametrize("stem", SWEEP_OPS)
def test_every_op_on_lanes_and_parameters(impl, stem, prune):
    """Each op of the table applied to lane values and parameters, each
    getting a first and a later contribution, in a tape that prunes and one
    that does not: the per-op kernels of every kind and stride."""
    size = "2lanes+3" if impl.BACKEND == "core" else 11
    check_graph(impl, sweep_spec(stem, prune), (size, SWEEP_CELLS, 7))


@given(st.data())
def test_a_pickled_tape_replays_the_same_bits(impl, data):
    spec = data.draw(specs(budget=300, big=False), label="spec")
    model, tape = build(impl, spec)
    X = make_batch(spec.nin, model.example, 7, (), 0)
    again = pickle.loads(pickle.dumps(tape))
    a = tape.value_and_grad(X, "none")
    b = again.value_and_grad(X, "none")
    assert_same(a[0], b[0], "pickled outputs", model, X)
    assert_same(a[1], b[1], "pickled gradients", model, X)


def test_pickling_keeps_the_ops_with_a_constant(impl):
    """x * 2.0 is MUL_C, not MUL: a pickle names ops by name, and the CONST
    ops share their names with the BINARY ones ("mul", "add", "pow", ...)."""
    tape = mg.trace(lambda x: (x * 2.0 + 1.0) ** 3.0, impl.Number(0.5))
    again = pickle.loads(pickle.dumps(tape))
    X = np.array([[0.5], [1.0]])
    assert canon(again(X)) == canon(tape(X)) == canon([8.0, 27.0])


# -- fixed shapes ------------------------------------------------------------------------------
# The dense-layer kernels work in register tiles (AVX-512: up to 6 rows by 4
# vectors of 8 lanes; AVX2: 4 by 3 of 4; portable: blocks of 16 lanes and 16
# inputs) over neurons J, inputs K and a chunk's lanes n, and transpose the
# inputs 64 lanes by 32 inputs at a time for the weights' sums: these shapes
# take every tile and remainder, on every kernel path.
TILE_J = [2, 3, 4, 5, 6, 7, 13]
TILE_K = [1, 2, 3, 4, 5, 6, 7, 9, 17, 25, 33, 70]
TILE_N = [1, 5, 9, 17, 25, 33, 64, 65, 255, 259]


@pytest.mark.parametrize("J", TILE_J)
def test_dense_runs_of_every_tile_shape(impl, J):
    if impl.BACKEND != "core":
        pytest.skip("the tile kernels are the core's; the reference has one loop")
    small, large = [n for n in TILE_N if n <= 64], [n for n in TILE_N if n > 64]
    for i, K in enumerate(TILE_K):
        odd = (i + J) % 2 == 1
        # with and without a bias (a constant input: no gradient row), the
        # run's contributions to the inputs first (stored) or not (added)
        for spec in (layer_spec(J, K, bias=odd),
                     layer_spec(J, K, weights="mixed" if i % 3 == 0 else "fresh", bias=not odd,
                                reuse="all" if odd else "first")):
            # a chunk of each size: every lane tile, and past 64 lanes (the
            # weight sums' second block of lanes)
            for size in (small[(i + J) % len(small)], large[(i + J) % len(large)]):
                check_graph(impl, spec, (size, ((1, 0, -0.0), (3, 0, math.nan)), K), sample=3)
    check_graph(impl, constant_inputs_spec(J, 3), (9, (), 1), sample=3)


def test_a_layer_whose_neuron_has_an_input_for_a_weight(impl):
    """Parameter 1 is an input of every neuron and the first weight of neuron
    1: the run must end before that neuron (apart())."""
    spec = Spec(2, (0.5, -0.25), (Layer(4, "fresh", ("one", 1.0), ("tanh", 0.0, 0.0),
                                        (("selfw", 1, 1),)),), (("sum", 0),), 4)
    check_graph(impl, spec, ("lanes+1" if impl.BACKEND == "core" else 9, SWEEP_CELLS, 2))


@pytest.mark.parametrize("bias", [0.0, 1.0, None],
                         ids=["0.0 and -0.0", "1.0 and 2.0", "a constant for an input"])
def test_second_halves_that_differ_split_a_layer(impl, bias):
    """Neuron 0's bias input is the constant `bias`, the others' a constant
    of other bits (-0.0 for 0.0): not one layer (same_layer() compares
    constants by their bits), so neuron 0 stands alone before a run.  None: a
    neuron over (x0, x1), then a layer over (1.0, its output): dots of one
    length, a constant where the first has an input."""
    if bias is None:
        steps = (Layer(1, "fresh", ("none", 0.0), ("tanh", 0.0, 0.0), ()),
                 Layer(3, "fresh", ("one", 1.0), ("tanh", 0.0, 0.0), ()))
    else:
        steps = (Layer(4, "fresh", ("vary", bias), ("relu", 0.0, 0.0), ()),)
    spec = Spec(2, (0.5,), steps, (("sum", 0),), 6)
    check_graph(impl, spec, ("2lanes+3" if impl.BACKEND == "core" else 9, SWEEP_CELLS, 3))


def test_where_in_every_position(impl):
    check_graph(impl, where_spec(), ("2lanes+3" if impl.BACKEND == "core" else 21,
                                     SWEEP_CELLS, 3))


def test_a_tape_long_enough_for_the_smallest_chunk(impl):
    spec = chain_spec(4200)
    model, tape = build(impl, spec)
    assert tape.lanes == 8
    check_graph(impl, spec, ("2lanes+3", ((1, 0, math.nan), (9, 0, -0.0)), 5), sample=3)


@pytest.mark.slow
def test_a_layer_of_300_neurons_over_300_inputs(impl):
    """90,300 weights: a 300 x 300 run, then a dot of 301 products."""
    if impl.BACKEND != "core":
        pytest.skip("the reference replays 90,000 products a lane in Python (slow)")
    check_graph(impl, wide_spec(300, 299), ("lanes+1", ((1, 5, math.inf),), 11), sample=2)


CORRUPT = {
    "ngrad past the code": lambda s: s.update(ngrad=len(s["code"]) + 1),
    "no outputs": lambda s: s.update(outs=[]),
    "an output out of range": lambda s: s["outs"].__setitem__(0, 10 ** 6),
    "an instruction's slot": lambda s: _instr(s, "tanh", out=lambda i: i + 5),
    "a block past the operands": lambda s: _instr(s, "dot", b=lambda b: 10 ** 6),
    "an empty block": lambda s: _instr(s, "sum", b=lambda b: 0),
    "a dot of an odd count": lambda s: _instr(s, "dot", b=lambda b: b - 1),
    "a where of two": lambda s: _instr(s, "where", b=lambda b: 2),
    "a block operand out of range": lambda s: s["args"].__setitem__(0, 10 ** 6),
    "a block operand from later": lambda s: _arg_from_later(s),
    "an operand out of range": lambda s: _instr(s, "tanh", a=lambda a: 10 ** 6),
    "an operand from later": lambda s: _instr(s, "tanh", a="own"),
    "a second operand out of range": lambda s: _instr(s, "mul", b=lambda b: 10 ** 6),
    "a second operand from later": lambda s: _instr(s, "mul", b="own"),
}


def _instr(state, name, **change):
    code = state["code"]
    i = next(i for i, ins in enumerate(code) if ins[0] == name.upper())   # the op's CODE
    op, out, a, b, c, c2 = code[i]
    fields = {"out": out, "a": a, "b": b}
    for key, f in change.items():
        fields[key] = out if f == "own" else f(fields[key])     # "own": its own slot
    code[i] = (op, fields["out"], fields["a"], fields["b"], c, c2)


def _arg_from_later(state):
    ins = next(ins for ins in state["code"] if ins[0] == "SUM")
    state["args"][ins[2]] = ins[1]          # the sum's own slot


@pytest.mark.parametrize("what", sorted(CORRUPT))
def test_a_corrupt_pickled_tape_is_refused(impl, what):
    w = impl.Number(0.5)

    def fn(x, y):
        h = impl.dot([w, 2.0], [x, y])
        s = impl.sum([h, x, 1.0, w.exp()])
        return impl.where(x, (s * w).tanh(), y) * 1.0
    tape = mg.trace(fn, impl.Number(0.5), impl.Number(0.25))
    state = tape._impl.to_state()
    CORRUPT[what](state)
    with pytest.raises(ValueError, match="not consistent"):
        type(tape._impl).from_state(state, tape.params)


def test_gemm_paths_are_chosen_and_refused(impl):
    if impl.BACKEND != "core":
        pytest.skip("the core's dense-layer kernels")
    with pytest.raises(ValueError):
        impl.gemm_select("no such path")
    best = impl.gemm_path()
    for value, expect in (("1", "portable"), ("0", best), ("", best)):
        out = subprocess.run([sys.executable, "-c", "from micrograd import _core; "
                              "print(_core.gemm_path())"], capture_output=True, text=True,
                             env=dict(os.environ, MICROGRAD_NO_SIMD=value), check=True)
        assert out.stdout.strip() == expect, value


DIRECT = """
import sys
import numpy as np, micrograd as mg
from micrograd import {mod} as m
p = m.Number(0.5)
def fn(x0, x1):
    return m.sum([m.dot([p, 2.0], [x0, x1]).tanh(), m.dot([3.0, 4.0], [x0, x1]).tanh()])
tape = mg.trace(fn, m.Number(0.5), m.Number(0.25))
X = np.random.default_rng(0).uniform(-1, 1, (20 * tape.lanes, 2))
tape.replay = "plain"
expect = tape.value_and_grad(X, "sum")[1].tobytes()
tape.replay = "fast"
got = [tape.value_and_grad(X, "sum", threads=t)[1] for t in (1, 2, 2, 1)]
print([g.tolist() for g in got], file=sys.stderr)
sys.exit(0 if all(g.tobytes() == expect for g in got) else 1)
"""


def test_a_run_of_one_parameter_then_constants(impl):
    """Two neurons, dot([p, 2.0], [x0, x1]) and dot([3.0, 4.0], [x0, x1]): the
    weights' references (p, then the constants) follow each other as an nn
    layer's parameters do, and list_weights() took them for parameters p ..
    p + 3 (d->direct): the run's weight sums are written past the end of the
    chunk's sums, a heap overflow ("free(): invalid next size", or with one
    input, other chunks' sums overwritten on two threads).  In a subprocess:
    the heap does not survive."""
    mod = "_core" if impl.BACKEND == "core" else "_core_py"
    out = subprocess.run([sys.executable, "-c", DIRECT.format(mod=mod)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-2000:]
