"""Bridges: nn models to and from PyTorch, NumPy rows and predict(), and what a
Number, a Chain and a model show in a notebook."""
import random
import re
import subprocess
import sys

import numpy as np
import pytest

import micrograd as mg
from micrograd import _notebook, nn

ACTIVATIONS = ["relu", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu", "softplus", None]


@pytest.fixture
def backend(impl, monkeypatch):
    """nn builds its weights in the active backend: point it at impl instead."""
    monkeypatch.setattr(nn, "_impl", impl)
    return impl


def weights(model):
    return [p.value for p in model.parameters()]


# -- PyTorch --------------------------------------------------------------------------
def scaled_difference(torch, seq, ours, X):
    """max |ours - torch| over max(|torch|, the size of the terms the last
    Linear adds): a relative difference that stays meaningful where an output
    cancels to near zero (there, any two summation orders differ relatively)."""
    last = max(i for i, m in enumerate(seq) if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        theirs = seq(torch.tensor(X)).numpy().reshape(ours.shape)
        h = seq[:last](torch.tensor(X)).numpy()
    w, b = seq[last].weight.detach().numpy(), seq[last].bias.detach().numpy()
    scale = (np.abs(h) @ np.abs(w).T + np.abs(b)).reshape(ours.shape)
    return float((np.abs(ours - theirs) / np.maximum(np.abs(theirs), scale)).max())


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_to_torch_gives_our_outputs(backend, torch, act):
    seed = ACTIVATIONS.index(act)
    for last in (None, act):
        model = nn.MLP(3, [8, 8, 2], activations=[act, act, last], seed=seed)
        seq = model.to_torch()
        assert isinstance(seq, torch.nn.Sequential)
        linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
        assert len(linears) == 3 and len(seq) == 3 + (act is not None) * (2 + (last is not None))
        for layer, lin in zip(model.layers, linears):
            assert lin.weight.dtype == torch.float64 and tuple(lin.weight.shape) == (len(
                layer.neurons), layer.nin)
            assert lin.weight.tolist() == [[w.value for w in n.w] for n in layer.neurons]
            assert lin.bias.tolist() == [n.b.value for n in layer.neurons]
        X = np.random.default_rng(seed).normal(size=(300, 3))
        ours = model.predict(X)
        assert scaled_difference(torch, seq, ours, X) <= 1e-12


def test_layer_and_neuron_to_torch(backend, torch):
    rng = np.random.default_rng(1)
    layer = nn.Layer(4, 3, activation="softplus", rng=random.Random(1))
    neuron = nn.Neuron(4, activation="elu", rng=random.Random(2))
    X = rng.normal(size=(50, 4))
    for model in (layer, neuron):
        seq = model.to_torch()
        assert [type(m).__name__ for m in seq] == ["Linear", type(seq[1]).__name__]
        assert scaled_difference(torch, seq, model.predict(X), X) <= 1e-12
    assert type(neuron.to_torch()[1]) is torch.nn.ELU
    assert [type(m) for m in nn.Layer(2, 2, nonlin=False).to_torch()] == [torch.nn.Linear]


def test_round_trip_is_bit_for_bit(backend, torch):
    model = nn.MLP(3, [5, 4, 2], activations=["gelu", "leaky_relu", "sigmoid"], seed=7)
    again = nn.MLP.from_torch(model.to_torch())
    assert repr(again) == repr(model) and weights(again) == weights(model)
    assert type(again.parameters()[0]) is backend.Number
    X = np.random.default_rng(0).normal(size=(20, 3))
    assert (again.predict(X) == model.predict(X)).all()
    assert again.state_dict() == model.state_dict()


def test_from_torch_reads_float32_and_plain_sequentials(backend, torch):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    model = nn.MLP.from_torch(seq)
    assert repr(model) == "MLP of [Layer of [TanhNeuron(2), TanhNeuron(2), TanhNeuron(2)], " \
                          "Layer of [LinearNeuron(3)]]"
    assert weights(model) == [v for m in (seq[0], seq[2]) for row, b in zip(
        m.weight.tolist(), m.bias.tolist()) for v in row + [b]]
    X = np.random.default_rng(0).normal(size=(30, 2))
    assert scaled_difference(torch, seq.double(), model.predict(X), X) <= 1e-12
    lone = nn.MLP.from_torch(torch.nn.Linear(3, 2, dtype=torch.float64))
    assert repr(lone) == "MLP of [Layer of [LinearNeuron(3), LinearNeuron(3)]]"


def test_from_torch_refuses_what_it_cannot_represent(backend, torch):
    tn = torch.nn
    cases = [
        (tn.Sequential(tn.Linear(2, 3, bias=False)), ValueError, "has no bias"),
        (tn.Sequential(tn.Linear(2, 3), tn.Dropout()), TypeError,
         r"module 1 of the Sequential \(Dropout\) has no micrograd counterpart"),
        (tn.Sequential(tn.Linear(2, 3), tn.Linear(4, 1)), ValueError,
         r"\(Linear\) takes 4 inputs, but the Linear before it gives 3"),
        (tn.Sequential(tn.ReLU(), tn.Linear(2, 3)), ValueError, "does not follow a Linear"),
        (tn.Sequential(tn.Linear(2, 3), tn.ReLU(), tn.Tanh()), ValueError,
         r"module 2 .* does not follow a Linear"),
        (tn.Sequential(tn.Linear(2, 3), tn.LeakyReLU(0.2)), ValueError,
         "has negative_slope=0.2; micrograd's 'leaky_relu' is torch's default"),
        (tn.Sequential(tn.Linear(2, 3), tn.GELU(approximate="tanh")), ValueError,
         "approximate='tanh'"),
        (tn.Sequential(tn.Linear(2, 3), tn.Sequential(tn.ReLU())), TypeError,
         "no micrograd counterpart"),
        (tn.ReLU(), TypeError, "takes a torch.nn.Sequential .* not ReLU"),
        (tn.Sequential(), ValueError, "holds no Linear"),
    ]
    for module, exc, message in cases:
        with pytest.raises(exc, match=message):
            nn.MLP.from_torch(module)


def test_to_torch_refuses_callables_and_mixed_layers(backend, torch):
    def my_swish(x):
        return x * x.sigmoid()
    model = nn.MLP(2, [3, 1], activations=[my_swish, None], seed=0)
    with pytest.raises(TypeError, match="layer 0's activation my_swish is a callable"):
        model.to_torch()
    with pytest.raises(TypeError, match="my_swish"):
        model.torch_state_dict()
    mixed = nn.MLP(2, [3, 1], seed=0)
    mixed.layers[0].neurons[1].activation = "tanh"
    with pytest.raises(ValueError, match=r"layer 0's neurons have different activations "
                                         r"\('relu', 'tanh'\)"):
        mixed.to_torch()

    class Custom(nn.Module):
        pass
    with pytest.raises(TypeError, match="Custom has no PyTorch form"):
        Custom().to_torch()


def test_torch_state_dict_both_ways(backend, torch):
    model = nn.MLP(3, [4, 4, 1], activations=["relu", None, "tanh"], seed=3)
    sd = model.torch_state_dict()
    seq = model.to_torch()
    assert list(sd) == list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                                 "3.weight", "3.bias"]
    assert all(v.dtype == torch.float64 and torch.equal(v, seq.state_dict()[k])
               for k, v in sd.items())
    torch.manual_seed(1)
    other = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4),
                                torch.nn.Linear(4, 1), torch.nn.Tanh()).double()
    model.load_torch_state_dict(other.state_dict())
    assert model.torch_state_dict().keys() == other.state_dict().keys()
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.torch_state_dict().items())
    X = np.random.default_rng(2).normal(size=(40, 3))
    assert scaled_difference(torch, other, model.predict(X), X) <= 1e-12
    # NumPy arrays and lists load too, as the same float64 values
    again = nn.MLP(3, [4, 4, 1], activations=["relu", None, "tanh"], seed=9)
    again.load_torch_state_dict({k: v.numpy() for k, v in sd.items()})
    model.load_torch_state_dict({k: v.tolist() for k, v in sd.items()})
    assert weights(again) == weights(model) == weights(nn.MLP.from_torch(seq))


