"""What decides float results, pinned (reprolab/core/kernels.py): two machines simulated on one,
and the settings a machine cannot honour refused with one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reprolab.core import kernels, params, paths
from reprolab.core.errors import UserError
from reprolab.data.tasks import every
from stages.download import download
from stages.featurize import featurize
from stages.split import split
from tests.conftest import ROOT, run_stages

# Each library's kernels capped from outside the process, as on a CPU without AVX-512.
WITHOUT_AVX512 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}
HAS_AVX512 = "avx512f" in (kernels.cpu_flags() or set())


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment less every kernel switch (the test process is pinned itself)."""
    env = {k: v for k, v in kernels.unpinned_env().items() if k not in WITHOUT_AVX512}
    return env | {"PYTHONPATH": str(ROOT)} | extra


def python(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env or clean_env())


def set_mode(workdir: Path, mode: str) -> None:
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["reproducible"] = mode
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))


def trained(workdir: Path, name: str, env: dict[str, str]) -> dict[str, bytes]:
    """The train stage run as its own process; its model file, summary and curves."""
    result = python(workdir, "-m", "stages.train", name, env=env)
    assert result.returncode == 0, result.stderr
    files = [paths.model(name), *sorted(paths.live(name).rglob("*.*"))]
    return {str(path): path.read_bytes() for path in files}


def many_steps(workdir: Path, epochs: int | None = None, channels: list[int] | None = None) -> None:
    """Lookahead moves its slow copy every 5 steps and ends on it: at batch 512 the fixture's few
    digits make 3 steps in all, which end on the initial weights on any machine; at 32, many."""
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["mnist"]["train"]["batch_size"] = 32
    if channels:
        data["tasks"]["mnist"]["model"]["channels"] = channels
    if epochs:
        for block in data["tasks"].values():
            block["train"]["epochs"] = epochs
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.e2e  # four train stage processes
@pytest.mark.skipif(not HAS_AVX512, reason="this CPU has no AVX-512 to take away: the two runs would be one machine")
@pytest.mark.parametrize("name", ["mnist", "nslkdd"])  # a convolutional task and a table task
def test_a_portable_run_computes_the_same_bits_with_or_without_avx512(workdir, name):
    many_steps(workdir)
    run_stages(name, download, split, featurize)
    assert every()[name].modality == ("image" if name == "mnist" else "table")
    runs = {}
    for mode in ("portable", "native"):
        set_mode(workdir, mode)
        runs[mode] = [trained(workdir, name, clean_env()), trained(workdir, name, clean_env(**WITHOUT_AVX512))]
    assert runs["portable"][0] == runs["portable"][1]  # models, summaries and curves byte for byte
    models = [run[str(paths.model(name))] for run in runs["native"]]
    assert models[0] != models[1]  # without the pin the two machines differ: the check can fail


def other_cpu() -> str:
    """A CPU of the other vendor than this one, without AVX-512, for qemu to present: Intel's
    Haswell on an AMD machine, AMD's first EPYC on an Intel one (both AVX2 and FMA)."""
    vendor = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("vendor_id")), "")
    return "Haswell-v4" if "AMD" in vendor else "EPYC-v3"


@pytest.mark.e2e  # a train stage process on an emulated CPU: a minute or more
@pytest.mark.skipif(shutil.which("qemu-x86_64") is None, reason="needs qemu-user (Debian's qemu-user)")
@pytest.mark.parametrize("name", ["mnist", "nslkdd"])  # (each of the six passed; cifar10 takes 3.5 min)
def test_a_portable_run_computes_the_same_bits_on_another_cpu(workdir, name):
    """The train stage as on this CPU and as on a CPU of the other vendor, without AVX-512, that
    qemu emulates (its CPUID, its instructions): each library dispatching by what the CPU says
    it is sees another machine, MKL's vector math included, which no environment switch caps.
    Pinned, the model, summary and curves are the same bytes (nslkdd's unfused Adam failed it).
    mnist's net at a quarter of its width (channels 8, 16, 16): the same layers and the same
    oneDNN convolution kernels, each as often (ONEDNN_VERBOSE=1 lists brg_conv_fwd:avx2,
    brg_conv_bwd:avx2 and jit:avx2 at either width), a sixteenth of the arithmetic, which qemu
    computes about 100 times slower than this CPU: 67 s here, against 189 s at full width (the
    avx512 test above trains the full width)."""
    many_steps(workdir, epochs=1, channels=[8, 16, 16])
    run_stages(name, download, split, featurize)
    here = trained(workdir, name, clean_env())
    emulated = subprocess.run(
        ["qemu-x86_64", "-cpu", other_cpu(), sys.executable, "-m", "stages.train", name],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert emulated.returncode == 0, emulated.stderr
    assert [path for path, data in here.items() if Path(path).read_bytes() != data] == []  # changed by qemu's run


def test_the_train_stage_logs_where_the_record_was_made(workdir):
    run_stages("blobs", download, split, featurize)
    result = python(workdir, "-m", "stages.train", "blobs")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "machine:" in line]
    assert "AVX2 kernels (portable)" in line and "1 of" in line and "torch " in line
    logged = (workdir / "logs/runs.jsonl").read_text().splitlines()
    assert '"stage": "train@blobs"' in logged[-1] and '"seconds": ' in logged[-1]
    summary = (workdir / paths.live("blobs") / "metrics.json").read_text()
    assert '"reproducible": "portable"' in summary and "torch" not in summary and "seconds" not in summary


