"""cgrad.nn.attention: PyTorch's switches for scaled_dot_product_attention's backends.

PyTorch picks one of several kernels for nn.functional.scaled_dot_product_attention;
on the CPU only two exist, MATH and FLASH_ATTENTION (a fused kernel with
restrictions). cgrad has one implementation, the math one, and computes the
same values as both; what sdpa_kernel changes is which calls are accepted: a
call that PyTorch's CPU would refuse under the selected backends raises the
same warnings and error here, and one that its flash kernel accepts but its
math kernel refuses (is_causal together with attn_mask) is computed.
"""
import contextlib
import logging
import operator
import warnings

from cgrad.nn import functional as _F

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS", "register_flash_attention_impl",
           "activate_flash_attention_impl", "list_flash_attention_impls", "current_flash_attention_impl",
           "restore_flash_attention_impl"]

WARN_FOR_UNFUSED_KERNELS = False


class _SDPBackend:
    """An enum-like class that contains the different backends for scaled dot product attention.

    Members: ERROR, MATH, FLASH_ATTENTION, EFFICIENT_ATTENTION, CUDNN_ATTENTION, OVERRIDEABLE.
    As PyTorch's, members compare equal by value among themselves only, are
    not ordered, and convert with int() or as an index.
    """

    __slots__ = ("_value",)
    __members__ = {}

    def __init__(self, value):
        self._value = operator.index(value)

    @property
    def value(self):
        return self._value

    @property
    def name(self):
        for name, member in type(self).__members__.items():
            if member._value == self._value:
                return name
        return "???"

    def __int__(self):
        return self._value

    def __index__(self):
        return self._value

    def __eq__(self, other):
        return type(other) is type(self) and other._value == self._value

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return self._value

    def __repr__(self):
        return f"<SDPBackend.{self.name}: {self._value}>"

    def __str__(self):
        return f"SDPBackend.{self.name}"

    __format__ = object.__format__


_SDPBackend.__name__ = "SDPBackend"
_SDPBackend.__qualname__ = "_SDPBackend"
for _value, _name in enumerate(("ERROR", "MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION",
                                "OVERRIDEABLE"), -1):
    _member = _SDPBackend(_value)
    setattr(_SDPBackend, _name, _member)
    _SDPBackend.__members__[_name] = _member
SDPBackend = _SDPBackend

# PyTorch's order of preference when no priority is set
_DEFAULT_ORDER = (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                  SDPBackend.MATH, SDPBackend.OVERRIDEABLE)


def _cur_sdpa_kernel_backends():
    """The backends scaled_dot_product_attention may use now, in PyTorch's order."""
    enabled = _F._sdpa_enabled
    return [b for b in _DEFAULT_ORDER if enabled is None or b.value in enabled]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Context manager (and decorator) that lets scaled_dot_product_attention use only the given backends.

    backends is one SDPBackend or a list of them; anything else in a list is
    ignored, as by PyTorch. On exit the previous selection comes back.
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    chosen = [backends] if isinstance(backends, SDPBackend) else backends
    enabled = frozenset(b.value for b in chosen if isinstance(b, SDPBackend) and b != SDPBackend.ERROR)
    previous = _F._sdpa_enabled
    _F._sdpa_enabled = enabled
    try:
        yield {}
    finally:
        _F._sdpa_enabled = previous


# -- which backend PyTorch's CPU would run --------------------------------------------------------------------

def _sizes(t):
    return "[" + ", ".join(str(n) for n in t.shape) + "]"


