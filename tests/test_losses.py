"""Losses against torch.nn.functional float64, on both backends."""
import math

import pytest

from micrograd import losses




PRED = [0.3, -1.7, 2.5, 40.0, -35.0, 0.0]
TARGET = [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]
LABELS = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0]


def check(impl, torch, ours_fn, torch_fn, pred, *extra):
    for reduction in ("mean", "sum", "none"):
        xs = [impl.Number(v) for v in pred]
        out = ours_fn(xs, *extra, reduction=reduction)
        t = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
        tout = torch_fn(t, *[torch.tensor(e, dtype=torch.float64) for e in extra],
                        reduction=reduction)
        if reduction == "none":
            assert len(out) == len(pred)
            for o, v in zip(out, tout.tolist()):
                assert math.isclose(o.value, v, rel_tol=1e-12, abs_tol=1e-300)
            out = impl.sum(out)
            tout = tout.sum()
        out.backward()
        tout.backward()
        assert math.isclose(out.value, tout.item(), rel_tol=1e-12), (reduction, out, tout)
        for x, g in zip(xs, t.grad.tolist()):
            assert math.isclose(x.gradient, g, rel_tol=1e-10, abs_tol=1e-300), (reduction, x, g)


def test_mse(impl, torch):
    check(impl, torch, losses.mse, torch.nn.functional.mse_loss, PRED, TARGET)


def test_binary_cross_entropy_with_logits(impl, torch):
    check(impl, torch, losses.binary_cross_entropy,
          torch.nn.functional.binary_cross_entropy_with_logits, PRED, TARGET)


def test_binary_cross_entropy_is_stable(impl):
    for x in (1000.0, -1000.0, 1e300, -1e300):
        for t in (0.0, 1.0):
            v = losses.binary_cross_entropy(impl.Number(x), t)
            v.backward()
            assert math.isfinite(v.value) or x in (1e300, -1e300)
            assert not math.isnan(v.value)


def test_hinge(impl, torch):
    def torch_hinge(s, y, reduction):
        terms = torch.clamp(1.0 - y * s, min=0.0)
        return {"mean": terms.mean(), "sum": terms.sum(), "none": terms}[reduction]
    check(impl, torch, losses.hinge, torch_hinge, PRED, LABELS)


def test_cross_entropy(impl, torch):
    rows = [[1.0, -2.0, 800.0, 3.5], [0.1, 0.2, 0.3, -0.4], [-5.0, 5.0, 0.0, 2.0]]
    targets = [2, 0, 3]
    for reduction in ("mean", "sum"):
        xs = [[impl.Number(v) for v in row] for row in rows]
        out = losses.cross_entropy(xs, targets, reduction=reduction)
        out.backward()
        t = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
        tout = torch.nn.functional.cross_entropy(t, torch.tensor(targets), reduction=reduction)
        tout.backward()
        assert math.isclose(out.value, tout.item(), rel_tol=1e-12)
        for row, grow in zip(xs, t.grad.tolist()):
            for x, g in zip(row, grow):
                assert math.isclose(x.gradient, g, rel_tol=1e-10, abs_tol=1e-300)
    single = losses.cross_entropy([impl.Number(0.5), impl.Number(-0.5)], 1)
    assert math.isclose(single.value, math.log(1 + math.e), rel_tol=1e-15)


def test_errors(impl):
    x = impl.Number(1.0)
    with pytest.raises(ValueError, match="reduction"):
        losses.mse([x], [1.0], reduction="avg")
    with pytest.raises(ValueError, match="targets"):
        losses.mse([x, x], [1.0])
    with pytest.raises(IndexError):
        losses.cross_entropy([x, x], 2)
