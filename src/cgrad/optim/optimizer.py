"""Optimizer: parameter groups, per-parameter state and PyTorch's state_dict format.

Each subclass's step() makes one C call per parameter group (csrc/optim.c):
the group's parameters and their state tensors go down as lists parallel to
group["params"], cached between steps, so that a step runs no Python loop
over the parameters once every parameter has its state.
"""
from collections import OrderedDict, defaultdict
from copy import deepcopy
import functools
from itertools import chain
import warnings

from cgrad import _C
from cgrad._C import Tensor
from cgrad.compile import _optimizer_stepped, _optimizers
from cgrad.autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    module = cls.__module__ or ""
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


def _scalar_dtype():
    """The dtype PyTorch keeps step counters in: float64 under a float64 default dtype, else float32."""
    return _C.float64 if _C.get_default_dtype() == _C.float64 else _C.float32


def _step_counter(value=0.0):
    return _C.full((), float(value), dtype=_scalar_dtype())


def _value(x):
    return float(x) if isinstance(x, Tensor) else x


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _scalar_states_to_tensors(optimizer, keys):
    """Makes 0-d tensors of the scalar states (keys) a state dict kept as Python numbers, as PyTorch's __setstate__."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p)
            for key in keys if state else ():
                if key in state and not isinstance(state[key], Tensor):
                    state[key] = _step_counter(float(state[key]))


class _GroupState:
    """The state tensors of one group, as lists parallel to its params (None: not made yet)."""

    __slots__ = ("params", "n", "lists", "missing")

    def __init__(self, params, keys, state):
        self.params = params
        self.n = len(params)
        self.lists = {k: [state[p].get(k) if p in state else None for p in params] for k in keys}
        self.missing = [i for i, p in enumerate(params) if any(self.lists[k][i] is None for k in keys)]


_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) runs before every optimizer's step; it may return (args, kwargs)."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs) runs after every optimizer's step."""
    return _add_hook(_global_step_post_hooks, hook)


class _HookHandle:
    _next_id = 0

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def _add_hook(hooks, hook):
    handle = _HookHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _with_step_hooks(step):
    """A subclass's step, running the optimizer's and the global step hooks around it (once, even when a
    subclass's step calls its parent's)."""
    @functools.wraps(step)
    def hooked(*args, **kwargs):
        self = args[0]  # the hooks get the optimizer among the arguments too, as PyTorch's
        d = self.__dict__
        own_pre, own_post = d.get("_step_pre_hooks"), d.get("_step_post_hooks")
        if d.get("_in_step") or not (own_pre or own_post or _global_step_pre_hooks or _global_step_post_hooks):
            return step(*args, **kwargs)
        if _C._is_refreshing():  # a replay reads the hyper-parameters; the hooks' work is on its tape
            return step(*args, **kwargs)
        pre = list(_global_step_pre_hooks.values()) + list((own_pre or {}).values())
        post = list(_global_step_post_hooks.values()) + list((own_post or {}).values())
        for hook in pre:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), but got "
                                       f"{result}.")
                args, kwargs = result
        d["_in_step"] = True
        try:
            out = step(*args, **kwargs)
        finally:
            d["_in_step"] = False
        for hook in post:
            hook(self, args, kwargs)
        return out
    hooked._runs_hooks = True
    return hooked


class Optimizer:
    """Base class of the optimizers: param_groups, state, zero_grad, state_dict."""

    # Names of the per-parameter state tensors a subclass's C step takes, in order.
    _state_keys = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_runs_hooks", False):
            cls.step = _with_step_hooks(step)

    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) runs before this optimizer's step; it may return (args, kwargs)."""
        return _add_hook(self.__dict__.setdefault("_step_pre_hooks", OrderedDict()), hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) runs after this optimizer's step."""
        return _add_hook(self.__dict__.setdefault("_step_post_hooks", OrderedDict()), hook)

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        self._caches = {}
        self._opt_called = False
        _optimizers.add(self)  # a compiled step checks that it leaves their hyper-parameters to schedulers
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    # An optimizer's group flags and 0-d tensor states that a state dict from an older version may lack or hold
    # as numbers: loading fills in the flags and makes the states tensors, as PyTorch's __setstate__ do.
    _flag_defaults = {}
    _scalar_keys = ()

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._caches = {}
        _optimizers.add(self)
        self.__dict__.setdefault("_opt_called", False)
        for group in self.param_groups:
            for key, value in self._flag_defaults.items():
                group.setdefault(key, value)
        _scalar_states_to_tensors(self, self._scalar_keys)

    def __repr__(self):
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += "\n"
            text += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    def add_param_group(self, param_group):
        """Adds a group of parameters, with its own hyperparameters (the defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_set = set()
        for group in self.param_groups:
            param_set.update(set(group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {current} to the optimizer")
        if not param_set.isdisjoint(set(param_group["params"])):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all parameters: to None, or to zeros in place."""
        for group in self.param_groups:
            _C._zero_grad(group["params"], bool(set_to_none))

    # ---- state ------------------------------------------------------------------

    def _init_state(self, group, p, state):
        """Creates the state of parameter p (which has a grad) before its first step."""

    def _group_state(self, group):
        """The group's state lists for the C step, creating the state of parameters that now have a grad."""
        params = group["params"]
        cache = self._caches.get(id(group))
        if cache is None or cache.params is not params or cache.n != len(params):
            cache = self._caches[id(group)] = _GroupState(params, self._state_keys, self.state)
        if cache.missing:
            still = []
            for i in cache.missing:
                p = params[i]
                if p.grad is not None and not all(k in self.state.get(p, ()) for k in self._state_keys):
                    self._init_state(group, p, self.state[p])
                st = self.state.get(p, {})
                for k in self._state_keys:
                    cache.lists[k][i] = st.get(k)
                if any(cache.lists[k][i] is None for k in self._state_keys):
                    still.append(i)
            cache.missing = still
        return cache.lists

    def _begin_step(self, closure):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        if _C._is_recording():  # a compiled step: replays refresh this optimizer's hyper-parameters
            _C._note_optimizer(self)
            _optimizer_stepped(self)
        return loss

    def _begin_composed_step(self, closure):
        """_begin_step for a step written as Python over tensor ops: a compiled step that calls it runs eagerly,
        since a replay could not refresh the hyper-parameters those ops were recorded with."""
        if _C._is_recording():
            _C._recording_break(f"{type(self).__name__}.step runs tensor ops with its hyper-parameters as "
                                "constants, which a replay could not refresh")
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        return loss

    def step(self, closure=None):
        raise NotImplementedError

    # ---- state dicts ---------------------------------------------------------------

    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}, as PyTorch's."""
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    @staticmethod
    def _cast_state(param, value, key=None):
        if isinstance(value, Tensor):
            if key == "step" or not param.is_floating_point():
                return value
            return value.to(param.dtype)
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, v, key) for v in value)
        return value

    def load_state_dict(self, state_dict):
        """Loads a state_dict() of an optimizer over parameters of the same shapes."""
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
