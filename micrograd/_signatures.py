"""One wording for argument errors, on both backends.

The compiled core's functions are Cython's, and Cython words a call with the
wrong arguments its own way ("add() takes exactly 1 positional argument (0
given)"), the same in every Python version; Python words it differently, and
differently from version to version.  So the reference's public functions
check their arguments first and say it as Cython does, and the core's
functions made at import (the table's unary methods) say it the same way.
"""
import functools
import inspect

__all__ = ["checked_args", "check_class", "arity_error", "no_arguments", "wrong_self", "wrong_owner",
           "format_spec", "read_only", "no_delete"]


def arity_error(name, least, most, given):
    """The TypeError for `given` positional arguments where least..most fit."""
    exact = least == most
    count = most if given > most else least
    word = "exactly" if exact else ("at most" if given > most else "at least")
    return TypeError(f"{name}() takes {word} {count} positional argument"
                     f"{'' if count == 1 else 's'} ({given} given)")


def no_arguments(name, args, kwargs):
    """The TypeError for a table-made method, given more than self.  The
    core's are module functions of one argument (self) installed on the
    class, so Cython counts self."""
    if args:
        return arity_error(name, 1, 1, len(args) + 1)
    return TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kwargs))}'")


def _no_arguments_function(fn):
    """A module function of no arguments, refused as Cython refuses one."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            raise TypeError(f"{name}() takes no keyword arguments")
        if args:
            raise TypeError(f"{name}() takes no arguments ({len(args)} given)")
        return fn()
    return wrapper


def wrong_owner(name, owner, obj):
    """The TypeError for a method of class `owner` called unbound on obj, as
    CPython words it for a compiled method (the core's: see _core.pyx)."""
    if name == "__init__":
        return TypeError(f"descriptor '__init__' requires a '{owner}' object but received "
                         f"a '{type(obj).__name__}'")
    return TypeError(f"descriptor '{name}' for '{owner}' objects doesn't apply to a "
                     f"'{type(obj).__name__}' object")


def _owns(owner, obj):
    """Whether obj is a `owner` of either backend: its class's _kit says so."""
    return getattr(getattr(type(obj), "_kit", None), "owner", None) == owner


def checked_args(fn, owner=None):
    """fn, checking its arguments as Cython does (self not counted); with
    owner (a class name), checking first that self is one, as a compiled
    method does."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
        skip = 1
    else:
        skip = 0
    if not params and not skip:
        return _no_arguments_function(fn)
    names = [p.name for p in params]
    least = sum(1 for p in params if p.default is inspect.Parameter.empty)
    most = len(names)
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if owner is not None and args and not _owns(owner, args[0]):
            raise wrong_owner(name, owner, args[0])
        given = len(args) - skip
        if not kwargs and least <= given <= most:   # the usual call: nothing to refuse
            return fn(*args)
        if given > most:
            raise arity_error(name, least, most, given)
        for key in kwargs:
            if key not in names:
                raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
            if names.index(key) < given:
                raise TypeError(f"{name}() got multiple values for keyword argument '{key}'")
        if given < least and any(n not in kwargs for n in names[given:least]):
            raise arity_error(name, least, most, given)
        return fn(*args, **kwargs)
    return wrapper


def check_class(cls, owner=None):
    """Every public method of cls (and __init__) through checked_args; with
    owner, the name of the class whose methods they are (see checked_args)."""
    for key, value in list(vars(cls).items()):
        if inspect.isfunction(value) and (key == "__init__" or not key.startswith("_")):
            setattr(cls, key, checked_args(value, owner))
    return cls


def wrong_self(cls_name, obj):
    """The TypeError for a table-made method called on something else."""
    return TypeError(f"Argument 'self' has incorrect type (expected {cls_name}, "
                     f"got {type(obj).__name__})")


def format_spec(spec):
    """spec, if it is a str: format()'s refusal otherwise (a compiled
    __format__ given bytes would pass them on to float's, a SystemError)."""
    if not isinstance(spec, str):
        raise TypeError(f"format() argument 2 must be str, not {type(spec).__name__}")
    return spec


def read_only(cls_name, attr):
    """The AttributeError for setting or deleting a read-only attribute."""
    return AttributeError(f"{cls_name}.{attr} is read-only")


def no_delete(cls_name, attr):
    """The AttributeError for deleting a settable attribute."""
    return AttributeError(f"{cls_name}.{attr} cannot be deleted")
