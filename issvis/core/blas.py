"""One OpenBLAS kernel on every x86-64 machine, so that a run is bit-identical wherever it is made.

numpy's wheels ship OpenBLAS built for many CPUs; at load it picks the kernel of the CPU it finds.
Kernels round differently (their dot products sum in another order, with or without FMA): the
default scene run with the AVX-512 kernel (SkylakeX) differs from the same run with the AVX2 one
(Haswell) by 7e-6 m on the USOS and, from 1.5 s after the push, by 1e-3 m/s and up to 0.21 m on the
Russian segment over 300 s, against golden tolerances of 1e-6 m (measured 3 Dec 2026). OpenBLAS
reads ``OPENBLAS_CORETYPE`` when it loads, that is when numpy is first imported, so ``import
issvis`` sets it (where it is not set already) before anything imports numpy: the Haswell kernel on
any x86-64 CPU that has AVX2 and FMA (forcing it on one without would stop the process on an
illegal instruction), nothing elsewhere. A program that imported numpy before issvis keeps the
kernel numpy chose; ``openblas_kernel()`` says which one that is.

This module imports nothing heavy: ``issvis/__init__`` runs it first.
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping
from pathlib import Path

#: The kernel issvis's golden records were made with (any x86-64 CPU from 2013 on can run it).
PINNED_KERNEL = "Haswell"
#: What a CPU must offer to run it (flags of /proc/cpuinfo).
PINNED_KERNEL_NEEDS = frozenset({"avx2", "fma"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's flags in ``cpuinfo`` (Linux); empty where there is no such file."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def pin_openblas_kernel(environ: MutableMapping[str, str] | None = None, machine: str | None = None,
                        flags: frozenset[str] | None = None) -> str | None:
    """Set ``OPENBLAS_CORETYPE`` to ``PINNED_KERNEL`` in ``environ`` (default ``os.environ``) unless it
    is set already or the CPU (``machine``, ``flags``; default this one's) cannot run that kernel.
    Returns the kernel asked for, or None where nothing is asked."""
    env = os.environ if environ is None else environ
    if "OPENBLAS_CORETYPE" in env:
        return env["OPENBLAS_CORETYPE"] or None
    arch = (machine if machine is not None else platform.machine()).lower()
    if arch not in ("x86_64", "amd64"):
        return None
    have = cpu_flags() if flags is None else flags
    if not PINNED_KERNEL_NEEDS <= have:
        return None
    env["OPENBLAS_CORETYPE"] = PINNED_KERNEL
    return PINNED_KERNEL


def openblas_kernel() -> str | None:
    """The kernel the OpenBLAS that numpy loaded runs (``openblas_get_corename``), or None where numpy's
    BLAS is not an OpenBLAS that can say. Imports numpy."""
    import ctypes

    import numpy as np

    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for lib in sorted(libs.glob("*openblas*")):
        try:
            dll = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename", "openblas_get_corename",
                     "scipy_openblas_get_corename64_", "openblas_get_corename64_"):
            fn = getattr(dll, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                got = fn()
                return got.decode() if got else None
    return None