def test_load_torch_state_dict_refuses_before_any_change(backend, torch):
    model = nn.MLP(2, [3, 1], seed=0)
    before = weights(model)
    good = model.torch_state_dict()
    bad = [
        ({k: v for k, v in good.items() if k != "2.bias"}, KeyError, r"missing \['2.bias'\]"),
        (dict(good, extra=torch.zeros(1)), KeyError, r"unexpected \['extra'\]"),
        (dict(good, **{"2.weight": torch.zeros(1, 4)}), ValueError,
         r"2.weight has shape \(1, 4\), expected \(1, 3\)"),
        (dict(good, **{"2.bias": torch.zeros(1, dtype=torch.complex128)}), TypeError,
         "not a real tensor"),
    ]
    for state in bad:
        state[0]["0.weight"] = torch.ones(3, 2)      # would change the model if applied
        with pytest.raises(state[1], match=state[2]):
            model.load_torch_state_dict(state[0])
        assert weights(model) == before


def test_a_missing_torch_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    model = nn.MLP(2, [1], seed=0)
    for call in (model.to_torch, model.torch_state_dict, lambda: nn.MLP.from_torch(None),
                 lambda: model.load_torch_state_dict({})):
        with pytest.raises(ImportError) as info:
            call()
        assert str(info.value) == ("the PyTorch bridge needs torch: "
                                   "pip install 'micrograd-core[torch]'")


