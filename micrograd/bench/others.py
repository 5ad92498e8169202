"""The columns for other systems, run where they import: the same workloads
as the alternatives users know would write them, in float64.

PyTorch: scalar autograd for `ops`, batched tensors (what torch is built for)
for `mlp`.

The moons step (MOONS): one SGD step -- forward, backward and update -- of
MLP(2, [16, 16, 1]) on the 100 two-moons points, hinge loss + 1e-4 L2, lr =
1.0 - 0.9*k/100, from micrograd's own initial weights (moons_setup), so the
loss curves can be checked against each other and micrograd's.  Each returns
None when its package does not import, else a dict: step_ms (median over the
`steps` steps), first_call_ms (the first call on its own, with any tracing
and compiling), final_loss (the last step's loss) and losses (every step's).

    torch      eager PyTorch on batched tensors, one thread unless asked
    jax        one jax.jit'ed step (value_and_grad + update, parameters
               donated), CPU, synchronous dispatch when it can (_load_jax)
    casadi     the per-sample SX graph mapped serially over the batch, gradient
               in MX, run by CasADi's virtual machine; build_ms its construction
    casadi_c   the same Function generated as C, gcc -O2, casadi.external;
               compile_s the generate + compile + load

jax_recurrence: JAX's trace+compile time and call time for jit(grad(f)) of an
unrolled scalar chain of n ops, against n.

jax, jaxlib and casadi are optional: imported inside the functions only.
"""
import gc
import os
import statistics
import time

from .workloads import now


# =============================================================================
def torch_ops(torch, cfg):
    lanes, steps = cfg["lanes"], cfg["steps"]
    samples = {"forward": [], "backward": []}
    for _ in range(cfg["repeats"]):
        leaf = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
        a = [leaf(0.5 + i / (4 * lanes)) for i in range(lanes)]
        b = [leaf(0.1 - i / (20 * lanes)) for i in range(lanes)]
        y0 = [leaf(i / lanes - 0.5) for i in range(lanes)]
        gc.collect()
        t0 = now()
        ys = []
        for ai, bi, y in zip(a, b, y0):
            for _ in range(steps):
                y = torch.tanh(y * ai + bi)
            ys.append(y)
        root = torch.stack(ys).sum()
        t1 = now()
        root.backward()
        t2 = now()
        samples["forward"].append(t1 - t0)
        samples["backward"].append(t2 - t1)
    nodes = 3 * lanes * steps + 1
    return dict(forward_ns_per_node=statistics.median(samples["forward"]) / nodes,
                backward_ns_per_node=statistics.median(samples["backward"]) / nodes)


def torch_mlp(torch, cfg):
    from micrograd.datasets import make_moons
    import numpy as np
    np.random.seed(1337)
    X, y = make_moons(100, noise=0.1)
    X = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(y * 2 - 1, dtype=torch.float64)
    g = torch.Generator().manual_seed(1337)
    sizes = [2, 16, 16, 1]
    params = []
    for i in range(3):
        params.append((torch.rand(sizes[i], sizes[i + 1], generator=g, dtype=torch.float64) * 2 - 1)
                      .requires_grad_())
        params.append(torch.zeros(sizes[i + 1], dtype=torch.float64, requires_grad=True))
    opt = torch.optim.SGD(params, lr=1.0)
    times = []
    for k in range(cfg["mlp_steps"]):
        t0 = now()
        h = X
        for i in range(3):
            h = h @ params[2 * i] + params[2 * i + 1]
            h = torch.relu(h) if i < 2 else h
        loss = torch.relu(1 - y * h[:, 0]).mean() + 1e-4 * sum((p * p).sum() for p in params)
        opt.zero_grad()
        loss.backward()
        opt.param_groups[0]["lr"] = moons_lr(k)
        opt.step()
        times.append(now() - t0)
    return dict(nn_ms_per_step=statistics.median(times) / 1e6)


TORCH_BENCHES = {"ops": torch_ops, "mlp": torch_mlp}


def load_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# =============================================================================
# The moons step: one workload, every system, the same starting point
# =============================================================================
def moons_lr(k):
    """The learning rate at step k, for every system alike."""
    return 1.0 - 0.9 * k / 100


def moons_setup():
    """(X (100, 2), t (100,) of +-1, layers [(W (nin, nout), b (nout,)) x 3]).

    The weights are micrograd's own nn.MLP(2, [16, 16, 1]) drawn right after
    make_moons, as micrograd/bench/mlp.py does, so every system starts from
    the same point and their loss curves can be compared number for number.
    The global random states are restored: a benchmark must not reseed its caller.
    """
    import random

    import numpy as np

    from micrograd import nn
    from micrograd.datasets import make_moons
    saved = random.getstate(), np.random.get_state()
    try:
        np.random.seed(1337)
        random.seed(1337)
        X, y = make_moons(n_samples=100, noise=0.1)
        model = nn.MLP(2, [16, 16, 1])
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    layers = [(np.array([[w.value for w in n.w] for n in layer.neurons]).T,
               np.array([n.b.value for n in layer.neurons])) for layer in model.layers]
    return np.asarray(X, dtype=np.float64), (y * 2 - 1).astype(np.float64), layers


