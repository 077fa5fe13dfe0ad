"""cgrad.jit: PyTorch's TorchScript helpers as they behave in eager code.

Model code written for PyTorch marks functions for TorchScript (ignore,
unused, export), asks whether it is being scripted or traced, and annotates
types; run eagerly, all of that is a no-op, and so it is here. cgrad has no
TorchScript compiler: script, trace, save, load and the other functions that
would compile or serialize a program raise NotImplementedError naming
cgrad.compile, cgrad's way to record a step and replay it without Python.
"""
import builtins
import contextlib
import functools
import types
import typing
import warnings
from collections import namedtuple
from typing import Final  # noqa: F401  (PyTorch re-exports typing.Final here)

from cgrad.futures import Future

__all__ = ["Attribute", "CompilationUnit", "Error", "Final", "Future", "ScriptFunction", "ScriptModule", "annotate",
           "export", "fork", "freeze", "ignore", "interface", "is_scripting", "is_tracing", "isinstance", "load",
           "optimize_for_inference", "optimized_execution", "save", "script", "script_if_tracing", "ScriptWarning",
           "trace", "trace_module", "TracerWarning", "TracingCheckError", "unused", "wait"]

# what raises NotImplementedError: docs/ops.md lists these names (cgrad._missing.JIT)
NOT_IMPLEMENTED = ("script", "trace", "trace_module", "save", "load", "freeze", "optimize_for_inference",
                   "ScriptModule", "ScriptFunction", "CompilationUnit")


def _deprecated(name, instead):
    warnings.warn(f"`torch.jit.{name}` is deprecated. Please {instead}.", DeprecationWarning, stacklevel=3)


def _no_torchscript(name):
    return NotImplementedError(f"cgrad.jit.{name} would compile a TorchScript program, which cgrad does not have; "
                               "cgrad.compile records a step and replays it without Python (docs/compile.md)")


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    _deprecated("script", "switch to `torch.compile` or `torch.export`")
    raise _no_torchscript("script")


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None, example_kwarg_inputs=None,
          _store_inputs=True):
    _deprecated("trace", "switch to `torch.compile` or `torch.export`")
    raise _no_torchscript("trace")


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05, strict=True,
                 _force_outplace=False, _module_class=None, _compilation_unit=None, example_inputs_is_kwarg=False,
                 _store_inputs=True):
    _deprecated("trace_method", "switch to `torch.compile` or `torch.export`")
    raise _no_torchscript("trace_module")


def save(m, f, _extra_files=None):
    _deprecated("save", "switch to `torch.export`")
    raise _no_torchscript("save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    _deprecated("load", "switch to `torch.export`")
    raise _no_torchscript("load")


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    _deprecated("freeze", "use `torch.compile` instead")
    raise _no_torchscript("freeze")


def optimize_for_inference(mod, other_methods=None):
    _deprecated("optimize_for_inference", "use `torch.compile` instead")
    raise _no_torchscript("optimize_for_inference")


class ScriptModule:
    """A compiled TorchScript module: cgrad cannot make one."""

    def __init__(self, *args, **kwargs):
        raise _no_torchscript("ScriptModule")


class ScriptFunction:
    """A compiled TorchScript function: cgrad cannot make one."""

    def __init__(self, *args, **kwargs):
        raise _no_torchscript("ScriptFunction")


class CompilationUnit:
    """TorchScript source compiled into functions: cgrad cannot compile it."""

    def __init__(self, *args, **kwargs):
        raise _no_torchscript("CompilationUnit")


class Error(Exception):
    """The exception a TorchScript program raises; never raised by eager cgrad code."""


class ScriptWarning(Warning):
    """A warning from TorchScript's compiler; never issued by eager cgrad code."""


class TracerWarning(Warning):
    """A warning from TorchScript's tracer; never issued by eager cgrad code."""


class TracingCheckError(Exception):
    """A traced function disagreeing with its Python code; never raised by eager cgrad code."""


@contextlib.contextmanager
def optimized_execution(should_optimize):
    """Switch TorchScript's graph optimizations; eager code has none, so nothing changes."""
    yield


Attribute = namedtuple("Attribute", ["value", "type"])
Attribute.__doc__ = "An attribute's value with its TorchScript type; in eager code just the pair (value, type)."


def is_scripting():
    """False: cgrad code always runs eagerly, never under TorchScript."""
    return False


def is_tracing():
    """False: cgrad has no tracer."""
    return False


def annotate(the_type, the_value):
    """the_value itself: the type is for TorchScript's benefit."""
    return the_value


def _mark(fn, modifier):
    fn._torchscript_modifier = modifier
    return fn


def ignore(drop=False, **kwargs):
    """Leave a function as a Python call under TorchScript; eagerly, the function itself.

    Used bare (@ignore) or called (@ignore(), @ignore(drop=...)); drop=True is
    PyTorch's deprecated spelling of unused and warns as it does.
    """
    if callable(drop):
        return _mark(drop, "ignore")
    if not builtins.isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    drop_on_export = kwargs.pop("drop_on_export", None)
    if drop_on_export:
        warnings.warn("ignore(drop_on_export=True) has been deprecated. TorchScript will now drop the function call "
                      "on compilation. Use torch.jit.unused now. {}", category=FutureWarning, stacklevel=2)
    elif drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the function call on compilation. "
                      "Use torch.jit.unused now. {}", category=FutureWarning, stacklevel=2)
    modifier = "unused" if drop or drop_on_export else "ignore"

    def decorator(fn):
        return _mark(fn, modifier)
    return decorator


