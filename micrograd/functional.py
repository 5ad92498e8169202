"""The old name of :mod:`micrograd.transforms` (grad, value_and_grad, hessian, ...).

The transforms were renamed because ``functional`` and ``functions`` (the
elementary functions ``exp``, ``tanh``, ...) were one letter apart.  Code that
does ``from micrograd import functional as F`` keeps working: every public
name here is the very object of micrograd.transforms, so
``micrograd.functional.grad is micrograd.transforms.grad``.  New code should
import micrograd.transforms.
"""
from .transforms import *  # noqa: F401,F403  (re-exported as they are, not wrapped)
from .transforms import __all__  # noqa: F401  (the same public names, so * imports match)
