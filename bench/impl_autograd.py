"""Workloads on HIPS autograd: plain numpy functions differentiated with autograd."""
import autograd
import autograd.numpy as anp
import numpy as np

from cases import GradCase, TrainCase
from workloads import ADD, MUL, TANH

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def arrays(data, names, dtype):
    return {n: np.array(data[n], dtype=dtype) for n in names}


class AutogradGrad(GradCase):
    """`loss(inputs, *self.consts)` over a dict of inputs, differentiated as a whole."""

    def step(self):
        loss, self.grads = autograd.value_and_grad(self.loss)(self.inputs, *self.consts)
        return loss

    def gradients(self):
        return {f"{n}.grad": g for n, g in self.grads.items()}


class AutogradTrain(TrainCase):
    def parameters(self):
        return self.params

    def sgd_step(self, *consts):
        loss, grads = autograd.value_and_grad(self.loss)(self.params, *consts)
        for k, g in grads.items():
            self.params[k] -= self.lr * g
        return loss


def chain(x, ops):
    vals = [x[i] for i in range(len(x))]
    v = vals[-1]
    for kind, j in ops:
        if kind == TANH:
            v = anp.tanh(v)
        elif kind == ADD:
            v = v + vals[j]
        elif kind == MUL:
            v = v * vals[j]
        else:
            v = anp.exp(v)
        vals.append(v)
    return v


class ScalarChain(GradCase):
    def setup(self, data):
        self.x = np.array(data["leaves"], dtype=np.float64)
        self.ops = list(zip(data["kinds"].tolist(), data["args"].tolist()))

    def phases(self):
        return [("forward", self.forward), ("backward", self.backward)]

    def forward(self):
        self.vjp, self.out = autograd.make_vjp(chain)(self.x, self.ops)

    def backward(self):
        self.grad = self.vjp(1.0)
        self.vjp = None
        return self.out

    def gradients(self):
        return {"leaves.grad": self.grad}


def linreg_loss(p, X, y):
    r = anp.dot(X, p["w"]) + p["b"] - y
    return anp.mean(r ** 2)


class SeedLinreg(AutogradTrain):
    loss = staticmethod(linreg_loss)

    def setup(self, data):
        self.X, self.y = (np.array(data[n], dtype=self.dtype) for n in ("X", "y"))
        self.params = arrays(data, ("w", "b"), self.dtype)
        self.lr = float(data["lr"])

    def step(self):
        return self.sgd_step(self.X, self.y)


def mlp(p, x):
    h = anp.maximum(anp.dot(x, p["W1"]) + p["b1"], 0)
    h = anp.maximum(anp.dot(h, p["W2"]) + p["b2"], 0)
    return anp.dot(h, p["W3"]) + p["b3"]


def moons_loss(p, X, y, alpha):
    data_loss = anp.mean(anp.maximum(1 - y * mlp(p, X), 0))
    return data_loss + alpha * sum(anp.sum(v * v) for v in p.values())


class MoonsMLP(AutogradTrain):
    loss = staticmethod(moons_loss)

    def setup(self, data):
        self.X, self.y = (np.array(data[n], dtype=self.dtype) for n in ("X", "y"))
        self.params = arrays(data, PARAM_NAMES, self.dtype)
        self.alpha, self.lr = float(data["alpha"]), float(data["lr"])

    def step(self):
        return self.sgd_step(self.X, self.y, self.alpha)


def digits_loss(p, x, onehot):
    logits = mlp(p, x)
    logp = logits - anp.log(anp.sum(anp.exp(logits), axis=1, keepdims=True))
    return -anp.sum(onehot * logp) / len(x)


class DigitsMLP(AutogradTrain):
    loss = staticmethod(digits_loss)

    def setup(self, data):
        X, onehot = (np.array(data[n], dtype=self.dtype) for n in ("X", "onehot"))
        bs = int(data["batch"])
        self.batches = [(X[i:i + bs], onehot[i:i + bs]) for i in range(0, len(X), bs)]
        self.params = arrays(data, PARAM_NAMES, self.dtype)
        self.lr = float(data["lr"])

    def step(self):
        for x, onehot in self.batches:
            loss = self.sgd_step(x, onehot)
        return loss


def big_loss(p):
    x = p["x"]
    return anp.sum(anp.tanh(x * x + 1) * x)


class BigElementwise(AutogradGrad):
    loss = staticmethod(big_loss)

    def setup(self, data):
        self.inputs, self.consts = arrays(data, ("x",), self.dtype), ()


def matmul_loss(p):
    return anp.sum(anp.dot(anp.maximum(anp.dot(p["A"], p["B"]), 0), p["C"]))


class MatmulChain(AutogradGrad):
    loss = staticmethod(matmul_loss)

    def setup(self, data):
        self.inputs, self.consts = arrays(data, ("A", "B", "C"), self.dtype), ()


def deep_loss(p, steps, a, b):
    y = p["y0"]
    for _ in range(steps):
        y = y * a + b
    return y


class DeepChain(AutogradGrad):
    loss = staticmethod(deep_loss)

    def setup(self, data):
        self.inputs = arrays(data, ("y0",), self.dtype)
        self.consts = (int(data["steps"]), float(data["a"]), float(data["b"]))


def rnn_loss(p, xs, h0):
    h = h0
    for xt in xs:
        h = anp.tanh(anp.dot(xt, p["Wx"]) + anp.dot(h, p["Wh"]) + p["b"])
    return anp.sum(h)


class RNNLoop(AutogradGrad):
    loss = staticmethod(rnn_loss)

    def setup(self, data):
        self.inputs = arrays(data, ("Wx", "Wh", "b"), self.dtype)
        self.consts = (np.array(data["x"], dtype=self.dtype), np.array(data["h0"], dtype=self.dtype))


CASES = {
    "scalar_chain": ScalarChain,
    "seed_linreg": SeedLinreg,
    "moons_mlp": MoonsMLP,
    "digits_mlp_f32": DigitsMLP,
    "digits_mlp_f64": DigitsMLP,
    "big_elementwise": BigElementwise,
    "matmul_chain": MatmulChain,
    "deep_chain": DeepChain,
    "rnn_loop": RNNLoop,
}


def make_case(name, data, dtype):
    cls = CASES.get(name)
    return cls(data, dtype) if cls else None
