"""cgrad.random: the default generator's seed and state, as torch.random's."""
import contextlib

from cgrad._C import default_generator
from cgrad._C import manual_seed as _manual_seed

__all__ = ["fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]


def manual_seed(seed):
    """Seeds the default generator; returns it."""
    return _manual_seed(seed)


def seed():
    """Seeds the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (an int64 tensor; see Generator.get_state)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restores the default generator to a state get_rng_state returned."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cpu"):
    """Restores the default generator's state on leaving the block, so draws
    inside it leave the draws after it unchanged."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
