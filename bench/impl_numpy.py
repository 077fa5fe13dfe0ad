"""The hand-written baseline: every workload with its gradients derived by hand.

Plain numpy for array workloads and plain Python floats for the scalar ones:
what doing without an autograd costs. Also the float64 reference when torch is
not installed.
"""
import math

import numpy as np

from cases import GradCase, TrainCase
from workloads import ADD, MUL, TANH


class NumpyGrad(GradCase):
    def arrays(self, data, *names):
        return [np.ascontiguousarray(data[n], dtype=self.dtype) for n in names]


class NumpyTrain(TrainCase):
    def arrays(self, data, *names):
        return [np.array(data[n], dtype=self.dtype) for n in names]

    def parameters(self):
        return self.params


class ScalarChain(GradCase):
    def setup(self, data):
        self.leaves = [float(v) for v in data["leaves"]]
        self.ops = list(zip(data["kinds"].tolist(), data["args"].tolist()))

    def phases(self):
        return [("forward", self.forward), ("backward", self.backward)]

    def forward(self):
        vals = list(self.leaves)
        for kind, j in self.ops:
            v = vals[-1]
            if kind == TANH:
                vals.append(math.tanh(v))
            elif kind == ADD:
                vals.append(v + vals[j])
            elif kind == MUL:
                vals.append(v * vals[j])
            else:
                vals.append(math.exp(v))
        self.vals = vals

    def backward(self):
        vals, ops = self.vals, self.ops
        g = [0.0] * len(vals)
        g[-1] = 1.0
        for o in range(len(vals) - 1, len(self.leaves) - 1, -1):
            kind, j = ops[o - len(self.leaves)]
            go = g[o]
            if kind == TANH:      # d tanh(a) = 1 - tanh(a)^2
                g[o - 1] += go * (1.0 - vals[o] * vals[o])
            elif kind == ADD:
                g[o - 1] += go
                g[j] += go
            elif kind == MUL:
                g[o - 1] += go * vals[j]
                g[j] += go * vals[o - 1]
            else:                 # d exp(a) = exp(a)
                g[o - 1] += go * vals[o]
        self.grad = g[:len(self.leaves)]
        return vals[-1]

    def gradients(self):
        return {"leaves.grad": self.grad}


class SeedLinreg(NumpyTrain):
    def setup(self, data):
        self.X, self.y, w, b = self.arrays(data, "X", "y", "w", "b")
        self.params = {"w": w, "b": b}
        self.lr = float(data["lr"])

    def step(self):
        w, b = self.params["w"], self.params["b"]
        r = self.X @ w + b - self.y
        loss = (r * r).mean()
        g = r * (2.0 / r.size)
        w -= self.lr * (self.X.T @ g)
        b -= self.lr * g.sum(0, keepdims=True)
        return loss


def relu_backward(grad, pre):
    return grad * (pre > 0)


class MoonsMLP(NumpyTrain):
    def setup(self, data):
        self.X, self.y = self.arrays(data, "X", "y")
        self.params = dict(zip(PARAM_NAMES, self.arrays(data, *PARAM_NAMES)))
        self.alpha, self.lr = float(data["alpha"]), float(data["lr"])

    def step(self):
        p = self.params
        z1 = self.X @ p["W1"] + p["b1"]
        h1 = np.maximum(z1, 0)
        z2 = h1 @ p["W2"] + p["b2"]
        h2 = np.maximum(z2, 0)
        margin = 1 - self.y * (h2 @ p["W3"] + p["b3"])
        reg = sum((v * v).sum() for v in p.values())
        loss = np.maximum(margin, 0).mean() + self.alpha * reg
        ds = -self.y * (margin > 0) / len(self.X)
        grads = mlp_backward(p, [self.X, h1, h2], [z1, z2], ds)
        for k, v in p.items():
            v -= self.lr * (grads[k] + 2 * self.alpha * v)
        return loss


PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def mlp_backward(p, acts, pres, grad):
    """Gradients of a 3-layer ReLU MLP given d(loss)/d(output): acts are the
    layer inputs, pres the hidden pre-activations."""
    grads = {}
    for i in (3, 2, 1):
        grads[f"W{i}"] = acts[i - 1].T @ grad
        grads[f"b{i}"] = grad.sum(0)
        if i > 1:
            grad = relu_backward(grad @ p[f"W{i}"].T, pres[i - 2])
    return grads