def test_the_pin_reaches_every_library_before_it_loads(tmp_path):
    code = (
        "from reprolab.core import kernels; kernels.pin('portable'); import os, torch;"
        "print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'])"
    )
    assert python(tmp_path, "-c", code).stdout.split() == ["AVX2", "COMPATIBLE", "AVX2"]
    late = python(tmp_path, "-c", "import numpy; from reprolab.core import kernels; kernels.pin('portable')")
    assert late.returncode != 0 and "must run before numpy loads" in late.stderr


def stage_with(workdir: Path, patch: str) -> subprocess.CompletedProcess:
    """`python -m stages.download blobs`, with reprolab.core.kernels patched first (a simulated CPU)."""
    code = f"{patch}; import runpy; runpy.run_module('stages.download', run_name='__main__')"
    return python(workdir, "-c", code, "blobs")


@pytest.mark.parametrize(
    ("patch", "offers"),
    [
        ("from reprolab.core import kernels; kernels.cpu_flags = lambda: {'sse2', 'sse4_2', 'avx'}", "avx"),
        ("import platform; platform.machine = lambda: 'aarch64'", "aarch64"),
    ],
)
def test_a_cpu_without_the_pinned_level_stops_with_one_line(workdir, patch, offers):
    result = stage_with(workdir, patch)
    assert result.returncode == 1 and not (workdir / "data").exists()
    assert result.stderr == (
        f"error: params.yaml: reproducible: portable computes with AVX2 kernels; this CPU offers {offers} "
        "(set reproducible: native for its own kernels, a record of its own)\n"
    )
    set_mode(workdir, "native")  # the opt-out runs there
    assert stage_with(workdir, patch).returncode == 0


def test_an_unknown_mode_stops_every_stage_with_one_line(workdir):
    set_mode(workdir, "fast")
    for args in (
        ["-m", "stages.plan"],
        ["-m", "stages.download", "blobs"],
        ["-m", "reprolab", "predict", "blobs", "x"],
    ):
        result = python(workdir, *args)
        assert result.returncode == 1, args
        assert result.stderr.splitlines() == [
            f"error: {'predict: ' if 'predict' in args else ''}params.yaml: reproducible: 'fast' is not one of "
            "portable, native"
        ]
    assert not (workdir / "data").exists()
    with pytest.raises(UserError, match=r"reproducible: Input should be 'portable' or 'native'"):
        params.load(every())


@pytest.mark.parametrize(
    ("name", "key", "value", "refusal"),
    [
        ("mnist", "threads", 0, r"tasks.mnist.train.threads: 0 \(all cores\) differs from machine to machine"),
        (
            "nslkdd",
            "optimizer",
            "rmsprop",
            r"tasks.nslkdd.train.optimizer: rmsprop's square root \(MKL's vector math\)",
        ),
    ],
)
def test_a_portable_run_refuses_a_setting_whose_bits_follow_the_machine(workdir, name, key, value, refusal):
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"][name]["train"][key] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match=refusal):
        params.load(every())
    set_mode(workdir, "native")
    assert getattr(params.load(every()).train_for(name), key) == value


def test_make_times_writes_the_stage_time_table_from_the_runs_log(tmp_path):
    from reprolab.pages import timings

    facts = {"cpu": "Some CPU", "offers": "avx512", "cpus": 2, "reproducible": "portable", "kernels": "AVX2"}
    log = tmp_path / "runs.jsonl"
    lines = [
        {"stage": "train@nslkdd", "finished": "2026-12-01T10:00:00+00:00", "seconds": 99.0, "machine": facts},
        {"stage": "plan", "finished": "2026-12-01T10:00:00+00:00", "seconds": 0.1, "machine": facts},
        {
            "stage": "train@nslkdd",
            "finished": "2026-12-02T10:00:00+00:00",
            "seconds": 50.5,
            "machine": facts | {"torch": "x"},
        },
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    runs = timings.latest(log)
    table = timings.table(runs)
    rows = {line.split(" | ")[0]: line for line in table.splitlines()}
    assert rows["| nslkdd"] == "| nslkdd | - | - | - | 50.5 | - | - | 50.5 |"  # the latest run of a stage
    assert rows["| blobs"] == "| blobs | - | - | - | - | - | - | 0.0 |"
    assert "All 2 stages: 50.6 s (0.8 min) of their own clocks, the last" in table
    assert "finished 2026-12-02 10:00 UTC (`plan`: 0.1 s)." in table
    assert "On Some CPU (offers avx512), AVX2 kernels (portable), 2 CPUs." in table
    page = f"intro\n{timings.MARKERS[0]}\nold\n{timings.MARKERS[1]}\nrest\n"
    assert timings.updated(page, runs) == f"intro\n{timings.MARKERS[0]}\n{table}\n{timings.MARKERS[1]}\nrest\n"
    held = (ROOT / timings.PAGE).read_text()  # the page that make times writes holds the table
    assert held.index(timings.MARKERS[0]) < held.index(timings.MARKERS[1])
    with pytest.raises(UserError, match="no stage has run here yet"):
        timings.latest(tmp_path / "none.jsonl")


@pytest.mark.parametrize(("device", "says"), [("cpu", "kernels capped at AVX2"), ("NVIDIA H200", "deterministic")])
def test_the_model_card_says_what_decided_the_bits(device, says):
    from reprolab.data.tasks import get
    from reprolab.evaluation import model_card

    run = {"device": device, "reproducible": "portable", "threads": 1, "processes": 1}
    details = {
        "model": {"name": "linear", "parameters": 9},
        "sources": {},
        "training": run | {"epochs": 2, "best_epoch": 2, "stopped_early": False},
    }
    card = model_card.render(get("blobs"), details, {"val": {"accuracy": 1.0}}, {}, {"train": 400}, [])
    (line,) = [line for line in card.splitlines() if line.startswith("Trained on")]
    assert line.startswith(f"Trained on {device} with") and says in line and ("AVX2" in line) == (device == "cpu")