def test_nn_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from micrograd import nn\n"
            "print(nn.MLP(2, [3, 1], seed=0).predict([[1.0, 2.0]]).shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "(1,)\n", out.stderr
    code = "import sys, micrograd.nn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout == "False\n", out.stderr


# -- NumPy ----------------------------------------------------------------------------
def models():
    return [nn.MLP(3, [4, 2], activations=["tanh", None], seed=0),
            nn.MLP(3, [4, 1], seed=1), nn.Layer(3, 2, activation="gelu"), nn.Neuron(3)]


def test_a_numpy_row_is_the_list_of_its_floats(backend):
    rows = np.random.default_rng(0).normal(size=(10, 3)) * 10
    for model in models():
        for row in list(rows) + [rows[0].astype(np.float32), np.array([1, -2, 3])]:
            want, got = model([float(v) for v in row]), model(row)
            want, got = (want, got) if isinstance(want, list) else ([want], [got])
            assert [y.value for y in got] == [y.value for y in want]
    with pytest.raises(ValueError, match=r"takes one row of 3 inputs, not an array of shape "
                                         r"\(2, 3\); predict\(\) takes a batch"):
        models()[0](rows[:2])


def test_predict_is_the_model_on_each_row(backend):
    X = np.random.default_rng(1).normal(size=(25, 3))
    for model in models():
        got = model.predict(X)
        want = [model(row) for row in X.tolist()]
        want = np.array([[y.value for y in w] if isinstance(w, list) else w.value for w in want])
        assert got.dtype == np.float64 and got.shape == want.shape and (got == want).all()
        assert (model.predict(X.tolist()) == got).all()
        assert model.predict(np.empty((0, 3))).shape == (0,) + got.shape[1:]
    assert models()[0].predict(X).shape == (25, 2) and models()[1].predict(X).shape == (25,)
    assert mg.is_grad_enabled() and backend.is_grad_enabled()


def test_predict_builds_no_graph(backend):
    model = models()[0]
    calls = []

    class Spy(nn.Module):
        def parameters(self):
            return model.parameters()

        def __call__(self, x):
            out = model(x)
            calls.append(out[0].op)
            return out
    Spy().predict(np.zeros((2, 3)))
    assert calls == ["", ""]                   # leaves: nothing recorded


def test_predict_refuses_what_is_not_a_batch(backend):
    model = models()[0]
    with pytest.raises(ValueError, match=r"predict takes a batch of shape \(n, inputs\).*"
                                         r"not shape \(3,\)"):
        model.predict(np.zeros(3))
    with pytest.raises(ValueError, match="takes 3 inputs, got 2"):
        model.predict(np.zeros((4, 2)))


def test_predict_refuses_a_wrong_width_at_any_batch_size(backend):
    """An empty batch calls the model on no row: the width is checked first,
    with the message a call on a row of that width gives."""
    for model, who, nin in [(nn.MLP(2, [4, 1], seed=0), "Layer(2, 4)", 2),
                            (nn.Layer(2, 3), "Layer(2, 3)", 2),
                            (nn.Neuron(2), "ReLUNeuron(2)", 2),
                            (nn.Neuron(1, nonlin=False), "LinearNeuron(1)", 1)]:
        before = weights(model)
        for batch in (0, 1, 5):
            with pytest.raises(ValueError) as err:
                model.predict(np.zeros((batch, 3)))
            assert str(err.value) == f"{who} takes {nin} input{'' if nin == 1 else 's'}, got 3"
            with pytest.raises(ValueError) as call:
                model([0.0] * 3)
            assert str(call.value) == str(err.value)
        assert model.predict(np.zeros((0, nin))).shape[0] == 0
        assert weights(model) == before and mg.is_grad_enabled()


# -- notebooks --------------------------------------------------------------------------
def rows(html):
    """The cells of each row of the HTML's tables, as (escaped) text."""
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", html)]


def graph(M):
    x, y = M.Number(2.0), M.Number(-3.0)
    z = (x * y + x).tanh()
    z.backward()
    return z


