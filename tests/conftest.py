"""Test configuration.

The tests import the installed ``cgrad`` package, never the source tree. With
``--import-mode=importlib`` (see pyproject.toml) pytest does not put this
directory on sys.path, so it is added here for the shared ``helpers`` module only.
"""
import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


def pytest_report_header(config):
    try:
        import cgrad
    except ImportError as exc:
        return f"cgrad: not importable ({exc})"
    return f"cgrad: {getattr(cgrad, '__version__', '?')} from {Path(cgrad.__file__).parent}"
