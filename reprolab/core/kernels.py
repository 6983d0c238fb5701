"""What decides float results on a CPU, pinned before torch or numpy loads.

The same code on the same data gives other bits on another CPU when the libraries pick
their vector kernels by what the CPU offers: PyTorch's own kernels (ATen), oneDNN for the
convolutions, MKL for matrix products, numpy's ufuncs (log1p, exp) and the OpenBLAS that
numpy and gensim call. `reproducible: portable` (params.yaml, the default) caps each at
AVX2 and FMA, which every x86-64 CPU of the last ten years has, and asks MKL for its
conditional numerical reproducibility branch that holds on Intel and AMD alike
(`MKL_CBWR=COMPATIBLE`; MKL ignores `MKL_CBWR=AVX2` on AMD CPUs); with the thread count
fixed per task (`train.threads`), two machines then compute the same bits.
`reproducible: native` leaves every library to the machine's fastest kernels, and the
record says so. One trap lies below every pin: torch.sqrt (and log, tan, pow(x, 0.5), ...)
goes to MKL's vector math, which picks its approximate code by the CPU whatever is set
here; so the optimizers run fused (reprolab/learning/loop.py) and portable mode refuses rmsprop
(docs/reproducibility.md).

`stages/__init__.py` pins every stage process here, `reprolab/__main__.py` the predict
command and `bench/__init__.py` the benchmarks, each before anything loads torch.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import yaml

from reprolab.core.errors import UserError

MODES = ("portable", "native")
DEFAULT = "portable"
LEVEL = "AVX2"  # the kernel level a portable run computes with
# Each library's own switch, read once when it loads.
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy 2.4's targets above AVX2
    "OPENBLAS_CORETYPE": "Haswell",  # OpenBLAS's AVX2 kernels
}
NUMPY_UP_TO = ("X86_V2", "X86_V3")  # numpy's dispatch targets at or below AVX2
NEEDED = ("avx2", "fma")  # what the AVX2 kernels of every library above execute
LOADED_TOO_LATE = ("torch", "numpy")
_pinned: str | None = None


class KernelError(UserError):
    """A setting this machine cannot honour; the message is one line for the user."""


def configured(path: str | Path = "params.yaml") -> str:
    """The `reproducible` setting of params.yaml (the default where the file or key is absent)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return DEFAULT  # the params check itself names a missing or broken file
    mode = data.get("reproducible", DEFAULT) if isinstance(data, dict) else DEFAULT
    if mode not in MODES:
        raise KernelError(f"{path}: reproducible: {mode!r} is not one of {', '.join(MODES)}")
    return mode


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags as Linux lists them; None where they cannot be read here."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def offered(flags: set[str] | None, machine: str | None = None) -> str:
    """What this CPU offers, in a word: avx512, avx2, avx, sse4_2 ... or its architecture."""
    machine = machine or platform.machine()
    if machine.lower() not in ("x86_64", "amd64"):
        return machine
    if flags is None:
        return "x86_64 (flags unknown)"
    for level in ("avx512f", "avx2", "avx", "sse4_2", "sse2"):
        if level in flags:
            return level.removesuffix("f")
    return "x86_64"


def pin(mode: str) -> None:
    """Set each library's switch for `mode` (one of MODES, as `configured` gives it) in this
    process (and the processes it starts). The first pin of a process holds; it must come
    before torch or numpy loads."""
    global _pinned
    if _pinned is not None:
        return
    early = [name for name in LOADED_TOO_LATE if name in sys.modules]
    if early:
        raise RuntimeError(f"reprolab.core.kernels.pin must run before {' and '.join(early)} loads")
    if mode == "portable":
        flags, machine = cpu_flags(), platform.machine()
        x86 = machine.lower() in ("x86_64", "amd64")
        if not x86 or (flags is not None and not set(NEEDED) <= flags):
            raise KernelError(
                f"params.yaml: reproducible: portable computes with {LEVEL} kernels; this CPU offers "
                f"{offered(flags, machine)} (set reproducible: native for its own kernels, a record of its own)"
            )
        os.environ.update(PORTABLE_ENV)
    _pinned = mode


def unpinned_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (this process's environment by default) without the pin's variables: for a child
    that is to pin itself, to another mode or not at all."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in PORTABLE_ENV}


def pin_configured(who: str | None = None) -> None:
    """What every entry point (the stages, predict, the benchmarks) does first: params.yaml's
    mode pinned before torch or numpy loads, or the process ends with one line."""
    try:
        pin(configured())
    except KernelError as err:
        sys.exit(f"error: {who + ': ' if who else ''}{err}")


def pinned() -> str | None:
    """The mode this process was pinned to (None: not pinned)."""
    return _pinned


def use_threads(threads: int) -> None:
    """Fix torch's (and so MKL's and oneDNN's) thread count; 0 leaves torch's default."""
    import torch

    if threads:
        torch.set_num_threads(threads)


def check() -> None:
    """After torch loads: a portable process really computes with the pinned kernels."""
    import torch

    if _pinned != "portable":
        return
    if torch.backends.cpu.get_cpu_capability() != LEVEL:
        raise KernelError(
            f"params.yaml: reproducible: portable: torch runs {torch.backends.cpu.get_cpu_capability()} "
            f"kernels here, not {LEVEL} (set reproducible: native)"
        )
    umath: Any = sys.modules.get("numpy._core._multiarray_umath")
    targets = getattr(umath, "__cpu_dispatch__", ())
    above = [t for t in targets if t not in NUMPY_UP_TO and umath.__cpu_features__.get(t)]
    if above:  # a numpy whose targets above AVX2 have other names than PORTABLE_ENV's
        raise KernelError(f"reproducible: portable: numpy still dispatches to {', '.join(above)} here")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, object]:
    """The facts that differ between machines, for people to read (never for a record)."""
    facts: dict[str, object] = {
        "cpu": cpu_model(),
        "offers": offered(cpu_flags()),
        "cpus": os.cpu_count(),
        "reproducible": _pinned,
        "python": platform.python_version(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        facts |= {
            "kernels": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        }
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        facts["numpy"] = numpy.__version__
    return facts


def fingerprint() -> str:
    """One line saying where a run computes, e.g. for the train stage's log."""
    facts = machine()
    kernels = f"{facts.get('kernels', '?')} kernels ({facts['reproducible'] or 'not pinned'})"
    threads = f"{facts['threads']} of {facts['cpus']} CPUs" if "threads" in facts else f"{facts['cpus']} CPUs"
    versions = ", ".join(f"{name} {facts[name]}" for name in ("torch", "numpy", "python") if name in facts)
    return f"machine: {facts['cpu']} (offers {facts['offers']}); {kernels}; {threads}; {versions}"
