"""A tape replayed over shards on executors (threads, processes, a dask
cluster) gives exactly the bits of threads=1, on both backends; a failed
shard is named and changes no gradient."""
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

import micrograd as mg
from micrograd import _shards
from micrograd.tape import ShardError

ROWS = 1100          # a few chunks of 256 rows (the tapes below), the last one short


def bits(a):
    a = np.asarray(a, dtype=np.float64)
    return a.shape, a.tobytes()


def model_tape(mod, outputs=1):
    """A small MLP's hinge loss on 3 inputs (x0, x1, label), traced on mod's
    Numbers; with outputs=2, its raw score too."""
    rng = np.random.default_rng(3)
    W1 = [[mod.Number(v) for v in rng.uniform(-1, 1, 3)] for _ in range(5)]
    W2 = [[mod.Number(v) for v in rng.uniform(-1, 1, 6)] for _ in range(4)]
    w3 = [mod.Number(v) for v in rng.uniform(-1, 1, 5)]

    def fn(x0, x1, t):
        h = [mod.dot(w, [1.0, x0, x1]).relu() for w in W1]
        h = [mod.dot(w, [1.0] + h).tanh() for w in W2]
        score = mod.dot(w3, [1.0] + h)
        loss = (1.0 - t * score).relu() + mod.where(x0, x0 * 1e-3, -x1 * 1e-3)
        return (loss, score) if outputs == 2 else loss

    tape = mg.trace(fn, *[mod.Number(0.0)] * 3)
    tape.keep = (W1, W2, w3)            # something besides the tape holds the weights
    return tape


def batch(rows=ROWS):
    rng = np.random.default_rng(11)
    X = np.column_stack([rng.uniform(-2, 2, (rows, 2)), rng.choice([-1.0, 1.0], rows)])
    if rows == ROWS:
        X[300:560] = -0.0                # a whole chunk of -0.0 inputs
        X[700] = [np.inf, -np.inf, 1.0]  # inf and NaN in one lane's sums
    return X


def set_grads(tape, values=None):
    """Every parameter's .gradient set to known bits (some -0.0): backward
    adds to them, so the addition is compared too."""
    params = tape.params
    if values is None:
        values = [(-0.0 if i % 3 == 0 else 0.1 * i) for i in range(len(params))]
    for p, g in zip(params, values):
        p.gradient = g
    return values


def grads(tape):
    return bits([p.gradient for p in tape.params])


# -- the executors: made once for the module -----------------------------------------
def _spawn_pool():
    # spawn, not fork: this process runs threads (the dask cluster's, the
    # thread pool's), which fork would copy mid-flight
    return ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # ":0": any free port for the dashboard (a second cluster on 8787 warns)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as lc, distributed.Client(lc) as c:
        yield c


@pytest.fixture(scope="module")
def pools():
    with ThreadPoolExecutor(2) as threads, _spawn_pool() as processes:
        yield {"threads": threads, "processes": processes}


@pytest.fixture(params=["threads", "processes", "dask"])
def executor(request, pools):
    if request.param == "dask":
        return request.getfixturevalue("cluster")
    return pools[request.param]


# -- the same bits -----------------------------------------------------------------------
@pytest.mark.parametrize("shards", [None, 50])      # 2 shards, and one per chunk
def test_every_result_is_the_bits_of_one_thread(impl, executor, shards):
    tape = model_tape(impl)
    X = batch()
    run = {"executor": executor, "shards": shards}
    assert bits(tape(X, **run)) == bits(tape(X))
    for reduction in ("none", "sum", "mean"):
        for wrt in ("params", "inputs"):
            here = tape.value_and_grad(X, reduction=reduction, wrt=wrt)
            there = tape.value_and_grad(X, reduction=reduction, wrt=wrt, **run)
            assert bits(there[0]) == bits(here[0]), (reduction, wrt)
            assert bits(there[1]) == bits(here[1]), (reduction, wrt)
    for reduction in ("sum", "mean"):
        start = set_grads(tape)
        here = tape.backward(X, reduction=reduction)
        expect = grads(tape)
        set_grads(tape, start)
        there = tape.backward(X, reduction=reduction, **run)
        assert bits(there) == bits(here) and grads(tape) == expect, reduction