class DigitsMLP(NumpyTrain):
    def setup(self, data):
        X, onehot = self.arrays(data, "X", "onehot")
        bs = int(data["batch"])
        self.batches = [(X[i:i + bs], onehot[i:i + bs]) for i in range(0, len(X), bs)]
        self.params = dict(zip(PARAM_NAMES, self.arrays(data, *PARAM_NAMES)))
        self.lr = float(data["lr"])

    def batch_step(self, x, onehot):
        p = self.params
        z1 = x @ p["W1"] + p["b1"]
        h1 = np.maximum(z1, 0)
        z2 = h1 @ p["W2"] + p["b2"]
        h2 = np.maximum(z2, 0)
        logits = h2 @ p["W3"] + p["b3"]
        e = np.exp(logits)
        total = e.sum(1, keepdims=True)
        loss = (onehot * (np.log(total) - logits)).sum() / len(x)
        # d/dlogits of the mean cross-entropy = (softmax - onehot) / B
        grads = mlp_backward(p, [x, h1, h2], [z1, z2], (e / total - onehot) / len(x))
        for k, v in p.items():
            v -= self.lr * grads[k]
        return loss

    def step(self):
        for x, onehot in self.batches:
            loss = self.batch_step(x, onehot)
        return loss


class BigElementwise(NumpyGrad):
    def setup(self, data):
        (self.x,) = self.arrays(data, "x")

    def step(self):
        x = self.x
        x2 = x * x
        t = np.tanh(x2 + 1)
        loss = np.dot(t, x)
        # d/dx [tanh(x^2 + 1) * x] = tanh(.) + x * (1 - tanh(.)^2) * 2x
        g = t * t
        np.subtract(1, g, out=g)
        g *= x2
        g *= 2
        g += t
        self.grad = g
        return loss

    def gradients(self):
        return {"x.grad": self.grad}


class MatmulChain(NumpyGrad):
    """Written for any upstream gradient G of the output, as the general rule
    reads; the all-ones G of .sum() is not exploited."""

    def setup(self, data):
        self.A, self.B, self.C = self.arrays(data, "A", "B", "C")

    def step(self):
        A, B, C = self.A, self.B, self.C
        H = A @ B
        R = np.maximum(H, 0)
        out = R @ C
        G = np.ones_like(out)
        dH = relu_backward(G @ C.T, H)
        self.grads = {"A.grad": dH @ B.T, "B.grad": A.T @ dH, "C.grad": R.T @ G}
        return out.sum()

    def gradients(self):
        return self.grads


class DeepChain(GradCase):
    def setup(self, data):
        self.y0 = float(data["y0"][0])
        self.steps, self.a, self.b = int(data["steps"]), float(data["a"]), float(data["b"])

    def step(self):
        a, b, y = self.a, self.b, self.y0
        for _ in range(self.steps):
            y = y * a + b
        g = 1.0
        for _ in range(self.steps):  # one local derivative per step, as a general chain needs
            g *= a
        self.grad = g
        return y

    def gradients(self):
        return {"y0.grad": self.grad}


class RNNLoop(NumpyGrad):
    def setup(self, data):
        self.x, self.Wx, self.Wh, self.b, self.h0 = self.arrays(data, "x", "Wx", "Wh", "b", "h0")

    def step(self):
        hs = [self.h0]
        for xt in self.x:
            hs.append(np.tanh(xt @ self.Wx + hs[-1] @ self.Wh + self.b))
        self.grads = self.backward(hs)
        return hs[-1].sum()

    def backward(self, hs):
        dWx, dWh, db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)
        dh = np.ones_like(hs[-1])
        for t in range(len(self.x) - 1, -1, -1):
            dz = dh * (1 - hs[t + 1] * hs[t + 1])
            dWx += self.x[t].T @ dz
            dWh += hs[t].T @ dz
            db += dz.sum(0)
            dh = dz @ self.Wh.T
        return {"Wx.grad": dWx, "Wh.grad": dWh, "b.grad": db}

    def gradients(self):
        return self.grads


CASES = {
    "scalar_chain": ScalarChain,
    "seed_linreg": SeedLinreg,
    "moons_mlp": MoonsMLP,
    "digits_mlp_f32": DigitsMLP,
    "digits_mlp_f64": DigitsMLP,
    "big_elementwise": BigElementwise,
    "matmul_chain": MatmulChain,
    "deep_chain": DeepChain,
    "deep_chain_1e7": DeepChain,
    "rnn_loop": RNNLoop,
}


def make_case(name, data, dtype):
    cls = CASES.get(name)
    return cls(data, dtype) if cls else None