def test_number_html_is_the_same_on_both_backends(both):
    core, py = both
    a, b = graph(core), graph(py)
    assert a._repr_html_() == b._repr_html_()
    html = b._repr_html_()
    assert rows(html) == [["value", "gradient", "op", "graph"],
                          [repr(b.value), "1.0", "tanh", "5 Numbers"]]
    assert "<caption" in html and "<b>Number</b>" in html
    assert core.Number(1.5)._repr_html_() == py.Number(1.5)._repr_html_()
    assert rows(py.Number(1.5)._repr_html_())[1] == ["1.5", "0.0", "(leaf)", "a leaf"]
    for M in both:
        nan = M.Number(float("nan")) * M.Number(float("inf"))
        assert rows(nan._repr_html_())[1][0] == "nan"


def test_chain_html_is_the_same_on_both_backends(both):
    core, py = both

    def f(v):
        return v * 2.0
    f.__name__ = "<script>alert(1)</script>"
    made = [M.Chain([1.0, 2.0]).mul(3.0).softplus().apply(f).rsub(M.Number(1.0)) for M in both]
    assert made[0]._repr_html_() == made[1]._repr_html_()
    html = made[1]._repr_html_()
    assert "<script>" not in html and ".apply(&lt;script&gt;alert(1)&lt;/script&gt;)" in html
    assert "Chain([1.0, 2.0])" in html and ".softplus(beta=1.0, threshold=20.0)" in html
    assert f"-&gt; {made[1].result()!r}" in html and "Chain of 4 steps" in html
    long = [M.Chain(0.5) for M in both]
    for _ in range(100):
        long = [c.sin() for c in long]
    assert long[0]._repr_html_() == long[1]._repr_html_()
    assert "... 70 more steps" in long[1]._repr_html_()
    assert long[1]._repr_html_().count(".sin()") == 30


def test_html_is_escaped(impl):
    odd = type("Odd<b>&", (impl.Number,), {})
    html = odd(1.0)._repr_html_()
    assert "Odd&lt;b&gt;&amp;" in html and "<b>&" not in html


def test_repr_hooks_never_raise(impl):
    tape_out = {}

    def f(x):
        y = x * 2.0
        tape_out["html"], tape_out["svg"] = y._repr_html_(), y._repr_svg_()
        tape_out["chain"] = impl.Chain(y).exp()._repr_html_()
        return y
    mg.trace(f, impl.Number(1.0))
    assert tape_out["html"] == "<pre>Number(traced, op=&#x27;mul&#x27;)</pre>"
    assert tape_out["svg"] is None and tape_out["chain"].startswith("<table")

    class Broken(nn.Module):
        def parameters(self):
            raise RuntimeError("no")

        def __repr__(self):
            return "<Broken>"
    assert Broken()._repr_html_() == "<pre>&lt;Broken&gt;</pre>"


def test_svg_only_for_small_graphs(impl, monkeypatch):
    small = graph(impl)
    big = impl.Number(1.0)
    for _ in range(_notebook.SVG_MAX_NODES):
        big = big.sin()
    assert small._repr_svg_() == mg.viz.to_svg(small)
    assert "<svg" in small._repr_svg_()
    assert small._repr_html_().endswith("</svg>\n</div>")
    assert big._repr_svg_() is None and "<svg" not in big._repr_html_()

    def fail(root, max_nodes):
        raise RuntimeError("drawing failed")
    monkeypatch.setattr(_notebook.viz, "to_svg", fail)
    assert small._repr_svg_() is None and small._repr_html_().endswith("</table>")


def test_svg_is_the_same_on_both_backends(both):
    a, b = graph(both[0]), graph(both[1])
    assert a._repr_svg_() == b._repr_svg_() and "<svg" in a._repr_svg_()
    assert a._repr_html_() == b._repr_html_()


def test_module_html(backend):
    model = nn.MLP(2, [16, 16, 1], activations=["tanh", "tanh", None], seed=0)
    html = model._repr_html_()
    assert "<b>MLP: 337 parameters</b>" in html
    assert rows(html) == [["layer", "inputs", "outputs", "activation", "parameters"],
                          ["0", "2", "16", "tanh", "48"], ["1", "16", "16", "tanh", "272"],
                          ["2", "16", "1", "linear", "17"]]
    assert rows(nn.Neuron(3)._repr_html_())[1] == ["0", "3", "1", "relu", "4"]

    def odd(x):
        return x
    odd.__name__ = "<i>"
    layer = nn.Layer(2, 2, activation=odd)
    assert rows(layer._repr_html_())[1][3] == "&lt;i&gt;"

    class Scale(nn.Module):
        def __init__(self):
            self.k = backend.Number(2.0)

        def parameters(self):
            return [self.k]
    assert Scale()._repr_html_().startswith("<table") and "Scale: 1 parameter<" in \
        Scale()._repr_html_()