def test_several_outputs_a_row_and_an_empty_batch(impl, executor):
    tape = model_tape(impl, outputs=2)
    X = batch(300)
    assert bits(tape(X, executor=executor)) == bits(tape(X))
    assert tape(X, executor=executor).shape == (300, 2)
    assert bits(tape(X[5], executor=executor)) == bits(tape(X[5]))
    for reduction in ("none", "sum"):
        here = tape.value_and_grad(X[5], reduction=reduction)
        there = tape.value_and_grad(X[5], reduction=reduction, executor=executor)
        assert bits(there[1]) == bits(here[1])
    # an empty batch: nothing to send, and 0.0 added to every gradient as here
    empty = np.empty((0, 3))
    start = set_grads(tape)
    here = tape.backward(empty, reduction="sum")
    expect = grads(tape)
    set_grads(tape, start)
    assert bits(tape.backward(empty, reduction="sum", executor=executor)) == bits(here)
    assert grads(tape) == expect


def test_the_plain_replay_is_sent_too(executor):
    tape = model_tape(mg._backend.impl)
    tape.replay = "plain"
    X = batch()
    here = tape.value_and_grad(X, reduction="sum")
    there = tape.value_and_grad(X, reduction="sum", executor=executor, shards=3)
    assert bits(there[1]) == bits(here[1])


def test_lokys_executor_is_one_too(impl):
    loky = pytest.importorskip("joblib.externals.loky")
    tape = model_tape(impl)
    X = batch()
    start = set_grads(tape)
    here = tape.backward(X, reduction="sum")
    expect = grads(tape)
    set_grads(tape, start)
    with loky.ProcessPoolExecutor(2) as ex:
        assert bits(tape.backward(X, reduction="sum", executor=ex, shards=3)) == bits(here)
    assert grads(tape) == expect


def test_check_names_the_same_lanes_and_changes_nothing(impl, executor):
    tape = model_tape(impl)
    X = batch()
    start = set_grads(tape)
    with pytest.raises(FloatingPointError) as here:
        tape.backward(X, check=True)
    with pytest.raises(FloatingPointError) as there:
        tape.backward(X, check=True, executor=executor, shards=3)
    assert str(there.value) == str(here.value) and "lanes 700" in str(here.value)
    assert grads(tape) == bits(start)
    for wrt in ("params", "inputs"):
        with pytest.raises(FloatingPointError) as here:
            tape.value_and_grad(X, wrt=wrt, check=True)
        with pytest.raises(FloatingPointError) as there:
            tape.value_and_grad(X, wrt=wrt, check=True, executor=executor, shards=2)
        assert str(there.value) == str(here.value)
    finite = X[:300]
    here = tape.value_and_grad(finite, reduction="sum", check=True)
    there = tape.value_and_grad(finite, reduction="sum", check=True, executor=executor)
    assert bits(there[1]) == bits(here[1])


