"""grad, value_and_grad and gradcheck."""
import math

import pytest

import micrograd
from micrograd import functional, transforms
from micrograd.transforms import GradcheckError, grad, gradcheck, value_and_grad


def test_grad_returns_floats(impl):
    f = lambda x, y: (x * y).tanh() + x.exp()        # noqa: E731
    g = grad(f)(0.5, 2.0)
    assert type(g) is float
    assert math.isclose(g, 2.0 * (1 - math.tanh(1.0) ** 2) + math.exp(0.5), rel_tol=1e-15)
    gx, gy = grad(f, argnums=(0, 1))(0.5, 2.0)
    assert gx == g and math.isclose(gy, 0.5 * (1 - math.tanh(1.0) ** 2), rel_tol=1e-15)
    v, (g0,) = value_and_grad(f, (0,))(0.5, 2.0)
    assert v == math.tanh(1.0) + math.exp(0.5) and g0 == g
    assert grad(f, argnums=-1)(0.5, 2.0) == gy


def test_no_visible_gradient_is_touched(impl):
    w = impl.Number(3.0)
    w.gradient = 7.0
    hidden = w * 2.0
    hidden.gradient = -1.0
    f = lambda x: hidden * x + w * w                 # noqa: E731
    x = impl.Number(1.5)
    x.gradient = 0.25
    assert grad(f)(x) == 6.0
    assert (w.gradient, hidden.gradient, x.gradient) == (7.0, -1.0, 0.25)
    assert grad(f)(impl.Number(1.5)) == 6.0          # a Number picks the backend


def test_errors(impl):
    with pytest.raises(TypeError, match="must return a Number"):
        grad(lambda x: 3.0)(1.0)
    with pytest.raises(IndexError):
        grad(lambda x: x, argnums=2)(1.0)
    with pytest.raises(ZeroDivisionError):
        grad(lambda x: 1 / x)(0.0)


def test_gradcheck_passes_on_correct_gradients(impl):
    assert gradcheck(lambda x, y: (x * y).sin() / (1.0 + y * y) + x.sigmoid(), 0.3, -1.2)
    assert gradcheck(lambda x: x.gelu() + x.softplus(beta=2.0) + x.elu(), impl.Number(-0.4))


def test_gradcheck_catches_a_wrong_gradient(impl):
    wrong = lambda x, y: x * x.detach() + y          # noqa: E731  - true d/dx is 2x
    with pytest.raises(GradcheckError) as err:
        gradcheck(wrong, 3.0, 1.0)
    text = str(err.value)
    assert "input 0" in text and "backward gives 3.0" in text and "6.0000" in text


def test_the_old_name_functional_holds_the_same_objects():
    # micrograd.functional was this module's name; code written against it
    # (`from micrograd import functional as F`) must get the very same objects
    assert functional.__all__ == transforms.__all__
    for name in transforms.__all__:
        assert getattr(functional, name) is getattr(transforms, name), name
    assert micrograd.functional is functional
    starred = {}
    exec("from micrograd.functional import *", starred)
    assert {k for k in starred if k != "__builtins__"} == set(transforms.__all__)
