"""micrograd.nn, micrograd.engine and the datasets: drop-in compatibility with
micrograd 0.1.0 and the classic two-moons demo."""
import random

import numpy as np
import pytest

import micrograd
from micrograd import datasets, engine, losses, nn, optim


def test_value_is_the_number_type():
    v = engine.Value(2.0)
    assert engine.Value is micrograd.Number
    w = (v * v + 1).relu()
    assert w.data == 5.0 and w._op == "ReLU" and isinstance(w._prev, set)
    assert (v * 3)._op == "*" and (v + v)._op == "+" and (v ** 2)._op == "**2"
    assert v._op == "" and v._prev == set() and (v * v)._prev == {v}
    w.backward()
    assert v.grad == 4.0
    with pytest.raises(TypeError):
        engine.Value(1.0, (v,), "+")
    assert engine.Value(1.0, (), "").data == 1.0


def test_original_engine_test_sanity_check():
    """micrograd 0.1.0's test_sanity_check expression, against its known results."""
    Value = engine.Value
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0 and x.grad == 46.0


def test_neuron_layer_mlp_shapes_and_reprs():
    random.seed(0)
    n = nn.Neuron(3)
    assert len(n.w) == 3 and n.b.data == 0.0 and n.nonlin is True
    assert repr(n) == "ReLUNeuron(3)" and repr(nn.Neuron(2, nonlin=False)) == "LinearNeuron(2)"
    out = n([1.0, 2.0, 3.0])
    assert out.op == "relu" and out.children[0].op == "dot"
    one, many = nn.Layer(2, 1), nn.Layer(2, 3)
    assert isinstance(one([1.0, 2.0]), micrograd.Number) and len(many([1.0, 2.0])) == 3
    assert repr(many) == "Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)]"
    mlp = nn.MLP(2, [3, 1])
    assert repr(mlp) == "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], " \
                        "Layer of [LinearNeuron(3)]]"
    assert len(mlp.parameters()) == 3 * 3 + 4
    assert mlp.parameters()[:3] == mlp.layers[0].neurons[0].parameters()


def test_weights_are_drawn_as_the_original_draws_them():
    random.seed(1337)
    expected = [random.uniform(-1, 1) for _ in range(2 * 16)]
    random.seed(1337)
    mlp = nn.MLP(2, [16, 16, 1])
    drawn = [w.data for neuron in mlp.layers[0].neurons for w in neuron.w]
    assert drawn == expected


def test_neuron_adds_in_the_original_order():
    random.seed(3)
    n = nn.Neuron(4, nonlin=False)
    n.b.data = 0.1
    x = [1e16, 1.0, -1e16, 3.0]
    expect = n.b.data
    for w, xi in zip(n.w, x):
        expect = expect + w.data * xi
    assert n(x).data == expect


def test_module_base():
    class Scale(nn.Module):
        def __init__(self):
            self.k = micrograd.Number(2.0)

        def __call__(self, x):
            return self.k * x

        def parameters(self):
            return [self.k]

    m = Scale()
    m(3.0).backward()
    assert m.k.grad == 3.0 and m.state_dict() == {"0": 2.0}
    m.zero_grad()
    assert m.k.grad == 0.0
    with pytest.raises(NotImplementedError):
        nn.Module()(1.0)


def test_activations_seed_and_state_dict():
    a = nn.MLP(3, [4, 4, 2], activations=["tanh", "gelu", None], seed=7)
    b = nn.MLP(3, [4, 4, 2], activations=["tanh", "gelu", None], seed=7)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert repr(a.layers[0].neurons[0]) == "TanhNeuron(3)"
    out = a([0.1, -0.2, 0.3])
    assert len(out) == 2 and out[0].op == "dot"
    state = a.state_dict()
    assert list(state)[:2] == ["layers.0.neurons.0.w0", "layers.0.neurons.0.w1"]
    assert len(state) == len(a.parameters())
    c = nn.MLP(3, [4, 4, 2], activations=["tanh", "gelu", None], seed=8)
    c.load_state_dict(state)
    assert [p.data for p in c.parameters()] == [p.data for p in a.parameters()]
    with pytest.raises(KeyError):
        c.load_state_dict({"nope": 1.0})
    with pytest.raises(ValueError):
        nn.MLP(2, [2], activations=["swishy"])
    custom = nn.Neuron(2, activation=lambda v: v * 2)
    assert custom([1.0, 1.0]).op == "mul"


def test_zero_grad_and_deepcopy():
    import copy
    import pickle
    mlp = nn.MLP(2, [3, 1], seed=1)
    mlp([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0 for p in mlp.parameters())
    for clone in (copy.deepcopy(mlp), pickle.loads(pickle.dumps(mlp))):
        assert [p.data for p in clone.parameters()] == [p.data for p in mlp.parameters()]
        assert clone([0.5, 0.5]).data == mlp([0.5, 0.5]).data


def test_make_moons_and_blobs_match_scikit_learn():
    sk = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")
    for seed in (0, 1, 1337):
        for ours, theirs in ((datasets.make_moons(100, 0.1, seed=seed),
                              sk.make_moons(100, noise=0.1, random_state=seed)),
                             (datasets.make_moons(37, None, seed=seed),
                              sk.make_moons(37, random_state=seed)),
                             (datasets.make_blobs(101, 3, seed=seed),
                              sk.make_blobs(101, 3, random_state=seed)),
                             (datasets.make_blobs(50, 2, centers=4, cluster_std=0.5, seed=seed),
                              sk.make_blobs(50, 2, centers=4, cluster_std=0.5,
                                            random_state=seed))):
            assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


def classic_demo(steps):
    """micrograd 0.1.0's demo.ipynb loop, written against the compatibility API."""
    np.random.seed(1337)
    random.seed(1337)
    X, y = datasets.make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1
    model = nn.MLP(2, [16, 16, 1])
    history = []
    for k in range(steps):
        inputs = [list(map(engine.Value, row)) for row in X]
        scores = list(map(model, inputs))
        data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        total = data_loss + 1e-4 * sum(p * p for p in model.parameters())
        accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
        model.zero_grad()
        total.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= lr * p.grad
        history.append((total.data, accuracy))
    return history


@pytest.mark.slow
def test_classic_two_moons_demo():
    history = classic_demo(100)
    assert abs(history[0][0] - 0.8958441028683222) <= 1e-12
    assert history[0][1] == 0.5
    assert history[-1][1] == 1.0


def test_classic_demo_first_step():
    assert abs(classic_demo(1)[0][0] - 0.8958441028683222) <= 1e-12


def test_training_with_nn_losses_and_optim():
    X, y = datasets.make_moons(60, noise=0.1, seed=3)
    model = nn.MLP(2, [8, 8, 1], activations=["tanh", "tanh", None], seed=0)
    opt = optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(40):
        scores = [model(list(row)) for row in X]
        loss = losses.binary_cross_entropy(scores, [float(t) for t in y])
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.value
    assert loss.value < 0.6 * first
