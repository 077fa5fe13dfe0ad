"""Anomaly mode: NaN in backward names the op and where the user created it."""
import gc
import re
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import _C
from cgrad.autograd import Function, detect_anomaly, grad, set_detect_anomaly


def leaf(values):
    return cgrad.tensor(values, dtype=cgrad.float64, requires_grad=True)


@pytest.fixture(autouse=True)
def anomaly_off_after():
    yield
    _C._set_anomaly_enabled(False, True)


def quiet_detect_anomaly(check_nan=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return detect_anomaly(check_nan=check_nan)


def test_detect_anomaly_warns_and_toggles():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled. This mode will increase the runtime "
                                         "and should only be enabled for debugging."):
        mode = detect_anomaly()
    assert not cgrad.autograd.anomaly_mode.is_anomaly_enabled()
    with mode:
        assert cgrad.autograd.anomaly_mode.is_anomaly_enabled()
    assert not cgrad.autograd.anomaly_mode.is_anomaly_enabled()


def test_set_detect_anomaly_takes_effect_at_once_and_restores_in_a_with_block():
    set_detect_anomaly(True)
    assert _C._is_anomaly_enabled()
    set_detect_anomaly(False)
    assert not _C._is_anomaly_enabled()
    with set_detect_anomaly(True, check_nan=False):
        assert _C._is_anomaly_enabled() and not _C._is_anomaly_check_nan_enabled()
    assert not _C._is_anomaly_enabled() and _C._is_anomaly_check_nan_enabled()


def nan_backward():
    x = leaf([0.0, 4.0])
    y = x ** 0.5  # the line the report must show
    return (y * 0).sum(), x


def test_nan_in_backward_names_the_op_and_the_line():
    with quiet_detect_anomaly():
        loss, x = nan_backward()
        with pytest.warns(UserWarning) as record:
            with pytest.raises(RuntimeError, match=re.escape(
                    "Function 'PowBackward0' returned nan values in its 0th output.")) as info:
                loss.backward()
    messages = [str(w.message) for w in record]
    report = next(m for m in messages if m.startswith("Error detected in PowBackward0. Traceback of forward call "
                                                      "that caused the error:"))
    assert "in nan_backward" in report and "y = x ** 0.5" in report
    assert record[-1].filename == __file__  # the warning points at loss.backward()
    assert "test_autograd_anomaly.py" in report
    note = "\n".join(getattr(info.value, "__notes__", []))
    assert "y = x ** 0.5" in note


def test_without_anomaly_mode_nan_passes_silently():
    loss, x = nan_backward()
    loss.backward()
    assert np.isnan(x.grad.numpy()[0])


def test_check_nan_off():
    with quiet_detect_anomaly(check_nan=False):
        loss, x = nan_backward()
        loss.backward()
    assert np.isnan(x.grad.numpy()[0])


def test_nodes_made_before_anomaly_mode_have_no_record():
    loss, x = nan_backward()
    with quiet_detect_anomaly():
        with pytest.warns(UserWarning, match="Error detected in PowBackward0. No forward pass information "
                                             "available. Enable detect anomaly during forward pass for more "
                                             "information."):
            with pytest.raises(RuntimeError, match="returned nan values"):
                loss.backward()


def test_nan_in_a_custom_function():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    with quiet_detect_anomaly():
        y = Bad.apply(leaf([1.0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match=re.escape("Function 'BadBackward' returned nan values in its "
                                                             "0th output.")):
                y.sum().backward()


def test_nan_in_the_second_input_gradient():
    with quiet_detect_anomaly():
        a, c = leaf([0.0]), leaf([1.0])
        y = a * c
        z = y ** 0.5  # gradient inf at 0: MulBackward0 gives inf * c = inf to a, inf * a = nan to c
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match=re.escape("Function 'MulBackward0' returned nan values in its "
                                                             "1th output.")):
                z.sum().backward()


def test_inplace_error_in_anomaly_mode_points_at_the_backtrace():
    with quiet_detect_anomaly():
        x = leaf([1.0, 2.0])
        z = x * 1
        w = z * z
        with cgrad.no_grad():
            z.add_(1)
        with pytest.warns(UserWarning, match="Error detected in MulBackward0"):
            with pytest.raises(RuntimeError, match=re.escape(
                    "is at version 1; expected version 0 instead. Hint: the backtrace further above shows the "
                    "operation that failed to compute its gradient. The variable in question was changed in there "
                    "or anywhere later. Good luck!")):
                w.sum().backward()


def test_node_made_by_a_backward_reports_the_node_that_made_it():
    with quiet_detect_anomaly():
        x = leaf([0.0, 4.0])
        y = x ** 0.5
        (g,) = grad(y.sum(), x, create_graph=True)
        with pytest.warns(UserWarning) as record:
            with pytest.raises(RuntimeError, match="returned nan values"):
                grad((g * 0).sum(), x)
    messages = [str(w.message) for w in record]
    assert any("Previous calculation was induced by PowBackward0. Traceback of forward call that induced the "
               "previous calculation:" in m and "y = x ** 0.5" in m for m in messages)


def test_hook_exception_in_anomaly_mode_keeps_its_type():
    class Oops(Exception):
        pass

    def hook(g):
        raise Oops("hook")

    with quiet_detect_anomaly():
        x = leaf([1.0])
        y = x * 2
        y.register_hook(hook)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(Oops) as info:
                y.sum().backward()
    assert any("Error detected in MulBackward0" in n for n in getattr(info.value, "__notes__", []))


def test_records_are_released_with_their_nodes():
    gc.collect()
    before = _C._anomaly_records_alive()
    with quiet_detect_anomaly():
        x = leaf([1.0, 2.0])
        y = (x * 2).tanh().sum()
        assert _C._anomaly_records_alive() == before + 3
        assert "y = (x * 2).tanh().sum()" in _C._anomaly_trace(y.grad_fn)
    del y
    gc.collect()
    assert _C._anomaly_records_alive() == before


def test_results_are_the_same_in_anomaly_mode():
    def run():
        x = leaf([0.5, -1.0, 2.0])
        ((x * x).tanh() * x.exp()).sum().backward()
        return x.grad.numpy().copy()

    plain = run()
    with quiet_detect_anomaly():
        checked = run()
    np.testing.assert_array_equal(plain, checked)


def test_top_level_names():
    assert cgrad.is_anomaly_enabled() is False
    cgrad.set_anomaly_enabled(True, check_nan=False)
    assert cgrad.is_anomaly_enabled() and not cgrad.is_anomaly_check_nan_enabled()
    cgrad.set_anomaly_enabled(False)
    assert cgrad.autograd.detect_anomaly is detect_anomaly
