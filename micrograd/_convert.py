"""Turning user operands into floats, shared by both backends.

The rules follow Python floats: a real converts as ``float()`` converts it
(ints exactly or OverflowError, Fraction and Decimal rounded, NumPy scalars);
strings, bytes, complex numbers and None are refused.  A Number of the other
backend is refused too, so one graph never mixes backends.
"""
import numbers
import sys
from decimal import Decimal

MIXING = ("cannot mix Numbers of the {} and {} backends in one graph; "
          "build the whole graph with one backend")
_REFUSED = (str, bytes, bytearray, complex)


def _other_backend(x, backend):
    other = getattr(type(x), "_mg_backend", None)
    if other is not None and other != backend:
        raise TypeError(MIXING.format(backend, other))
    return other is not None


def to_float(x, backend):
    """x as a float, for Number(x), .value = x and backward(x)."""
    if isinstance(x, float):
        return float(x)
    if _other_backend(x, backend):
        raise TypeError("must be real number, not Number (use .value)")
    if x is None or isinstance(x, _REFUSED) or (
            isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)):
        raise TypeError(f"must be real number, not {type(x).__name__}")
    try:
        return float(x)
    except TypeError:           # float()'s own words would say a string is allowed
        raise TypeError(f"must be real number, not {type(x).__name__}") from None


def operand(x, backend):
    """The other operand of a binary op as a float, or NotImplemented."""
    if isinstance(x, (float, int)):
        return float(x)
    _other_backend(x, backend)
    if isinstance(x, (numbers.Real, Decimal)):
        return float(x)
    # NumPy bool and 0-d arrays (a bool by its truth: its float() is slow)
    ndim = getattr(x, "ndim", None)
    if ndim == 0 and getattr(getattr(x, "dtype", None), "kind", "?") in "biuf":
        return (1.0 if x else 0.0) if bool_kind(x) else float(x)
    if isinstance(ndim, int) and ndim > 0:
        # said here: NumPy would speak of __array_ufunc__, or of concatenation
        raise TypeError(f"cannot combine a Number with an array of shape {tuple(x.shape)}: "
                        f"a Number is one scalar; loop over the array, or trace the "
                        f"function once (micrograd.trace) and replay it over the batch")
    return NotImplemented


def bool_kind(x):
    """Whether x is a NumPy bool (scalar or 0-d array)."""
    return getattr(getattr(x, "dtype", None), "kind", "") == "b"


def real_by_type(t):
    """Whether every instance of type t is a real that operand() converts with
    float() (the core caches such types for its fast path): the numbers ABCs,
    Decimal, and NumPy's scalar types (not its arrays, whose ndim varies)."""
    if hasattr(t, "_mg_backend"):
        return False
    if issubclass(t, (numbers.Real, Decimal)):
        return True
    np = sys.modules.get("numpy")
    return np is not None and issubclass(t, np.generic) and t.__name__ != "ndarray"


def checked(result, a, b, symbol):
    """What the operator would raise, for the method forms (n.add(b), chain steps)."""
    if result is NotImplemented:
        raise TypeError(f"unsupported operand type(s) for {symbol}: "
                        f"'{type(a).__name__}' and '{type(b).__name__}'")
    return result


def is_number(x):
    """Whether x is a Number of either backend (or of a subclass)."""
    return hasattr(type(x), "_mg_backend")
