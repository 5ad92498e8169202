"""The higher-order workload: what a Hessian-vector product, a
backward(create_graph=True) and anomaly mode cost next to a plain gradient.

The function is a chain of n inputs, sum_i tanh(x_i x_(i+1) + 0.5) sin(x_i):
five ops per input, every input reaching two terms, so the gradient graph
has sums and products of sums to build.
"""
import gc
import statistics
import time

from micrograd import transforms

now = time.perf_counter_ns


def chain_fn(m):
    def f(*xs):
        return m.sum([(xs[i] * xs[i + 1] + 0.5).tanh() * xs[i].sin()
                      for i in range(len(xs) - 1)])
    return f


def _median_ms(run, samples):
    times = []
    for _ in range(samples):
        gc.collect()
        gc.disable()
        try:
            times.append(run())
        finally:
            gc.enable()
    return statistics.median(times) / 1e6


def bench_higher(m, cfg):
    n, samples = cfg["higher_n"], cfg["higher_samples"]
    f = chain_fn(m)
    start = [0.5 + 0.001 * i for i in range(n)]
    v = [1.0 if i % 2 else -0.5 for i in range(n)]

    # each run keeps what it built until the clock has stopped: freeing is not timed
    def grad():
        xs = [m.Number(x) for x in start]
        t0 = now()
        out = f(*xs)
        out.backward()
        return now() - t0

    def hvp():
        xs = [m.Number(x) for x in start]
        t0 = now()
        graphs = m.gradient_graphs(f(*xs), leaves_only=True)
        product = m.dot([graphs[id(x)] for x in xs], v)
        product.backward()
        return now() - t0

    def create_graph():
        xs = [m.Number(x) for x in start]
        t0 = now()
        out = f(*xs)
        out.backward(create_graph=True)
        took = now() - t0
        for x in xs:                 # a leaf's gradient graph refers back to it
            x.grad_node = None
        return took

    def anomaly():
        xs = [m.Number(x) for x in start]
        t0 = now()
        with m.detect_anomaly():
            out = f(*xs)
            out.backward()
        return now() - t0

    # the transforms free their graphs inside the call, both alike
    # (the keys keep their functional_ names, so older results still compare)
    def functional_grad():
        xs = [m.Number(x) for x in start]
        t0 = now()
        transforms.grad(f, tuple(range(n)))(*xs)
        return now() - t0

    def functional_hvp():
        xs = [m.Number(x) for x in start]
        t0 = now()
        transforms.hvp(f, xs, v)
        return now() - t0

    out = {name: _median_ms(run, samples) for name, run in
           (("grad_ms", grad), ("hvp_ms", hvp), ("create_graph_ms", create_graph),
            ("anomaly_ms", anomaly), ("functional_grad_ms", functional_grad),
            ("functional_hvp_ms", functional_hvp))}
    out.update(inputs=n, hvp_over_grad=out["hvp_ms"] / out["grad_ms"],
               create_graph_over_grad=out["create_graph_ms"] / out["grad_ms"],
               anomaly_over_grad=out["anomaly_ms"] / out["grad_ms"],
               functional_hvp_over_grad=out["functional_hvp_ms"] / out["functional_grad_ms"])
    return out