def moons_flat(layers):
    """The 337 parameters as one vector in micrograd's parameters() order
    (per neuron: its weights, then its bias)."""
    import numpy as np
    return np.concatenate([np.column_stack([W.T, b]).ravel() for W, b in layers])


def _drive(step, fresh, steps, **info):
    """Times step(params, lr) -> (params, loss) over `steps` SGD steps.

    The first call (tracing and compiling, for the systems that do) is made
    once on its own from a fresh copy of the starting point and its result
    thrown away, so that the N timed steps and the final loss are those of an
    N-step run that micrograd's bench/mlp.py makes too.  final_loss is the loss
    the last step computed (before its update), as there.
    """
    gc.collect()
    t0 = time.perf_counter()
    step(fresh(), moons_lr(0))
    first = time.perf_counter() - t0
    params, times, losses = fresh(), [], []
    for k in range(steps):
        t0 = time.perf_counter()
        params, loss = step(params, moons_lr(k))
        times.append(time.perf_counter() - t0)
        losses.append(loss)
    losses = [float(v) for v in losses]   # after the clock: a sync per step is not the workload
    return {"step_ms": statistics.median(times) * 1e3, "first_call_ms": first * 1e3,
            "final_loss": losses[-1], "losses": losses, "steps": steps, **info}


def torch_step(torch, X, t):
    """step(params, lr) -> (params, loss): one SGD step of the MLP whose layers
    are params (W, b, W, b, ...) on batched tensors, mean hinge + 1e-4 L2."""
    def step(params, lr):
        h = X
        for i in range(len(params) // 2):
            h = h @ params[2 * i] + params[2 * i + 1]
            h = torch.relu(h) if i < len(params) // 2 - 1 else h
        loss = torch.relu(1 - t * h[:, 0]).mean() + 1e-4 * sum((p * p).sum() for p in params)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=lr)
        return params, loss.detach()
    return step


