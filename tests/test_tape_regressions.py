"""Regression tests for wrong tape numbers found by trying legal graphs as an
adversarial user would: each failed before its fix, on the core (the
reference was right), and runs on both backends."""
import math

import numpy as np
import pytest

import micrograd as mg


def bits(a):
    return np.asarray(a, dtype=np.float64).tobytes()


def op_by_op(mod, fn, params, row):
    """(value, parameter gradients, input gradients) of one sample's graph."""
    for p in params:
        p.gradient = 0.0
    xs = [mod.Number(v) for v in row]
    y = fn(*xs)
    y.backward()
    return y.value, [p.gradient for p in params], [x.gradient for x in xs]


def assert_lanes_are_op_by_op(mod, fn, tape, X):
    for replay in ("fast", "plain"):
        tape.replay = replay
        vals, pg = tape.value_and_grad(X, reduction="none")
        _, ig = tape.value_and_grad(X, reduction="none", wrt="inputs")
        for lane, row in enumerate(X):
            v, gp, gi = op_by_op(mod, fn, tape.params, row)
            assert bits(vals[lane]) == bits(v), (replay, lane)
            assert bits(pg[lane]) == bits(gp), (replay, lane)
            assert bits(ig[lane]) == bits(gi), (replay, lane)


def test_check_true_sums_every_parameter(impl):
    """check=True asks for per-lane parameter gradients; the parameters a dot
    sums directly were then never summed (uninitialised memory)."""
    W = [[impl.Number(0.1 * (i + j) - 0.3) for j in range(3)] for i in range(4)]
    V = [impl.Number(0.2 * j - 0.1) for j in range(5)]

    def fn(a, b):                  # nn.MLP(2, [4, 1])'s graph
        h = [impl.dot(w, [1.0, a, b]).relu() for w in W]
        return impl.dot(V, [1.0] + h)
    t = mg.trace(fn, impl.Number(0.0), impl.Number(0.0))
    X = np.random.default_rng(0).normal(size=(300, 2))
    for reduction in ("sum", "mean"):
        _, plain = t.value_and_grad(X, reduction)
        _, checked = t.value_and_grad(X, reduction, check=True)
        assert bits(plain) == bits(checked)
    for p in t.params:
        p.gradient = 0.0
    t.backward(X, check=True)
    with_check = [p.gradient for p in t.params]
    for p in t.params:
        p.gradient = 0.0
    t.backward(X)
    assert bits(with_check) == bits([p.gradient for p in t.params])


def layer_fn(mod, weights, inputs_of):
    """A layer of neurons dot(w, inputs_of(x)) summed: a dense run."""
    def fn(x):
        ins = inputs_of(x)
        return mod.sum([mod.dot(w, ins).tanh() for w in weights])
    return fn


def test_a_dense_run_with_an_input_twice_adds_in_graph_order(impl):
    """dot(w, [x, x, 1.0]) in every neuron: x's gradient gets the neurons'
    contributions in the sweep's order, not operand by operand."""
    rng = np.random.default_rng(5)
    weights = [[impl.Number(v) for v in rng.normal(size=3)] for _ in range(7)]
    fn = layer_fn(impl, weights, lambda x: [x, x, 1.0])
    tape = mg.trace(fn, impl.Number(0.0))
    X = rng.normal(size=(40, 1)) * 3
    assert_lanes_are_op_by_op(impl, fn, tape, X)


def test_a_skip_connection_feeding_an_input_again(impl):
    rng = np.random.default_rng(6)
    w1 = [[impl.Number(v) for v in rng.normal(size=3)] for _ in range(5)]
    w2 = [[impl.Number(v) for v in rng.normal(size=8)] for _ in range(4)]

    def fn(a, b):
        h = [impl.dot(w, [1.0, a, b]).relu() for w in w1]
        return impl.sum([impl.dot(w, [1.0] + h + [h[0], a]) for w in w2])
    tape = mg.trace(fn, impl.Number(0.0), impl.Number(0.0))
    X = rng.normal(size=(30, 2))
    assert_lanes_are_op_by_op(impl, fn, tape, X)