# -- each chunk's sums: what a worker sends back ---------------------------------------
def chunk_sums(tape, X, threads=1):
    impl, L = tape._impl, tape.lanes
    nchunks, npar = -(-len(X) // L), len(tape.params)
    outs, sums, total = np.empty(nchunks), np.empty((nchunks, npar)), np.zeros(npar)
    value = impl.run(X, None, None, None, total, True, threads, outs, sums)
    return outs, sums, value, total


@pytest.mark.parametrize("threads", [1, 2])
def test_run_gives_the_chunk_sums_it_adds(impl, threads):
    tape = model_tape(impl)
    X = batch()
    outs, sums, value, total = chunk_sums(tape, X, threads)
    again_value, again_total = 0.0, np.zeros(len(tape.params))
    with np.errstate(all="ignore"):             # the NaN lane
        for o, s in zip(outs, sums):
            again_value += o
            again_total += s
    assert bits(again_value) == bits(value) and bits(again_total) == bits(total)
    assert bits(total) == bits(tape.value_and_grad(X, reduction="sum")[1])
    # a chunk's sums are those of the chunk replayed alone
    L = tape.lanes
    assert bits(chunk_sums(tape, X[L:2 * L])[1][0]) == bits(sums[1])


def test_both_backends_give_the_same_chunk_sums(both):
    core, py = (chunk_sums(model_tape(mod), batch()) for mod in both)
    assert all(bits(a) == bits(b) for a, b in zip(core, py))


def test_chunk_arrays_of_the_wrong_shape_are_refused(impl):
    tape = model_tape(impl)
    X, npar, impl_ = batch(), len(tape.params), tape._impl
    for outs, sums, total, message in [
            (np.empty(4), None, None, "chunk_outs must hold 5 values, one per chunk"),
            (None, np.empty((5, npar)), None,
             f"chunk_sums must be \\(5, {npar}\\), one row per chunk, with param_total"),
            (None, np.empty((5, npar + 1)), np.zeros(npar), "chunk_sums must be")]:
        with pytest.raises(ValueError, match=message):
            impl_.run(X, None, None, None, total, True, 1, outs, sums)


# -- what travels --------------------------------------------------------------------------
class Recording(ThreadPoolExecutor):
    """A thread pool that notes whether each task carried the tape."""

    def __init__(self):
        super().__init__(2)
        self.carried = []

    def submit(self, fn, *args):
        self.carried.append(args[1] is not None)
        return super().submit(fn, *args)


def test_the_tape_travels_once_and_again_to_a_worker_without_it(impl):
    tape = model_tape(impl)
    X = batch()
    with Recording() as ex:
        tape.backward(X, executor=ex, shards=3)
        tape.backward(X, executor=ex, shards=3)
        assert ex.carried == [True] * 3 + [False] * 3
        # a copy of the tape (a new token) on an executor it is taken to have
        # met: its workers do not hold it, answer so, and get it
        copy = pickle.loads(pickle.dumps(tape))
        copy._met = None
        _shards._first_meeting(copy, ex)
        ex.carried.clear()
        here = tape.value_and_grad(X, reduction="sum")
        assert bits(copy.value_and_grad(X, reduction="sum", executor=ex, shards=2)[1]) \
            == bits(here[1])
        assert ex.carried == [False] * 2 + [True] * 2


def test_workers_import_this_micrograd(pools, cluster):
    assert pools["processes"].submit(_micrograd_file).result() == mg.__file__
    assert set(cluster.run(_micrograd_file).values()) == {mg.__file__}


def _micrograd_file():
    import micrograd
    return micrograd.__file__


def test_a_memmap_is_read_by_its_workers(impl, pools, tmp_path):
    tape = model_tape(impl)
    X = batch()
    path = tmp_path / "batch.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    plan = _shards.plan(tape, ro, pools["processes"], 3)
    assert all(isinstance(s[2], tuple) for s in plan.shards)     # a path, not rows
    here = tape.value_and_grad(np.asarray(ro), reduction="sum")
    there = tape.value_and_grad(ro, reduction="sum", executor=pools["processes"], shards=3)
    assert bits(there[0]) == bits(here[0]) and bits(there[1]) == bits(here[1])
    # a view's offset is its parent's: its rows are sent instead
    assert isinstance(_shards.plan(tape, ro[10:], pools["processes"], 2).shards[0][2],
                      np.ndarray)
    assert bits(tape(ro[10:], executor=pools["processes"])) == bits(tape(np.asarray(ro[10:])))


def test_a_dask_array_of_several_blocks(impl, pools, cluster):
    da = pytest.importorskip("dask.array")
    tape = model_tape(impl)
    X = batch()
    here = tape.value_and_grad(X, reduction="sum")
    start = set_grads(tape)
    tape.backward(X, reduction="mean")
    expect = grads(tape)
    # blocks of 2 columns are joined; 400 rows is no multiple of 256: rechunked
    for rows, ex in ((512, pools["processes"]), (400, cluster)):
        D = da.from_array(X, chunks=(rows, 2))
        assert [b - a for a, b, _ in _shards.plan(tape, D, ex, None).shards] \
            == ([512, 512, 76] if rows == 512 else [256] * 4 + [76])
        there = tape.value_and_grad(D, reduction="sum", executor=ex)
        assert bits(there[0]) == bits(here[0]) and bits(there[1]) == bits(here[1])
        set_grads(tape, start)
        tape.backward(D, reduction="mean", executor=ex)
        assert grads(tape) == expect


# -- failures ----------------------------------------------------------------------------
def test_a_shard_that_raises_is_named_and_nothing_is_added(impl, executor, tmp_path):
    """The memmap's file is replaced by one holding one shard's rows: the
    second shard's worker cannot read its rows (the caller's map still
    holds the old file)."""
    tape = model_tape(impl)
    X = batch()
    path = tmp_path / "batch.f64"
    np.asarray(X).tofile(path)
    mm = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    short = tmp_path / "short.f64"
    X[:512].tofile(short)
    os.replace(short, path)
    start = set_grads(tape)
    with pytest.raises(ShardError, match=r"shard 1 \(rows 512 to 1100 of 1100\)") as err:
        tape.backward(mm, executor=executor, shards=2)
    assert err.value.rows == (512, 1100) and err.value.shard == 1
    assert "No gradient was changed" in str(err.value)
    assert grads(tape) == bits(start)


def _die_in_block(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 0:
        os._exit(3)
    return block


def test_a_worker_that_dies_is_named_and_nothing_is_added(impl):
    da = pytest.importorskip("dask.array")
    tape = model_tape(impl)
    D = da.from_array(batch(), chunks=(512, 3)).map_blocks(_die_in_block, dtype=float)
    start = set_grads(tape)
    with _spawn_pool() as pool:
        with pytest.raises(ShardError, match=r"shard 0 \(rows 0 to 512 of 1100\)") as err:
            tape.backward(D, executor=pool)
    assert isinstance(err.value.__cause__, BrokenProcessPool)
    assert grads(tape) == bits(start)


def _raise_in_block(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 1:
        raise OSError("the disk is gone")
    return block


def test_a_dask_block_that_raises_on_the_cluster(impl, cluster):
    da = pytest.importorskip("dask.array")
    tape = model_tape(impl)
    D = da.from_array(batch(), chunks=(512, 3)).map_blocks(_raise_in_block, dtype=float)
    start = set_grads(tape)
    with pytest.raises(ShardError, match=r"shard 1 \(rows 512 to 1024 of 1100\).*the disk"):
        tape.backward(D, executor=cluster)
    assert grads(tape) == bits(start)


# -- bad input ---------------------------------------------------------------------------
def test_bad_input_is_refused_alike_on_both_backends(impl, pools):
    tape = model_tape(impl)
    X = batch(300)
    start = set_grads(tape)
    ex = pools["threads"]
    cases = [
        (dict(executor=4), TypeError,
         "tape: executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
         "not int"),
        (dict(executor=[ex]), TypeError, "not list"),
        (dict(executor=ex, shards=0), ValueError,
         "tape: shards must be a positive int or None, not 0"),
        (dict(executor=ex, shards=True), ValueError, "not True"),
        (dict(shards=2), ValueError, "tape: shards are for an executor; pass executor= too"),
    ]
    for kwargs, kind, message in cases:
        for call in (lambda: tape.backward(X, **kwargs), lambda: tape(X, **kwargs),
                     lambda: tape.value_and_grad(X, **kwargs)):
            with pytest.raises(kind) as err:
                call()
            assert message in str(err.value)
    assert grads(tape) == bits(start)


def test_a_bad_dask_array_is_refused(impl, pools):
    da = pytest.importorskip("dask.array")
    tape = model_tape(impl)
    start = set_grads(tape)
    ex = pools["threads"]
    with pytest.raises(ValueError, match=r"must have shape \(batch, 3\) for this tape of 3 "
                                         r"inputs, not \(10, 4\)"):
        tape.backward(da.zeros((10, 4)), executor=ex)
    with pytest.raises(ValueError, match=r"not \(10,\)"):
        tape.backward(da.zeros(10), executor=ex)
    with pytest.raises(TypeError, match="must hold real numbers"):
        tape.backward(da.zeros((10, 3), dtype=complex), executor=ex)
    with pytest.raises(ValueError, match="blocks are its shards"):
        tape.backward(da.zeros((10, 3)), executor=ex, shards=2)
    unknown = da.zeros((10, 3))
    unknown = unknown[unknown[:, 0] == 0]
    with pytest.raises(ValueError, match="chunk sizes are unknown"):
        tape.backward(unknown, executor=ex)
    assert grads(tape) == bits(start)
