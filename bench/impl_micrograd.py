"""Workloads on micrograd's scalar `Value` (the ones natural with scalars).

micrograd's Value has +, *, ** and relu; tanh and exp are added below as free
functions written the way micrograd writes its own ops.
"""
import math
import sys

from micrograd.engine import Value
from micrograd.nn import MLP

from cases import GradCase, TrainCase
from workloads import ADD, MUL, TANH

# Value.backward orders the graph recursively: one frame per node on the longest path
sys.setrecursionlimit(max(sys.getrecursionlimit(), 1_000_000))


def tanh(v):
    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad
    out._backward = _backward
    return out


def exp(v):
    e = math.exp(v.data)
    out = Value(e, (v,), "exp")

    def _backward():
        v.grad += e * out.grad
    out._backward = _backward
    return out


class ScalarChain(GradCase):
    def setup(self, data):
        self.leaves = [Value(float(v)) for v in data["leaves"]]
        self.ops = list(zip(data["kinds"].tolist(), data["args"].tolist()))

    def phases(self):
        return [("forward", self.forward), ("backward", self.backward)]

    def forward(self):
        for p in self.leaves:
            p.grad = 0
        vals = list(self.leaves)
        v = vals[-1]
        for kind, j in self.ops:
            if kind == TANH:
                v = tanh(v)
            elif kind == ADD:
                v = v + vals[j]
            elif kind == MUL:
                v = v * vals[j]
            else:
                v = exp(v)
            vals.append(v)
        self.out = v

    def backward(self):
        self.out.backward()
        loss, self.out = self.out.data, None
        return loss

    def gradients(self):
        return {"leaves.grad": [p.grad for p in self.leaves]}


class SeedLinreg(TrainCase):
    def setup(self, data):
        self.X = [float(v) for v in data["X"].ravel()]
        self.y = [float(v) for v in data["y"].ravel()]
        self.w, self.b = Value(float(data["w"].item())), Value(float(data["b"].item()))
        self.lr = float(data["lr"])

    def parameters(self):
        return {"w": [[self.w.data]], "b": [[self.b.data]]}

    def step(self):
        w, b = self.w, self.b
        loss = sum((x * w + b - t) ** 2 for x, t in zip(self.X, self.y)) * (1.0 / len(self.X))
        loss.backward()
        for p in (w, b):
            p.data -= self.lr * p.grad
            p.grad = 0
        return loss.data


class MoonsMLP(TrainCase):
    def setup(self, data):
        self.model = MLP(2, [16, 16, 1])
        for i, layer in enumerate(self.model.layers, start=1):
            for c, neuron in enumerate(layer.neurons):
                for r, wi in enumerate(neuron.w):
                    wi.data = float(data[f"W{i}"][r, c])
                neuron.b.data = float(data[f"b{i}"][c])
        self.inputs = [[Value(float(v)) for v in row] for row in data["X"]]
        self.y = [float(v) for v in data["y"].ravel()]
        self.alpha, self.lr = float(data["alpha"]), float(data["lr"])

    def parameters(self):
        out = {}
        for i, layer in enumerate(self.model.layers, start=1):
            out[f"W{i}"] = [[n.w[r].data for n in layer.neurons] for r in range(len(layer.neurons[0].w))]
            out[f"b{i}"] = [n.b.data for n in layer.neurons]
        return out

    def step(self):
        scores = list(map(self.model, self.inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(self.y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = self.alpha * sum(p * p for p in self.model.parameters())
        loss = data_loss + reg_loss
        self.model.zero_grad()
        loss.backward()
        for p in self.model.parameters():
            p.data -= self.lr * p.grad
        return loss.data


class DeepChain(GradCase):
    def setup(self, data):
        self.y0 = Value(float(data["y0"][0]))
        self.steps, self.a, self.b = int(data["steps"]), float(data["a"]), float(data["b"])

    def step(self):
        self.y0.grad = 0
        a, b, y = self.a, self.b, self.y0
        for _ in range(self.steps):
            y = y * a + b
        y.backward()
        return y.data

    def gradients(self):
        return {"y0.grad": self.y0.grad}


CASES = {
    "scalar_chain": ScalarChain,
    "seed_linreg": SeedLinreg,
    "moons_mlp": MoonsMLP,
    "deep_chain": DeepChain,
}


def make_case(name, data, dtype):
    cls = CASES.get(name)
    return cls(data, dtype) if cls else None
