"""Measures of a picture that more than one test module reads."""

from __future__ import annotations

import numpy as np


def local_contrast(grey: np.ndarray, k: int = 4) -> float:
    """Median absolute difference of ``grey`` (H, W) from its (2k + 1) px box mean, over its mean: how
    strongly pattern finer than the box shows against the picture's own level, whatever the light's
    strength."""
    pad = np.pad(grey, k, mode="edge")
    box = sum(pad[k + i:k + i + grey.shape[0], k + j:k + j + grey.shape[1]] for i in range(-k, k + 1)
              for j in range(-k, k + 1)) / (2 * k + 1) ** 2
    return float(np.median(np.abs(grey - box)) / grey.mean())
