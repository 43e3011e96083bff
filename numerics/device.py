"""Torch devices for the torch-based engines (``--device {auto,cpu,cuda,cuda:N}``).

Random numbers are always drawn on a CPU ``torch.Generator`` (or a numpy Generator) and then moved to the
device, so a seed means the same draws on every device; results on CUDA agree with the CPU's to rounding,
not bit for bit.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from numerics.errors import UserInputError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"


def resolve_device(name: str | None = "cpu") -> torch.device:
    """``auto`` → the first CUDA device if there is one, else the CPU; a one-line error for a CUDA device
    that does not exist."""
    name = (name or "cpu").strip().lower()
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise UserInputError(f"--device {name!r}: expected one of {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise UserInputError(f"--device {name}: no CUDA device is available on this machine (use cpu or auto)")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise UserInputError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device(f"cuda:{index}")


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU torch generator seeded from a numpy generator (draws on it, then ``.to(device)``)."""
    return torch.Generator().manual_seed(int(rng.integers(2 ** 62)))


def randn(shape, generator: torch.Generator, device: torch.device, dtype=torch.float64) -> torch.Tensor:
    """Standard normals drawn on the CPU generator, moved to ``device``: the same numbers on every device."""
    return torch.randn(*shape, generator=generator, dtype=dtype).to(device)


def rand(shape, generator: torch.Generator, device: torch.device, dtype=torch.float64) -> torch.Tensor:
    """U(0, 1) draws on the CPU generator, moved to ``device``."""
    return torch.rand(*shape, generator=generator, dtype=dtype).to(device)
