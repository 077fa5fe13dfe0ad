"""The adding problem, a classic test of a recurrent network's memory, with an LSTM on cgrad.

Each input is a sequence of 10 to 30 steps of two numbers: a value drawn
uniformly from [0, 1), and a marker that is 1 at exactly two steps and 0
elsewhere. The target is the sum of the two marked values. Predicting the
mean (1.0) scores a mean squared error of about 0.167; the network has to
remember the marked values across the sequence to do better. Sequences of
different lengths are packed, so the LSTM runs each for its own length.

    python examples/adding_problem.py              # 400 training steps
    python examples/adding_problem.py --steps 100  # fewer
"""
import argparse
import time

import numpy as np

import cgrad as torch
import cgrad.nn as nn
from cgrad.nn.utils.rnn import pack_sequence


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def batch(rng, size, min_len=10, max_len=30):
    """A list of (length, 2) float32 sequences and their (size, 1) targets."""
    seqs, targets = [], []
    for _ in range(size):
        n = int(rng.integers(min_len, max_len + 1))
        values = rng.random(n, dtype=np.float32)
        marks = np.zeros(n, np.float32)
        marks[rng.choice(n, 2, replace=False)] = 1.0
        seqs.append(torch.tensor(np.stack([values, marks], axis=1)))
        targets.append(float(values @ marks))
    return seqs, torch.tensor(targets).reshape(-1, 1)


class Adder(nn.Module):
    """An LSTM over the packed batch; a linear read-out of each sequence's last hidden state."""

    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, seqs):
        _, (h, _) = self.lstm(pack_sequence(seqs, enforce_sorted=False))
        return self.head(h[-1])


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Adder(args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    test_seqs, test_targets = batch(rng, 500)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        seqs, targets = batch(rng, args.batch)
        loss = nn.functional.mse_loss(model(seqs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps:
            print(f"step {step:4d}  training loss {loss.item():.4f}")
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        test_mse = nn.functional.mse_loss(model(test_seqs), test_targets).item()
        baseline = nn.functional.mse_loss(torch.ones_like(test_targets), test_targets).item()
    print(f"{elapsed / args.steps * 1e3:.1f} ms per training step")
    print(f"test mean squared error: {test_mse:.4f} (predicting 1.0: {baseline:.4f})")


if __name__ == "__main__":
    main()
