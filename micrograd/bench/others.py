"""The columns for other systems, run where they import: the same workloads
as the alternatives users know would write them, in float64.

PyTorch: scalar autograd for `ops`, batched tensors (what torch is built for)
for `mlp`.
"""
import gc
import statistics

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
        opt.param_groups[0]["lr"] = 1.0 - 0.9 * k / 100
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
