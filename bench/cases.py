"""What every backend's implementation of a workload looks like.

A case is one workload on one backend, built from the shared inputs. One run
calls its phases in order (by default the single phase `step`); the last phase
returns the loss as a Python or numpy scalar, so that any graph is freed inside
the timed phase. `check()` does one run on the fresh case and returns the values
compared with the float64 reference, as float64 numpy arrays keyed by name
("loss", "x.grad", "W1.update", ...).
"""
import time

import numpy as np


class Case:
    def __init__(self, data, dtype):
        self.dtype = dtype
        self.setup(data)

    def setup(self, data):
        raise NotImplementedError

    def step(self):
        raise NotImplementedError

    def phases(self):
        """(name, callable) pairs timed separately; one run calls them in order."""
        return [("step", self.step)]

    def run(self, times=None):
        """One run; appends each phase's seconds to times[phase] when given."""
        for name, fn in self.phases():
            t0 = time.perf_counter()
            result = fn()
            if times is not None:
                times.setdefault(name, []).append(time.perf_counter() - t0)
        return result

    def as_array(self, value):
        return np.array(value, dtype=np.float64)


class GradCase(Case):
    """A loss of some inputs, verified by the loss and the inputs' gradients."""

    def gradients(self):
        raise NotImplementedError

    def check(self, times=None):
        values = {"loss": self.run(times)}
        values.update(self.gradients())
        return {k: self.as_array(v) for k, v in values.items()}


class TrainCase(Case):
    """A training run, verified by its loss and how far it moved each parameter."""

    def parameters(self):
        raise NotImplementedError

    def _snapshot(self):
        return {k: self.as_array(v) for k, v in self.parameters().items()}

    def check(self, times=None):
        before = self._snapshot()
        values = {"loss": self.as_array(self.run(times))}
        after = self._snapshot()
        values.update({f"{k}.update": after[k] - before[k] for k in before})
        return values