def unused(fn):
    """Replace a function by a raise under TorchScript; eagerly, the function (or property) itself."""
    if builtins.isinstance(fn, property):
        return fn
    return _mark(fn, "unused")


def export(fn):
    """Compile a method under TorchScript even if forward does not call it; eagerly, the method itself."""
    return _mark(fn, "export")


def interface(obj):
    """Declare a TorchScript interface type; eagerly the class is an ordinary class and is returned as it is."""
    warnings.warn("`torch.jit.interface` is deprecated. Please use `torch.compile` instead.", DeprecationWarning,
                  stacklevel=2)
    if not builtins.isinstance(obj, type):
        raise RuntimeError("interface must be applied to a class")
    return obj


def script_if_tracing(fn):
    """fn, wrapped so it would be scripted under a tracer; cgrad never traces, so the wrapper just calls fn."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    wrapper.__original_fn = fn
    wrapper.__script_if_tracing_wrapper = True
    return wrapper


def _overload(func):
    """Declare one typed signature of an overloaded function for TorchScript; eagerly, the declaration itself."""
    return func


_overload_method = _overload
_script_if_tracing = script_if_tracing


def fork(func, *args, **kwargs):
    """Run func(*args, **kwargs) now and return a completed Future holding its result (an error raises here)."""
    _deprecated("fork", "use `torch.compile` instead")
    fut = Future()
    fut.set_result(func(*args, **kwargs))
    return fut


def wait(future):
    """The value of a Future returned by fork."""
    _deprecated("wait", "use `torch.compile` instead")
    if not builtins.isinstance(future, Future):
        raise TypeError(f"wait(): expected a Future, got {type(future).__name__}")
    return future.wait()


# -- isinstance: a type check that understands typing's containers --------------------------------------------

_UNION_ORIGINS = (typing.Union, types.UnionType)
_BARE = {list: "list", tuple: "tuple", typing.List: "List", typing.Tuple: "Tuple", typing.Optional: "Optional"}
_BARE_DICT = {dict: "dict", typing.Dict: "Dict"}


def _bare_error(target):
    if target in _BARE_DICT:
        name = _BARE_DICT[target]
        return RuntimeError(f"Attempted to use {name} without contained types. Please add contained type, e.g. "
                            f"{name}[int, int]")
    name = _BARE[target]
    return RuntimeError(f"Attempted to use {name} without a contained type. Please add a contained type, e.g. "
                        f"{name}[int]")


def _warn_if_empty(obj):
    """An empty container says nothing of its element type, so its check cannot be exact: say so."""
    if builtins.isinstance(obj, (list, dict, tuple)) and not obj:
        warnings.warn("The inner type of a container is lost when calling torch.jit.isinstance in eager mode. For "
                      "example, List[int] would become list and therefore falsely return True for List[float] or "
                      "List[str].", stacklevel=1)


def _matches_union(obj, args):
    if obj is None and type(None) in args:
        return True
    for arg in args:
        # the first parameterized member decides: the remaining members are not looked at
        if typing.get_origin(arg) is not None:
            return _matches(obj, arg)
        if builtins.isinstance(obj, arg):
            return True
    return False


def _matches(obj, target):
    origin = typing.get_origin(target)
    if origin is None:
        return builtins.isinstance(obj, target)
    if origin in _UNION_ORIGINS:
        return _matches_union(obj, typing.get_args(target))
    if target in (typing.List, typing.Dict, typing.Tuple):
        raise _bare_error(target)
    args = typing.get_args(target)
    if issubclass(origin, list):
        _warn_if_empty(obj)
        return builtins.isinstance(obj, list) and all(_matches(item, args[0]) for item in obj)
    if issubclass(origin, dict):
        _warn_if_empty(obj)
        if not builtins.isinstance(obj, dict):
            return False
        return all(_matches(key, args[0]) and _matches(val, args[1]) for key, val in obj.items())
    if issubclass(origin, tuple):
        _warn_if_empty(obj)
        if not builtins.isinstance(obj, tuple) or len(obj) != len(args):
            return False
        return all(_matches(item, arg) for item, arg in zip(obj, args))
    return False


def isinstance(obj, target_type):
    """Whether obj is of target_type, which may be a typing container (List[int], Dict[str, Tensor],
    Tuple[int, str], Optional[...], Union[...]) checked element by element, or a tuple of types.

    An empty container matches any element type, with a warning.
    """
    if builtins.isinstance(target_type, tuple):
        return any(isinstance(obj, t) for t in target_type)
    if builtins.isinstance(target_type, str):
        raise RuntimeError("The second argument to `torch.jit.isinstance` must be a type or a tuple of types")
    try:
        bare = target_type in _BARE or target_type in _BARE_DICT
    except TypeError:  # an unhashable target is no bare container
        bare = False
    if bare:
        raise _bare_error(target_type)
    return _matches(obj, target_type)