def _flash_refusal(query, key, value, attn_mask, dropout_p, enable_gqa):
    """None when PyTorch's CPU flash kernel takes these inputs, else its reason ('' where it gives none)."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    if not query.dim() == key.dim() == value.dim() == 4:
        return (f"All fused kernels requires query, key and value to be 4 dimensional, but got Query dim: "
                f"{query.dim()}, Key dim: {key.dim()}, Value dim: {value.dim()} instead.")
    q, k, v = query.shape, key.shape, value.shape
    if not q[0] == k[0] == v[0]:
        return (f"For dense inputs, both fused kernels require query, key and value to have the same batch_size. "
                f"Query.sizes(): {_sizes(query)}, Key.sizes(): {_sizes(key)}, Value.sizes(): {_sizes(value)} "
                "instead. To broadcast dense inputs, try using unsqueeze and expand_to before passing them into the "
                "kernel.")
    if enable_gqa:
        if k[1] != v[1]:
            return (f"Both fused kernels require key and value to have the same num_heads and batch_size but got: "
                    f"Key sizes: {_sizes(key)}, Value sizes: {_sizes(value)}, Query sizes: {_sizes(query)} instead.")
        if q[1] % k[1]:
            return (f"The number of heads in key/value must divide number of heads in query.Got input Key sizes(): "
                    f"{k[1]}, Value sizes(): {v[1]}, Query sizes(): {q[1]} instead.")
    elif not q[1] == k[1] == v[1]:
        return (f"For dense input, both fused kernels require query, key and value to have the same num_heads. "
                f"Query.sizes(): {_sizes(query)}, Key sizes(): {_sizes(key)}, Value sizes(): {_sizes(value)} "
                "instead. To broadcast dense inputs, try using unsqueeze and expand_to before passing them into the "
                "kernel.")
    if attn_mask is not None:
        if attn_mask.requires_grad:
            return ""
        if attn_mask.size(-2) not in (1, q[2]) or attn_mask.size(-1) not in (1, k[2]):
            return ""
        m = attn_mask.shape
        if not (attn_mask.dim() == 2 or (attn_mask.dim() == 4 and m[0] in (1, q[0]) and m[1] in (1, q[1]))):
            return ("Please use the following attn mask shapes: 2d - ({Q_seq_len, 1}  x {KV_seq_len, 1}); 4d - "
                    "({Batch, 1} x {Num_heads, 1} x {Q_seq_len, 1}  x {KV_seq_len, 1})")
    if not q[3] == k[3] == v[3]:
        return (f"Flash attention requires q,k,v to have the same last dimension. Got Query.size(-1): {q[3]}, "
                f"Key.size(-1): {k[3]}, Value.size(-1): {v[3]} instead.")
    if not query.stride(-1) == key.stride(-1) == value.stride(-1) == 1:
        return (f"All fused kernels require the last dimension of the input to have stride 1. Got Query.stride(-1): "
                f"{query.stride(-1)}, Key.stride(-1): {key.stride(-1)}, Value.stride(-1): {value.stride(-1)}")
    if not query.is_floating_point():
        name = _F._SDPA_TYPE_NAMES
        return (f"Expected query, key and value to all be of dtype: {{Float, Double, BFloat16, Half}}. Got Query "
                f"dtype: {name[query.dtype]}, Key dtype: {name[key.dtype]}, and Value dtype: {name[value.dtype]} "
                "instead.")
    return None


def _use_flash(query, key, value, attn_mask, dropout_p, enable_gqa):
    """Whether PyTorch's CPU would run its flash kernel (True) or its math kernel (False); raises as it does
    when the enabled backends leave neither.

    Warnings are attributed to the caller of scaled_dot_product_attention.
    """
    if 0 in query.shape[:-1] or 0 in value.shape or key.size(-2) == 0:
        return False  # PyTorch computes an empty output, or attention over no keys, without choosing a backend
    enabled = _F._sdpa_enabled
    flash = enabled is None or SDPBackend.FLASH_ATTENTION.value in enabled
    math = enabled is None or SDPBackend.MATH.value in enabled
    if not flash and not math:
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")
    if flash:
        reason = _flash_refusal(query, key, value, attn_mask, dropout_p, enable_gqa)
        if reason is None:
            if dropout_p != 0.0:  # a negative or NaN probability passes the check above, not the kernel's
                raise RuntimeError("scaled_dot_product_attention_flash_attention: Currently do not support "
                                   "dropout > 0")
            return True
        if not math:
            warnings.warn("Flash attention kernel not used because:", stacklevel=3)
            if reason:
                warnings.warn(reason, stacklevel=3)
            raise RuntimeError("No available kernel.  Aborting execution.")
    return False


# -- the query helpers: they ask about CUDA kernels ---------------------------------------------------------

class SDPAParams:
    """The arguments of one scaled_dot_product_attention call, for can_use_*_attention."""

    def __init__(self, query, key, value, attn_mask, dropout, is_causal, enable_gqa):
        self.query, self.key, self.value, self.attn_mask = query, key, value, attn_mask
        self.dropout, self.is_causal, self.enable_gqa = float(dropout), bool(is_causal), bool(enable_gqa)


def _check_params(params, fname):
    if not isinstance(params, SDPAParams):
        raise TypeError(f"{fname}(): expected an SDPAParams, got {type(params).__name__}")


def can_use_flash_attention(params, debug=False):
    """False: this asks about the CUDA flash kernel, and cgrad has no CUDA."""
    _check_params(params, "can_use_flash_attention")
    return False


def can_use_efficient_attention(params, debug=False):
    """False: this asks about the CUDA memory-efficient kernel, and cgrad has no CUDA."""
    _check_params(params, "can_use_efficient_attention")
    return False


# -- flash attention implementations: CUDA plug-ins, registered by name ------------------------------------

_FLASH_IMPLS = {"FA3": None, "FA4": None}
_log = logging.getLogger(__name__)


def register_flash_attention_impl(impl, *, register_fn):
    """Record register_fn as the activator of the flash attention implementation named impl."""
    _FLASH_IMPLS[impl] = register_fn


def list_flash_attention_impls():
    """Return the names of all available flash attention implementations."""
    return list(_FLASH_IMPLS)


def activate_flash_attention_impl(impl):
    """Activate a registered flash attention implementation: they are CUDA kernels, which cgrad cannot run."""
    if impl not in _FLASH_IMPLS:
        raise ValueError(f"Unknown flash attention impl '{impl}'. Available implementations: "
                         f"{list_flash_attention_impls()}")
    raise NotImplementedError(f"flash attention implementation '{impl}' is a CUDA kernel; cgrad runs on the CPU, "
                              "where scaled_dot_product_attention has one implementation")


def current_flash_attention_impl():
    """Return the currently activated flash attention impl name: None, since none can be activated."""
    return None


def restore_flash_attention_impl(_raise_warn=True):
    """Restore the default implementation, which is always the one in use."""
    if _raise_warn:
        _log.warning("Trying to restore default FA2 impl when no custom impl was activated")
