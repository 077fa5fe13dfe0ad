"""cgrad.cuda: cgrad computes on the CPU only, and answers PyTorch's CUDA queries as PyTorch built without
CUDA does, so that `device = cgrad.device("cuda" if cgrad.cuda.is_available() else "cpu")` picks the CPU.

Queries answer (is_available() is False, device_count() is 0, memory counters are 0); seeding and
empty_cache do nothing, as PyTorch's do before CUDA starts; anything that needs a GPU raises PyTorch's
AssertionError.
"""
from cgrad.cuda import amp

__all__ = [
    "amp", "current_device", "current_stream", "default_stream", "device", "device_count", "empty_cache",
    "get_arch_list", "get_device_capability", "get_device_name", "get_device_properties", "get_gencode_flags",
    "get_rng_state", "get_rng_state_all", "init", "initial_seed", "ipc_collect", "is_available",
    "is_bf16_supported", "is_initialized", "manual_seed", "manual_seed_all", "max_memory_allocated",
    "max_memory_reserved", "mem_get_info", "memory_allocated", "memory_reserved", "reset_peak_memory_stats",
    "seed", "seed_all", "set_device", "set_rng_state", "set_rng_state_all", "synchronize",
]

_NO_CUDA = "Torch not compiled with CUDA enabled"


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def get_arch_list():
    return []


def get_gencode_flags():
    return ""


def get_rng_state_all():
    return []


def _no_cuda(*args, **kwargs):
    raise AssertionError(_NO_CUDA)


def init():
    _no_cuda()


def current_device():
    _no_cuda()


def set_device(device):
    _no_cuda()


def get_device_name(device=None):
    _no_cuda()


def get_device_properties(device=None):
    _no_cuda()


def get_device_capability(device=None):
    _no_cuda()


def synchronize(device=None):
    _no_cuda()


def get_rng_state(device="cuda"):
    _no_cuda()


def initial_seed():
    _no_cuda()


def ipc_collect():
    _no_cuda()


def current_stream(device=None):
    _no_cuda()


def default_stream(device=None):
    _no_cuda()


def mem_get_info(device=None):
    _no_cuda()


def reset_peak_memory_stats(device=None):
    _no_cuda()


# seeding and freeing the cache wait, in PyTorch, for CUDA to start; without CUDA they do nothing
def manual_seed(seed):
    int(seed)


def manual_seed_all(seed):
    int(seed)


def seed():
    pass


def seed_all():
    pass


def set_rng_state(new_state, device="cuda"):
    pass


def set_rng_state_all(new_states):
    pass


def empty_cache():
    pass


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def memory_reserved(device=None):
    return 0


def max_memory_reserved(device=None):
    return 0


class device:
    """Selects a CUDA device inside a `with` block: fails on entry, there being none."""

    def __init__(self, device):
        self.idx = device

    def __enter__(self):
        raise RuntimeError("PyTorch was compiled without CUDA support")

    def __exit__(self, *exc):
        return False
