"""Workloads written once against a torch-shaped module `T`, run with T=torch or T=cgrad.

Only this part of the API is used: tensor(data, dtype=, requires_grad=), float32 /
float64, @, + - * / (and reflected), **, exp, log, tanh, relu, sum(dim, keepdim=),
mean, no_grad, backward, .grad (read, set to None), zero_, -= under no_grad,
detach, and numpy() or tolist() to read results back.
"""
import numpy as np

from cases import GradCase, TrainCase
from workloads import ADD, MUL, TANH

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


class TensorMixin:
    def __init__(self, data, dtype, T):
        self.T = T
        self.tdtype = getattr(T, dtype)
        super().__init__(data, dtype)

    def tensor(self, value, requires_grad=False):
        return self.T.tensor(np.asarray(value), dtype=self.tdtype, requires_grad=requires_grad)

    def tensors(self, data, names, requires_grad=False):
        return {n: self.tensor(data[n], requires_grad) for n in names}

    def as_array(self, t):
        if t is None:
            raise ValueError("a gradient that should exist is None")
        if not hasattr(t, "detach"):
            return np.array(t, dtype=np.float64)
        t = t.detach()
        try:
            return np.array(t.numpy(), dtype=np.float64)
        except (AttributeError, TypeError, RuntimeError):
            return np.array(t.tolist(), dtype=np.float64)


class TensorGrad(TensorMixin, GradCase):
    """`self.inputs` maps names to the leaves whose gradients are verified."""

    def clear_grads(self):
        for p in self.inputs.values():
            p.grad = None

    def gradients(self):
        return {f"{n}.grad": p.grad for n, p in self.inputs.items()}


class TensorTrain(TensorMixin, TrainCase):
    def parameters(self):
        return self.params

    def sgd(self):
        with self.T.no_grad():
            for p in self.params.values():
                p -= self.lr * p.grad
                p.grad = None


class ScalarChain(TensorGrad):
    def setup(self, data):
        self.leaves = [self.tensor([v], requires_grad=True) for v in data["leaves"]]
        self.inputs = {f"leaf{i}": p for i, p in enumerate(self.leaves)}
        self.ops = list(zip(data["kinds"].tolist(), data["args"].tolist()))

    def phases(self):
        return [("forward", self.forward), ("backward", self.backward)]

    def forward(self):
        self.clear_grads()
        vals = list(self.leaves)
        v = vals[-1]
        for kind, j in self.ops:
            if kind == TANH:
                v = v.tanh()
            elif kind == ADD:
                v = v + vals[j]
            elif kind == MUL:
                v = v * vals[j]
            else:
                v = v.exp()
            vals.append(v)
        self.out = v

    def backward(self):
        self.out.backward()
        loss, self.out = self.out.item(), None  # frees the graph inside the timed phase
        return loss

    def gradients(self):
        return {"leaves.grad": np.concatenate([self.as_array(p.grad) for p in self.leaves])}


class SeedLinreg(TensorTrain):
    def setup(self, data):
        self.X, self.y = self.tensor(data["X"]), self.tensor(data["y"])
        self.params = self.tensors(data, ("w", "b"), requires_grad=True)
        self.lr = float(data["lr"])

    def step(self):
        w, b = self.params["w"], self.params["b"]
        y_pred = self.X @ w + b
        loss = ((y_pred - self.y) ** 2).mean()
        loss.backward()
        with self.T.no_grad():
            w -= self.lr * w.grad
            b -= self.lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
        return loss.item()


def mlp(p, x):
    h = (x @ p["W1"] + p["b1"]).relu()
    h = (h @ p["W2"] + p["b2"]).relu()
    return h @ p["W3"] + p["b3"]


class MoonsMLP(TensorTrain):
    def setup(self, data):
        self.X, self.y = self.tensor(data["X"]), self.tensor(data["y"])
        self.params = self.tensors(data, PARAM_NAMES, requires_grad=True)
        self.alpha, self.lr = float(data["alpha"]), float(data["lr"])

    def step(self):
        scores = mlp(self.params, self.X)
        data_loss = (1 - self.y * scores).relu().mean()
        reg_loss = sum((p * p).sum() for p in self.params.values())
        loss = data_loss + self.alpha * reg_loss
        loss.backward()
        self.sgd()
        return loss.item()


class DigitsMLP(TensorTrain):
    def setup(self, data):
        bs = int(data["batch"])
        X, onehot = data["X"], data["onehot"]
        self.batches = [(self.tensor(X[i:i + bs]), self.tensor(onehot[i:i + bs]), len(X[i:i + bs]))
                        for i in range(0, len(X), bs)]
        self.params = self.tensors(data, PARAM_NAMES, requires_grad=True)
        self.lr = float(data["lr"])

    def batch_step(self, x, onehot, n):
        logits = mlp(self.params, x)
        # log-softmax without the max shift: the logits stay small here
        logp = logits - logits.exp().sum(1, keepdim=True).log()
        loss = -(onehot * logp).sum() / n
        loss.backward()
        self.sgd()
        return loss.item()

    def step(self):
        for x, onehot, n in self.batches:
            loss = self.batch_step(x, onehot, n)
        return loss


class BigElementwise(TensorGrad):
    def setup(self, data):
        self.inputs = self.tensors(data, ("x",), requires_grad=True)

    def step(self):
        self.clear_grads()
        x = self.inputs["x"]
        loss = ((x * x + 1).tanh() * x).sum()
        loss.backward()
        return loss.item()


class MatmulChain(TensorGrad):
    def setup(self, data):
        self.inputs = self.tensors(data, ("A", "B", "C"), requires_grad=True)

    def step(self):
        self.clear_grads()
        A, B, C = self.inputs["A"], self.inputs["B"], self.inputs["C"]
        loss = ((A @ B).relu() @ C).sum()
        loss.backward()
        return loss.item()


class DeepChain(TensorGrad):
    def setup(self, data):
        self.inputs = self.tensors(data, ("y0",), requires_grad=True)
        self.steps, self.a, self.b = int(data["steps"]), float(data["a"]), float(data["b"])

    def step(self):
        self.clear_grads()
        a, b = self.a, self.b
        y = self.inputs["y0"]
        for _ in range(self.steps):
            y = y * a + b
        y.backward()
        return y.item()


class RNNLoop(TensorGrad):
    def setup(self, data):
        self.xs = [self.tensor(xt) for xt in data["x"]]
        self.h0 = self.tensor(data["h0"])
        self.inputs = self.tensors(data, ("Wx", "Wh", "b"), requires_grad=True)

    def step(self):
        self.clear_grads()
        Wx, Wh, b = self.inputs["Wx"], self.inputs["Wh"], self.inputs["b"]
        h = self.h0
        for xt in self.xs:
            h = (xt @ Wx + h @ Wh + b).tanh()
        loss = h.sum()
        loss.backward()
        return loss.item()


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


def make_case(T, name, data, dtype):
    cls = CASES.get(name)
    return cls(data, dtype, T) if cls else None