def test_a_parameter_that_is_a_weight_and_an_input_of_one_layer(impl):
    """s is the first weight of one neuron and the second input of both: the
    run's backward lost the weight's term (d/ds 0.5 where the truth is 1.5)."""
    s, c, a, b = (impl.Number(v) for v in (0.5, 1.0, 0.5, 0.25))

    def fn(x):
        return impl.sum([impl.dot([s, c], [x, s]), impl.dot([a, b], [x, s])])
    tape = mg.trace(fn, impl.Number(0.0))
    _, g = tape.value_and_grad([[1.0]], "sum")
    assert g[tape.params.index(s)] == 1.0 + 1.0 + 0.25
    assert_lanes_are_op_by_op(impl, fn, tape, np.array([[1.0], [-2.0], [0.1]]))


def test_threads_beyond_the_chunks_give_the_same_answer(impl):
    """threads=2**31 overflowed on the core; threads=1000 on a three-chunk
    batch started 999 threads.  Now the same answer for any count."""
    w = impl.Number(0.5)
    tape = mg.trace(lambda x: (x * w).tanh(), impl.Number(0.0))
    X = np.linspace(-1, 1, 3 * tape.lanes).reshape(-1, 1)
    expect = tape.value_and_grad(X, "sum")
    for threads in (2, 1000, 2**31, 2**63):
        got = tape.value_and_grad(X, "sum", threads=threads)
        assert bits(got[0]) == bits(expect[0]) and bits(got[1]) == bits(expect[1])


def test_the_core_never_runs_more_threads_than_chunks():
    core = pytest.importorskip("micrograd._core")
    ws = [core.Number(0.1 * k) for k in range(64)]
    # a wide layer, so that each chunk is worth a thread of its own
    tape = mg.trace(lambda x: core.sum([core.dot([w, w], [x, 1.0]).tanh() for w in ws]),
                    core.Number(0.0))
    for chunks in (1, 2, 3):
        X = np.ones((chunks * tape.lanes, 1))
        tape.value_and_grad(X, "sum", threads=1000)
        assert 1 <= tape._impl.threads_used <= chunks
    tape.value_and_grad(np.ones((1, 1)), "sum", threads=2)
    assert tape._impl.threads_used == 1          # one lane: no thread is worth starting


def test_a_pickle_names_each_op_by_its_row(impl):
    """Tapes pickled ops by public name, and the constant forms (x * 2.0)
    share theirs with the binary ones: they loaded as binary ops reading an
    input.  Now each op is named by its CODE; an older pickle is read only
    where its names are unambiguous."""
    tape = mg.trace(lambda x: ((x * 2.0 + 1.0) ** 3.0).tanh(), impl.Number(0.5))
    state = tape._impl.to_state()
    names = [ins[0] for ins in state["code"]]
    assert names == ["MUL_C", "ADD_C", "POW_C", "TANH"]
    again = type(tape._impl).from_state(state, tape.params)
    assert again.to_state() == state
    legacy = dict(state, code=[("tanh",) + ins[1:] if ins[0] == "TANH" else ins
                               for ins in state["code"]])
    assert type(tape._impl).from_state(legacy, tape.params).to_state() == state
    legacy["code"][0] = ("mul",) + tuple(legacy["code"][0][1:])
    with pytest.raises(ValueError, match="older micrograd"):
        type(tape._impl).from_state(legacy, tape.params)


def test_a_layer_whose_first_weight_is_a_constant(impl):
    """A dense run whose weights start with a constant (no parameter block to
    write sums into directly) and mix constants and parameters after it."""
    rng = np.random.default_rng(7)
    ws = [[2.0, impl.Number(rng.normal()), -0.5] for _ in range(6)]

    def fn(a, b):
        return impl.sum([impl.dot(w, [a, b, 1.0]).tanh() for w in ws])
    tape = mg.trace(fn, impl.Number(0.0), impl.Number(0.0))
    X = rng.normal(size=(37, 2))
    assert_lanes_are_op_by_op(impl, fn, tape, X)
    for replay in ("fast", "plain"):
        tape.replay = replay
        got = tape.value_and_grad(X, "sum")
        if replay == "fast":
            fast = got
    assert bits(fast[1]) == bits(got[1]) and bits(fast[0]) == bits(got[0])


