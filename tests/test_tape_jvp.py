"""tape.jvp: forward mode over a batch, each lane micrograd.jvp's bits.

The graphs are tests/tape_graphs.py's (every shape the fast replay lowers,
and the pruning path: where, stop_gradient), each op of the table on lanes
and parameters, with NaN, infinities, signed zeros and subnormals in the
batch.  Each sampled lane's outputs and tangents == micrograd.jvp on that
sample, built op by op; core and reference give the same bits on every lane.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import micrograd as mg
from tape_graphs import (SWEEP_OPS, batches, make_batch, rows, specs, sweep_spec, where_spec)
from test_tape_lowering import assert_same, budget_of, build, sample_lanes

SWEEP_CELLS = ((1, 0, math.nan), (2, 1, math.inf), (3, 0, -0.0), (4, 2, 5e-324),
               (5, 3, -math.inf), (6, 0, 0.0), (9, 4, 1e300))


def tangents_for(X, seed):
    """Directions with the same special values as the batch, here and there."""
    V = np.random.default_rng(seed + 1).uniform(-2.0, 2.0, X.shape)
    if V.size > 3:
        V.ravel()[1], V.ravel()[2] = 0.0, -0.0
    return V


def op_by_op_jvp(mod, model, row, direction):
    """(outputs, tangents) of micrograd.jvp on one sample, None where the
    graph raises op by op (the tape keeps the IEEE value there)."""
    try:
        outs, tans = mg.jvp(model.fn, [mod.Number(float(v)) for v in row],
                            [float(v) for v in direction])
    except (ArithmeticError, ValueError):
        return None
    return outs, tans


def check_jvp(mod, spec, batch, sample=10):
    size, cells, seed = batch
    model, tape = build(mod, spec)
    X = make_batch(spec.nin, model.example, rows(size, tape.lanes), cells, seed)
    V = tangents_for(X, seed)
    with np.errstate(all="ignore"):
        out, tan = tape.jvp(X, V)
    out, tan = np.reshape(out, (len(X), -1)), np.reshape(tan, (len(X), -1))
    assert_same(out, np.reshape(tape(X), (len(X), -1)), "jvp's outputs vs replay", model, X)
    compared = 0
    for lane in sample_lanes(len(X), tape.lanes, cells, seed, sample):
        expect = op_by_op_jvp(mod, model, X[lane], V[lane])
        if expect is None:
            continue
        compared += 1
        assert_same(out[lane], expect[0], f"lane {lane} outputs", model, X)
        assert_same(tan[lane], expect[1], f"lane {lane} tangents", model, X)
    return compared


@given(st.data())
def test_lanes_are_jvp_op_by_op(impl, data):
    core = impl.BACKEND == "core"
    spec = data.draw(specs(budget=budget_of(impl) // 4, big=False), label="spec")
    check_jvp(impl, spec, data.draw(batches(small=not core), label="batch"))


@pytest.mark.parametrize("prune", [False, True], ids=["dense", "pruning"])
@pytest.mark.parametrize("stem", SWEEP_OPS)
def test_every_op_on_lanes_and_parameters(impl, stem, prune):
    size = "2lanes+3" if impl.BACKEND == "core" else 11
    assert check_jvp(impl, sweep_spec(stem, prune), (size, SWEEP_CELLS, 7)) > 0


def test_where_gives_each_lane_its_branchs_tangent(impl):
    """A where() picks per lane: a lane whose pick has no tangent (a
    parameter) gets 0.0, its neighbour the other branch's tangent."""
    w = impl.Number(3.0)
    tape = mg.trace(lambda x: impl.where(x, x * x, w), impl.Number(1.0))
    out, tan = tape.jvp([[2.0], [-1.0], [0.0]], [[1.0], [1.0], [5.0]])
    assert out.tolist() == [4.0, 3.0, 3.0] and tan.tolist() == [4.0, 0.0, 0.0]
    assert check_jvp(impl, where_spec(), (5, (), 3)) > 0


@given(st.data())
def test_core_and_reference_agree_on_every_lane(both, data):
    spec = data.draw(specs(budget=600, big=False), label="spec")
    size, cells, seed = data.draw(batches(small=True), label="batch")
    models, tapes = zip(*[build(mod, spec) for mod in both])
    X = make_batch(spec.nin, models[0].example, rows(size, tapes[0].lanes), cells, seed)
    V = tangents_for(X, seed)
    with np.errstate(all="ignore"):
        got = [t.jvp(X, V) for t in tapes]
    assert_same(got[0][0], got[1][0], "core vs reference outputs", models[0], X)
    assert_same(got[0][1], got[1][1], "core vs reference tangents", models[0], X)


def test_shapes_and_parameters(impl):
    w = impl.Number(2.0)
    one = mg.trace(lambda x, y: x * y * w, impl.Number(1.0), impl.Number(1.0))
    out, tan = one.jvp([[1.0, 3.0], [2.0, -1.0]], [[1.0, 0.0], [0.5, 0.5]])
    assert out.shape == tan.shape == (2,)
    assert tan.tolist() == [6.0, 1.0]
    assert one.jvp([1.0, 3.0], [0.0, 1.0]) == (6.0, 2.0)       # one row
    w.value = 10.0                                               # read at every call
    assert one.jvp([1.0, 3.0], [0.0, 1.0]) == (30.0, 10.0)
    two = mg.trace(lambda x: (x * 2.0, w, x), impl.Number(1.0))
    out, tan = two.jvp(np.array([[1.5]]), np.array([[4.0]]))
    assert out.tolist() == [[3.0, 10.0, 1.5]] and tan.tolist() == [[8.0, 0.0, 4.0]]
    out, tan = one.jvp(np.empty((0, 2)), np.empty((0, 2)))
    assert out.shape == tan.shape == (0,)


def test_bad_directions_are_refused_the_same_on_both_backends(both):
    messages = []
    for mod in both:
        tape = mg.trace(lambda x, y: x * y, mod.Number(1.0), mod.Number(1.0))
        got = []
        for V, kind in (([[1.0, 2.0, 3.0]], ValueError), ([["a", "b"]], TypeError),
                        (mod.Number(1.0), TypeError), ([[1.0, 2.0], [3.0, 4.0]], ValueError)):
            with pytest.raises(kind) as info:
                tape.jvp([[1.0, 2.0]], V)
            got.append(str(info.value))
        messages.append(got)
    assert messages[0] == messages[1]
    assert messages[0][0] == "tape.jvp: V must have the shape of X, (1, 2), not (1, 3)"
