"""Train an MLP on scikit-learn's handwritten digits, with cgrad in place of PyTorch.

The 8x8 digit images ship with scikit-learn (no download). The script splits
them into train and test sets, trains a 64-128-64-10 MLP with Adam and
cross-entropy, shows a progress bar with the running loss, prints the test
accuracy and time of every epoch, saves the trained weights with cgrad.save
and plots the loss and accuracy curves.

    python examples/train_digits.py                 # full run (reaches ~98% test accuracy)
    python examples/train_digits.py --quick         # a few seconds, for smoke tests
    python examples/train_digits.py --epochs 50 --out-dir runs/digits
"""
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import cgrad as torch
import cgrad.nn as nn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=30, help="passes over the training set (default 30)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    p.add_argument("--hidden", type=int, default=128, help="width of the first hidden layer")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW's decoupled weight decay")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (one is fastest for matrices this small)")
    p.add_argument("--out-dir", default="digits_out", help="where the weights and the plot go")
    p.add_argument("--quick", action="store_true", help="a short run (3 epochs) for smoke tests")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    return args


def load_data(seed):
    """Pixels standardised with the training set's statistics (float32), labels as int64,
    split 80/20 by class."""
    digits = load_digits()
    x, y = digits.data.astype(np.float32), digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1.0
    return (x_tr - mean) / std, (x_te - mean) / std, y_tr, y_te


class MLP(nn.Module):
    def __init__(self, hidden=128, dropout=0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden // 2, 10),
        )

    def forward(self, x):
        return self.net(x)


def accuracy(model, x, y):
    """Share of x classified as y."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    model.train()
    return float((logits.argmax(axis=1) == y).mean())


def train_epoch(model, loss_fn, optimizer, x, y, batch_size, rng, progress):
    """One pass over (x, y) in shuffled mini-batches; returns the mean loss."""
    order = rng.permutation(len(x))
    batches = range(0, len(x), batch_size)
    bar = tqdm(batches, desc=progress, leave=False, disable=progress is None, unit="batch")
    total, seen = 0.0, 0
    for start in bar:
        idx = order[start:start + batch_size]
        xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
        seen += len(idx)
        bar.set_postfix(loss=f"{total / seen:.4f}")
    return total / seen


def plot_curves(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="cross-entropy", yscale="log")
    ax2.plot(epochs, np.array(history["train_acc"]) * 100, marker="o", label="train")
    ax2.plot(epochs, np.array(history["test_acc"]) * 100, marker="o", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    x_tr, x_te, y_tr, y_te = load_data(args.seed)
    print(f"digits: {len(x_tr)} training and {len(x_te)} test images of 8x8 pixels, 10 classes")

    model = MLP(args.hidden, args.dropout)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    history = {"loss": [], "train_acc": [], "test_acc": [], "seconds": []}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        progress = None if args.no_progress else f"epoch {epoch}/{args.epochs}"
        loss = train_epoch(model, loss_fn, optimizer, x_tr, y_tr, args.batch_size, rng, progress)
        scheduler.step()
        seconds = time.perf_counter() - start
        train_acc, test_acc = accuracy(model, x_tr, y_tr), accuracy(model, x_te, y_te)
        for key, value in zip(history, (loss, train_acc, test_acc, seconds)):
            history[key].append(value)
        print(f"epoch {epoch:3d}  loss {loss:.4f}  train acc {train_acc:6.2%}  test acc {test_acc:6.2%}  "
              f"time {seconds * 1000:.1f} ms")

    os.makedirs(args.out_dir, exist_ok=True)
    weights = os.path.join(args.out_dir, "digits_mlp.npz")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epochs": args.epochs}, weights)
    restored = MLP(args.hidden, args.dropout)
    restored.load_state_dict(torch.load(weights)["model"])
    assert accuracy(restored, x_te, y_te) == history["test_acc"][-1]
    curves = os.path.join(args.out_dir, "digits_curves.png")
    plot_curves(history, curves)

    mean_ms = 1000 * float(np.mean(history["seconds"]))
    print(f"final test accuracy: {history['test_acc'][-1]:.2%}")
    print(f"mean time per epoch: {mean_ms:.1f} ms ({len(x_tr)} images, batch size {args.batch_size})")
    print(f"saved the weights to {weights} and the curves to {curves}")
    return history


if __name__ == "__main__":
    main()
