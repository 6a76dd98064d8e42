"""argparse value types shared by the CLIs: numbers that must be finite or within bounds, refused in one line."""
from __future__ import annotations

import argparse
import math


def finite_float(text: str) -> float:
    """A float option: 'nan', 'inf' and '-inf' are refused (argparse prints one line and exits 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer option that is 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
