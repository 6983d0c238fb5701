"""The model card, reports/T/README.md: what a trained model is, what it learnt from, how it
was trained and how good it is, written by the evaluate stage from what the pipeline recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprolab.data.tasks.base import Task

FIGURES = {
    "curves.png": "Loss and accuracy per epoch",
    "confusion.png": "Confusion matrix",
    "roc.png": "ROC curve",
    "per_attack.png": "Recall per attack, worst first",
    "predicted_vs_actual.png": "Predicted against actual",
    "weights.png": "The weights of each class, as images",
    "misclassified.png": "Misclassified test images",
}


VOUCHED = {"manifest": "the mirror's SHA256SUMS", "repository": "the repository (DVC tracks it)"}


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render(task: Task, details: dict, headline: dict, settings: dict, rows: dict, figures: list[str]) -> str:
    model = details["model"]
    lines = [f"# {task.name}: model card", "", task.about.strip(), ""]
    lines += ["## Data", "", "| file | from | sha256 | vouched for by |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {s['origin']} | `{s['sha256']}` | {VOUCHED.get(s['vouched_by'], s['vouched_by'])} |"
        for name, s in details["sources"].items()
    ] or ["| (generated) | | | |"]
    lines += ["", "Rows per split: " + ", ".join(f"{split} {n:,}" for split, n in rows.items()) + ".", ""]
    classes = ", ".join(task.classes) if task.classes else "one value"
    use = f"`python -m reprolab predict {task.name} INPUT...` from `models/{task.name}.pt` alone"
    lines += [
        "## Model",
        "",
        f"`{model['name']}`, {model['parameters']:,} parameters, {task.kind} ({classes}). Applied with {use}.",
    ]
    lines += ["", "Training settings used:", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in settings.items()]
    lines += ["", "## Results", "", "| split | metric | value |", "|---|---|---|"]
    lines += [
        f"| {split} | {key} | {_number(value)} |" for split, values in headline.items() for key, value in values.items()
    ]
    lines += [
        "",
        "Every figure of every split (per-class recall, precision and F1 among them) is in `details.json`.",
        "",
    ]
    lines += ["## Figures", ""] + [f"![{FIGURES[Path(link).name]}]({link})" for link in figures] + [""]
    run = details["training"]
    stopped = ", stopped early" if run["stopped_early"] else ""
    lines += ["## Environment", ""]
    kernels = {
        "portable": "kernels capped at AVX2 (`reproducible: portable`: the same bits on any x86-64 CPU with AVX2)",
        "native": "this machine's own kernels (`reproducible: native`: a record of that machine only)",
    }
    if run["device"] != "cpu":  # a GPU, by name: its kernels are its own, under deterministic algorithms
        kernels = dict.fromkeys(kernels, "PyTorch's deterministic algorithms (a record of that GPU model)")
    lines.append(
        f"Trained on {run['device']} with {kernels[run['reproducible']]}, {run['threads']} CPU thread(s) "
        f"(0: all cores), {run['processes']} process(es): {run['epochs']} epochs (best {run['best_epoch']}{stopped}). "
        "Where and how long it ran is in `logs/runs.jsonl` of the machine that ran it, not here."
    )
    limits = list(task.limits)
    if any(s["vouched_by"] == "manifest" for s in details["sources"].values()):
        limits.append(
            "This data was accepted on a mirror's SHA256SUMS, not on the published checksum: a re-packed copy."
        )
    if limits:
        lines += ["", "## Known limits", ""] + [f"- {limit}" for limit in limits]
    return "\n".join(lines) + "\n"