def jax_step(jax, X, t):
    """The same step as torch_step, jax.jit'ed, the parameters donated."""
    import jax.numpy as jnp

    def loss_fn(params):
        h = X
        for i in range(len(params) // 2):
            h = h @ params[2 * i] + params[2 * i + 1]
            h = jax.nn.relu(h) if i < len(params) // 2 - 1 else h
        reg = sum(jnp.sum(p * p) for p in params)
        return jnp.mean(jax.nn.relu(1 - t * h[:, 0])) + 1e-4 * reg

    def jstep(params, lr):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        return tuple(p - lr * g for p, g in zip(params, grads)), loss

    return jax.jit(jstep, donate_argnums=0)


def moons_torch(steps=50, threads=1):
    """Eager PyTorch, batched float64 tensors, in-place SGD as torch.optim does.

    threads=1 by default: the tape it is compared with replays on one core;
    threads=None keeps torch's own setting (all cores).
    """
    torch = load_torch()
    if torch is None:
        return None
    X, t, layers = moons_setup()
    X, t = torch.tensor(X), torch.tensor(t)
    start = [torch.tensor(a) for W, b in layers for a in (W, b)]

    def fresh():
        return [p.clone().requires_grad_() for p in start]

    step = torch_step(torch, X, t)

    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _drive(step, fresh, steps, threads=torch.get_num_threads(),
                      version=torch.__version__)
    finally:
        torch.set_num_threads(saved)


def _load_jax():
    """jax in float64 on the CPU, dispatching synchronously if it still can.

    Async dispatch (JAX's default) hands each call to another thread; for a
    30 us step the hand-off costs about as much as the step (53 against 27 us
    here), and a training loop that waits for every step gains nothing from
    it.  The setting is read when the CPU client starts, so it only applies
    if no JAX computation ran in this process before.
    """
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    try:
        from jax._src.xla_bridge import backends_are_initialized
        started = backends_are_initialized()
    except ImportError:         # moved in some release: leave the default
        started = True
    if not started:
        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    return jax


def _jax_info(jax):
    return {"version": jax.__version__, "backend": jax.default_backend(),
            "async_dispatch": jax.config.read("jax_cpu_enable_async_dispatch")}


def moons_jax(steps=50):
    """One jax.jit'ed step: value_and_grad of the loss and the SGD update,
    new parameters returned (the idiomatic functional loop), the old ones
    donated so their buffers are reused; lr is an argument so that it does
    not recompile each step."""
    jax = _load_jax()
    if jax is None:
        return None
    import jax.numpy as jnp
    X, t, layers = moons_setup()
    X, t = jnp.asarray(X), jnp.asarray(t)
    start = tuple(jnp.asarray(a) for W, b in layers for a in (W, b))

    jstep = jax_step(jax, X, t)

    def step(params, lr):
        return jax.block_until_ready(jstep(params, lr))

    # jnp.array copies: a donated start could not be started from twice
    return _drive(step, lambda: tuple(jnp.array(p) for p in start), steps, **_jax_info(jax))


def _load_casadi():
    try:
        import casadi
    except ImportError:
        return None
    return casadi


def _casadi_moons(ca):
    """The Function params -> (loss, gradient) of the moons loss, and the
    starting parameters: the per-sample loss term as an SX graph, mapped
    serially over the batch with the parameters shared, its mean plus the L2
    term differentiated in MX.  The data are constants of the graph."""
    X, t, layers = moons_setup()
    start = moons_flat(layers)
    x, label, p = ca.SX.sym("x", 2), ca.SX.sym("t"), ca.SX.sym("p", start.size)
    h, at = x, 0
    for i, (W, _) in enumerate(layers):
        nin, nout = W.shape
        # the flat vector is in micrograd's order: per neuron, weights then bias
        block = ca.reshape(p[at:at + nout * (nin + 1)], nin + 1, nout).T
        at += nout * (nin + 1)
        h = ca.mtimes(block[:, :nin], h) + block[:, nin]
        h = ca.fmax(h, 0) if i < 2 else h
    term = ca.Function("term", [x, label, p], [ca.fmax(1 - label * h, 0)])
    P = ca.MX.sym("P", start.size)
    terms = term.map(X.shape[0], "serial")(ca.DM(X.T), ca.DM(t).T, P)   # a column P is shared
    loss = ca.sum2(terms) / X.shape[0] + 1e-4 * ca.dot(P, P)
    return ca.Function("moons", [P], [loss, ca.gradient(loss, P)]), start


def _casadi_drive(ca, f, start, steps, **info):
    def step(p, lr):
        loss, grad = f(p)
        p -= lr * grad.full().ravel()
        return p, float(loss)
    return _drive(step, start.copy, steps, version=ca.__version__, **info)


def moons_casadi(steps=50):
    """CasADi's virtual machine on the SX map (serial); build_ms is the graph,
    map and gradient construction (its "tracing")."""
    ca = _load_casadi()
    if ca is None:
        return None
    t0 = time.perf_counter()
    f, start = _casadi_moons(ca)
    build = time.perf_counter() - t0
    return _casadi_drive(ca, f, start, steps, build_ms=build * 1e3)


def moons_casadi_c(steps=50, cc="gcc"):
    """The same Function generated as C, compiled with `cc -O2` into a shared
    library and loaded with casadi.external; compile_s is generate + compile
    + load (the build of the graph itself is in moons_casadi's build_ms)."""
    ca = _load_casadi()
    if ca is None:
        return None
    import shutil
    import subprocess
    import tempfile
    if shutil.which(cc) is None:
        return {"error": f"no C compiler {cc!r}"}
    f, start = _casadi_moons(ca)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        gen = ca.CodeGenerator("moons.c", {"with_header": False})
        gen.add(f)
        source = gen.generate(tmp + os.sep)
        lib = os.path.join(tmp, "moons.so")
        done = subprocess.run([cc, "-O2", "-fPIC", "-shared", source, "-o", lib],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return {"error": f"{cc} failed: {done.stderr[-500:]}"}
        g = ca.external("moons", lib)
        compile_s = time.perf_counter() - t0
        # the library is unlinked on leaving, but stays mapped while g lives
        return _casadi_drive(ca, g, start, steps, compile_s=compile_s, cc=f"{cc} -O2")


MOONS = {"torch": moons_torch, "jax": moons_jax, "casadi": moons_casadi, "casadi_c": moons_casadi_c}


# =============================================================================
# JAX compile time against graph length
# =============================================================================
def jax_recurrence(ns=(300, 1000, 3000), calls=20):
    """jit(grad(f)) for f a Python-unrolled chain y = tanh(y * a + b) of n
    scalar ops (3 per link), as a scalar-engine user would write it: the first
    call traces and compiles, later calls run the compiled code.

    XLA's compile time grows faster than n (about n^1.6 here): n = 9000 takes
    about half a minute, almost all of it in XLA's compile, not the trace.
    """
    jax = _load_jax()
    if jax is None:
        return None
    import jax.numpy as jnp
    out = {}
    for n in ns:
        def f(x, links=n // 3):
            y = x
            for _ in range(links):
                y = jnp.tanh(y * 0.9 + 0.1)
            return y
        g = jax.jit(jax.grad(f))   # a fresh function: nothing cached from the last n
        x = jnp.float64(0.3)
        t0 = time.perf_counter()
        g(x).block_until_ready()
        first = time.perf_counter() - t0
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            g(x).block_until_ready()
            times.append(time.perf_counter() - t0)
        out[n] = {"first_call_s": first, "call_ms": statistics.median(times) * 1e3}
    return out
