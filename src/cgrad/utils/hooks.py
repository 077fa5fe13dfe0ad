"""cgrad.utils.hooks: the handle a Module's register_*_hook returns, as torch.utils.hooks."""
from collections import OrderedDict
import weakref

__all__ = ["RemovableHandle", "unserializable_hook"]


class RemovableHandle:
    """Removes a hook from hooks_dict (and its id from each of extra_dict, a dict or a list of them:
    the flags kept beside the hook). The dicts are held weakly, so a handle does not keep a module alive."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = ()
        if isinstance(extra_dict, dict):
            self.extra_dict_ref = (weakref.ref(extra_dict),)
        elif isinstance(extra_dict, list):
            self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self):
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __getstate__(self):
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        # a handle whose dict is gone pickles as None: it comes back holding a dead reference
        self.hooks_dict_ref = weakref.ref(OrderedDict() if state[0] is None else state[0])
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        extra = state[2] if len(state) > 2 and state[2] is not None else ()
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def unserializable_hook(f):
    """Marks f as a hook that is not expected to survive serialization."""
    f.__torch_unserializable__ = True
    return f
