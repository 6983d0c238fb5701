"""Seeding, device choice and the settings that make a run repeatable."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

from reprolab.core.errors import UserError


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a generator for shuffles."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(name: str, reproducible: str = "native") -> torch.device:
    """`auto` takes CUDA, then MPS, then the CPU; in portable mode, the CPU (a GPU's kernels
    are its own: a portable result is one thing everywhere). A device asked for by name must
    exist."""
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    if name == "auto" and reproducible == "portable":
        if cuda or mps:
            logging.getLogger("device").info(
                "device: auto trains on the CPU in portable mode; reproducible: native uses the %s",
                "cuda" if cuda else "mps",
            )
        name = "cpu"
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise UserError(f"params.yaml: device: {name} is not available here (use auto or cpu)")
    if name != "cpu":
        # CPU kernels are deterministic already; the switch costs seconds of imports.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch.use_deterministic_algorithms(True)
    return torch.device(name)
