"""The seed program, written for PyTorch, run unchanged with ``import cgrad as torch``.

Expected values are PyTorch's (float32) results for the same program."""
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

import cgrad

FIRST_PART = """\
import cgrad as torch
x = torch.tensor([2.0], requires_grad=True)
y = x ** 2
z = 2 * y + 3
z.backward()
print(x.grad)
with torch.no_grad():
    w = x + 1
x.grad.zero_()
"""

SECOND_PART = """\
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
"""

PROGRAM = FIRST_PART + "\n" + SECOND_PART

EXPECTED_OUTPUT = [
    "tensor([8.])",
    "weights w: tensor([[1.7451]], requires_grad=True)",
    "bias b: tensor([[0.5795]], requires_grad=True)",
]
FINAL_W = 1.7450770
FINAL_B = 0.5794646


def run(source):
    """Execute source; return its namespace and the lines it printed."""
    namespace = {"__name__": "__seed__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<seed>", "exec"), namespace)
    return namespace, out.getvalue().splitlines()


@pytest.fixture(scope="module")
def first_part():
    return run(FIRST_PART)


@pytest.fixture(scope="module")
def whole_program():
    return run(PROGRAM)


def test_program_binds_torch_to_cgrad(first_part):
    namespace, _ = first_part
    assert namespace["torch"] is cgrad


def test_first_part_prints_gradient_of_x(first_part):
    _, printed = first_part
    assert printed == ["tensor([8.])"]


def test_z_is_eleven(first_part):
    namespace, _ = first_part
    assert namespace["z"].tolist() == [11.0]


def test_result_under_no_grad_does_not_require_grad(first_part):
    namespace, _ = first_part
    w = namespace["w"]
    assert w.requires_grad is False
    assert w.grad_fn is None
    assert w.tolist() == [3.0]


def test_grad_zero_zeroes_x_grad(first_part):
    namespace, _ = first_part
    assert namespace["x"].grad.tolist() == [0.0]


def test_linear_regression_final_parameters(whole_program):
    namespace, _ = whole_program
    w, b = namespace["w"], namespace["b"]
    assert w.dtype == cgrad.float32 and b.dtype == cgrad.float32
    assert tuple(w.shape) == (1, 1) and tuple(b.shape) == (1, 1)
    assert w.item() == pytest.approx(FINAL_W, abs=1e-6)
    assert b.item() == pytest.approx(FINAL_B, abs=1e-6)


def test_linear_regression_parameters_stay_trainable_leaves(whole_program):
    namespace, _ = whole_program
    for name in ("w", "b"):
        p = namespace[name]
        assert p.is_leaf and p.requires_grad and p.grad_fn is None
        assert p.grad.tolist() == [[0.0]]


def test_program_prints_pytorch_output(whole_program):
    _, printed = whole_program
    assert printed == EXPECTED_OUTPUT


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "linear_regression.py"


def test_example_script_prints_pytorch_output(tmp_path):
    assert EXAMPLE.is_file(), f"{EXAMPLE} is missing"
    result = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in EXPECTED_OUTPUT:
        assert expected in lines
