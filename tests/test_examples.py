"""Every example runs, in a reduced form where it has one, and does what it claims."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cgrad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, *args, cwd, stderr=None):
    """Runs examples/<name> with this interpreter and this cgrad; returns its stdout."""
    env = dict(os.environ)
    src = str(Path(cgrad.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    if stderr is not None:
        stderr.append(proc.stderr)
    return proc.stdout


def test_every_example_is_tested():
    tested = {"linear_regression.py", "moons.py", "train_digits.py", "adding_problem.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_linear_regression(tmp_path):
    out = run_example("linear_regression.py", cwd=tmp_path)
    assert "tensor([8.])" in out
    assert "weights w:" in out and "bias b:" in out


def test_moons_reaches_full_training_accuracy(tmp_path):
    out = run_example("moons.py", "--plot", str(tmp_path / "moons.png"), cwd=tmp_path)
    assert "final training accuracy: 100%" in out
    assert (tmp_path / "moons.png").stat().st_size > 1000


def test_adding_problem_is_learnt(tmp_path):
    out = run_example("adding_problem.py", cwd=tmp_path)
    found = re.search(r"test mean squared error: ([\d.]+) \(predicting 1.0: ([\d.]+)\)", out)
    mse, baseline = map(float, found.groups())
    assert 0.15 < baseline < 0.19
    assert mse < baseline / 4  # the marked values are remembered, not guessed
    assert re.search(r"[\d.]+ ms per training step", out)


def test_train_digits_quick(tmp_path):
    out_dir = tmp_path / "run"
    err = []
    out = run_example("train_digits.py", "--quick", "--out-dir", str(out_dir), cwd=tmp_path, stderr=err)
    accuracies = [float(a) for a in re.findall(r"test acc\s+([\d.]+)%", out)]
    assert len(accuracies) == 3
    assert accuracies[-1] > 80.0  # chance is 10%
    assert "epoch 3/3" in err[0] and "loss=" in err[0]  # the tqdm bar with the running loss
    assert re.search(r"mean time per epoch: [\d.]+ ms", out)
    final = float(re.search(r"final test accuracy: ([\d.]+)%", out).group(1))
    assert final == accuracies[-1]
    ckpt = cgrad.load(out_dir / "digits_mlp.npz")
    assert ckpt["epochs"] == 3
    assert list(ckpt["model"]) == ["net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.6.weight",
                                   "net.6.bias"]
    assert sorted(ckpt["optimizer"]["state"]) == list(range(6))
    png = (out_dir / "digits_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
