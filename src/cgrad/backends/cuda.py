"""cgrad.backends.cuda: no CUDA; the matmul precision flags are kept and change nothing, and the attention
backend switches are those of nn.attention.sdpa_kernel."""


class _MatmulFlags:
    """backends.cuda.matmul: TF32 and reduced-precision reduction switches for CUDA products."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    return False


# -- scaled_dot_product_attention's backend switches: the same state as nn.attention.sdpa_kernel sets ----------

def _sdp_enabled(backend):
    from cgrad.nn import functional
    enabled = functional._sdpa_enabled
    return enabled is None or backend.value in enabled


def _enable_sdp(backend, enabled):
    from cgrad.nn import attention, functional
    now = {b.value for b in attention._DEFAULT_ORDER if _sdp_enabled(b)}
    now = now | {backend.value} if enabled else now - {backend.value}
    everything = {b.value for b in attention._DEFAULT_ORDER}
    functional._sdpa_enabled = None if now == everything else frozenset(now)


def _backend(name):
    from cgrad.nn.attention import SDPBackend
    return getattr(SDPBackend, name)


def flash_sdp_enabled():
    """Whether scaled_dot_product_attention may use the flash backend (PyTorch's CPU has one too)."""
    return _sdp_enabled(_backend("FLASH_ATTENTION"))


def enable_flash_sdp(enabled):
    _enable_sdp(_backend("FLASH_ATTENTION"), enabled)


def mem_efficient_sdp_enabled():
    return _sdp_enabled(_backend("EFFICIENT_ATTENTION"))


def enable_mem_efficient_sdp(enabled):
    _enable_sdp(_backend("EFFICIENT_ATTENTION"), enabled)


def math_sdp_enabled():
    return _sdp_enabled(_backend("MATH"))


def enable_math_sdp(enabled):
    _enable_sdp(_backend("MATH"), enabled)


def cudnn_sdp_enabled():
    return _sdp_enabled(_backend("CUDNN_ATTENTION"))


def enable_cudnn_sdp(enabled):
    _enable_sdp(_backend("CUDNN_ATTENTION"), enabled)


_fp16_bf16_reduction_math_sdp = False


def allow_fp16_bf16_reduction_math_sdp(enabled):
    """Kept for PyTorch's code; cgrad has no half-precision types to reduce."""
    global _fp16_bf16_reduction_math_sdp
    _fp16_bf16_reduction_math_sdp = bool(enabled)


def fp16_bf16_reduction_math_sdp_allowed():
    return _fp16_bf16_reduction_math_sdp


def is_flash_attention_available():
    """False: this asks about the CUDA flash kernel."""
    return False


def can_use_flash_attention(params, debug=False):
    from cgrad.nn import attention
    return attention.can_use_flash_attention(params, debug)


def can_use_efficient_attention(params, debug=False):
    from cgrad.nn import attention
    return attention.can_use_efficient_attention(params, debug)


def can_use_cudnn_attention(params, debug=False):
    """False: this asks about the cuDNN kernel, and cgrad has no CUDA."""
    from cgrad.nn import attention
    attention._check_params(params, "can_use_cudnn_attention")
    return False


def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """PyTorch's deprecated form of nn.attention.sdpa_kernel, by flags."""
    import warnings

    from cgrad.nn import attention
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will be "
                  "removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with updated "
                  "signature.", FutureWarning, stacklevel=2)
    chosen = [name for name, on in (("CUDNN_ATTENTION", enable_cudnn), ("FLASH_ATTENTION", enable_flash),
                                    ("EFFICIENT_ATTENTION", enable_mem_efficient), ("MATH", enable_math)) if on]
    return attention.sdpa_kernel([_backend(name) for name in chosen])


def __getattr__(name):
    if name == "SDPAParams":  # PyTorch's params class lives here; cgrad's in nn.attention
        from cgrad.nn.attention import SDPAParams
        return SDPAParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
