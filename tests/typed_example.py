"""A typed user program: `mypy --strict` must pass on it (see test_packaging)."""
from __future__ import annotations

import micrograd
from micrograd import Chain, Number, losses, nn, optim
from micrograd.activations import gelu, softmax
from micrograd.transforms import grad, value_and_grad


def loss_of(model: nn.MLP, rows: list[list[float]], targets: list[float]) -> Number:
    scores: list[Number] = [model(row) for row in rows]
    loss: Number = losses.mse(scores, targets)
    return loss


def train(steps: int) -> float:
    model = nn.MLP(2, [4, 1], seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    rows, targets = [[0.0, 1.0], [1.0, 0.0]], [1.0, -1.0]
    loss = loss_of(model, rows, targets)
    for _ in range(steps):
        loss = loss_of(model, rows, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.value


def calculus() -> tuple[float, float]:
    x, y = Number(2.0), Number(3.0)
    z: Number = Chain([x, y]).add(x.mul(y)).tanh().result()
    z.backward()
    with micrograd.no_grad():
        w = micrograd.dot([x, y], [1.0, 2.0]) + micrograd.sum([x, 2.0]) + gelu(x)
    probs: list[Number] = softmax([x, y, w])
    f = grad(lambda a: a * a)
    value, slope = value_and_grad(lambda a: a.exp())(0.5)
    return f(3.0) + probs[0].value, value + slope


if __name__ == "__main__":
    print(train(5), calculus())
