"""micrograd's classic demo, on cgrad: a 2-16-16-1 MLP separating two moons.

Binary classification of make_moons(n_samples=100, noise=0.1) with labels -1/+1,
an SVM max-margin loss mean(relu(1 - y * score)) plus L2 regularisation
1e-4 * sum(p^2), and full-batch SGD whose learning rate decays linearly from 1.0
to 0.1 over 100 steps. It reaches 100% training accuracy.

    python examples/moons.py                  # 100 steps
    python examples/moons.py --plot out.png   # also draw the decision boundary
"""
import argparse

import numpy as np
from sklearn.datasets import make_moons

import cgrad as torch
import cgrad.nn as nn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--plot", default=None, help="write the decision boundary to this PNG file")
    return p.parse_args(argv)


def model_for(seed):
    """micrograd's MLP(2, [16, 16, 1]): weights uniform in [-1, 1], biases zero."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -1.0, 1.0)
            nn.init.zeros_(layer.bias)
    return model


def loss_and_accuracy(model, X, y, alpha=1e-4):
    scores = model(X).reshape(-1)
    data_loss = (1 + -y * scores).relu().mean()  # SVM max-margin loss
    reg_loss = alpha * sum((p * p).sum() for p in model.parameters())  # L2 regularisation
    accuracy = float(((y.numpy() > 0) == (scores.detach().numpy() > 0)).mean())
    return data_loss + reg_loss, accuracy


def plot_boundary(model, X, y, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = 0.25
    xx, yy = np.meshgrid(np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h),
                         np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, h))
    with torch.no_grad():
        grid = torch.tensor(np.c_[xx.ravel(), yy.ravel()], dtype=torch.float32)
        z = (model(grid).numpy() > 0).reshape(xx.shape)
    fig = plt.figure(figsize=(5, 4))
    plt.contourf(xx, yy, z, cmap=plt.cm.Spectral, alpha=0.8)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral)
    plt.xlim(xx.min(), xx.max())
    plt.ylim(yy.min(), yy.max())
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    X_np, y_np = make_moons(n_samples=100, noise=0.1, random_state=args.seed)
    y_np = y_np * 2 - 1  # labels -1 or +1
    X = torch.tensor(X_np, dtype=torch.float32)
    y = torch.tensor(y_np, dtype=torch.float32)

    model = model_for(args.seed)
    print(model)
    print("number of parameters", sum(p.numel() for p in model.parameters()))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / args.steps)

    for k in range(args.steps):
        total_loss, acc = loss_and_accuracy(model, X, y)
        optimizer.zero_grad()
        total_loss.backward()
        optimizer.step()
        schedule.step()
        if k % 10 == 0 or k == args.steps - 1:
            print(f"step {k} loss {total_loss.item():.6f}, accuracy {acc * 100:.0f}%")

    _, acc = loss_and_accuracy(model, X, y)
    print(f"final training accuracy: {acc * 100:.0f}%")
    if args.plot:
        plot_boundary(model, X_np, y_np, args.plot)
        print(f"decision boundary written to {args.plot}")
    return acc


if __name__ == "__main__":
    main()