def test_a_tape_refuses_hooks_at_trace_and_at_backward(impl):
    """A hook on a parameter, or on a Number inside fn, was skipped silently by
    tape.backward, whose gradients then differed from backward's.  The tape
    refuses them, at trace and (for a hook registered later) at backward."""
    w = impl.Number(0.5)
    handle = w.register_hook(lambda g: 2.0 * g)
    with pytest.raises(ValueError, match="a tape does not run hooks") as err:
        mg.trace(lambda x: (x * w).tanh(), impl.Number(0.0))
    assert str(err.value).startswith("trace: a Number of the traced graph has a hook")
    handle.remove()
    tape = mg.trace(lambda x: (x * w).tanh(), impl.Number(0.0))   # without: fine

    def inner_hook(x):
        h = x * w
        h.register_hook(lambda g: 0.0)
        return h.tanh()
    with pytest.raises(ValueError, match="a tape does not run hooks"):
        mg.trace(inner_hook, impl.Number(0.0))
    handle = w.register_hook(lambda g: g)
    w.gradient = 1.5
    for call in (lambda: tape.backward([[1.0]]),
                 lambda: tape.value_and_grad([[1.0]], "sum"),
                 lambda: tape.value_and_grad([[1.0]], "none")):
        with pytest.raises(ValueError, match="^tape: a parameter has a hook"):
            call()
    assert w.gradient == 1.5                            # nothing was added
    assert tape([[1.0]]).tolist() == [math.tanh(0.5)]   # forward and inputs are fine
    tape.value_and_grad([[1.0]], wrt="inputs")
    handle.remove()
    tape.backward([[1.0]])
    assert w.gradient == 1.5 + (1 - math.tanh(0.5) ** 2)


def test_infinite_sums_of_two_chunks_make_nan_without_a_warning(impl):
    """One chunk's sum of a parameter's gradient was -inf and the next one's
    inf: the reference added them as NumPy scalars, which warns (an error
    under the suite's warning filter) where C, and Python floats, just give
    nan.  Found by tests/test_tape_lowering.py's generator."""
    w = impl.Number(0.5)
    tape = mg.trace(lambda x: x * w + 1.0, impl.Number(0.0))
    X = np.zeros((tape.lanes + 1, 1))
    X[1, 0], X[tape.lanes, 0] = -math.inf, math.inf
    value, grads = tape.value_and_grad(X, "sum")
    assert value[1] == -math.inf and value[-1] == math.inf and math.isnan(grads[0])


def test_a_re_created_model_is_not_replayed_silently(impl):
    """Trace with model, re-create model (a notebook cell run again): the tape
    went on replaying the old weights, the new model's gradients staying 0,
    with no error.  Now it refuses, on every replay; weights the caller still
    holds, or made inside fn, are never refused."""
    X = np.linspace(-1, 1, 16).reshape(8, 2)
    ws = [impl.Number(0.3), impl.Number(-0.2)]
    example = [impl.Number(v) for v in X[0]]
    tape = mg.trace(lambda a, b: (ws[0] * a + ws[1] * b).tanh(), *example)
    tape.backward(X)
    ws = [impl.Number(0.3), impl.Number(-0.2)]  # re-created, the tape not re-traced
    for replay in (lambda: tape.backward(X), lambda: tape(X),
                   lambda: tape.value_and_grad(X)):
        with pytest.raises(RuntimeError, match="held by nothing but this tape"):
            replay()
    assert [w.gradient for w in ws] == [0.0, 0.0]
    kept = tape.params                          # holding them makes the tape usable again
    tape.backward(X)
    assert all(p.gradient != 0.0 for p in kept)
    inside = mg.trace(lambda x: (x * impl.Number(0.5)).tanh(), impl.Number(0.0))
    inside.backward(X[:, :1])
    inside.backward(X[:, :1])                   # a weight only the tape ever held


def test_an_unaligned_batch_is_copied_aligned_before_the_c_reads_it(impl):
    """A contiguous float64 array at an odd address (what dask hands a worker)
    was passed to the C as it was: misaligned double loads, which UBSan
    flagged in the sanitizer run and an aligned vector load would fault on."""
    import numpy as np
    import micrograd as mg
    tape = mg.trace(lambda x, y: (x * y).tanh() + x, impl.Number(0.5), impl.Number(1.0))
    data = np.arange(40, dtype=np.float64) / 7.0
    raw = np.zeros(data.nbytes + 1, dtype=np.uint8)
    raw[1:] = np.frombuffer(data.tobytes(), dtype=np.uint8)
    X = np.frombuffer(raw.data, dtype=np.float64, offset=1).reshape(20, 2)
    assert X.flags.c_contiguous and not X.flags.aligned
    x, _ = tape._batch(X)
    assert x.flags.aligned and np.array_equal(x, data.reshape(20, 2))
    assert np.array_equal(tape(X), tape(data.reshape(20, 2)))
    assert np.array_equal(tape.jvp(X, X)[1], tape.jvp(data.reshape(20, 2), data.reshape(20, 2))[1])
