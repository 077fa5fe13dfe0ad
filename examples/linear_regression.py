"""The program PyTorch's autograd is taught with, run on cgrad.

A gradient by hand (z = 2x^2 + 3 at x = 2 gives dz/dx = 8), then a linear
regression fitted by gradient descent. Only the import differs from PyTorch.
"""
import cgrad as torch

x = torch.tensor([2.0], requires_grad=True)
y = x ** 2
z = 2 * y + 3
z.backward()
print(x.grad)
with torch.no_grad():
    w = x + 1
x.grad.zero_()

X = torch.tensor([[1.0], [2.0], [3.0]])
y = torch.tensor([[2.0], [4.0], [6.0]])
w = torch.tensor([[0.0]], requires_grad=True)
b = torch.tensor([[0.0]], requires_grad=True)


def linear_model(X, w, b):
    return X @ w + b


def mean_squared_error(y_pred, y_true):
    return ((y_pred - y_true) ** 2).mean()


learning_rate = 0.01
epochs = 100
for epoch in range(epochs):
    y_pred = linear_model(X, w, b)
    loss = mean_squared_error(y_pred, y)
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
        b -= learning_rate * b.grad
    w.grad.zero_()
    b.grad.zero_()
print("weights w:", w)
print("bias b:", b)
