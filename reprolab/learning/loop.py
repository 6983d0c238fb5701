"""The training loop, shared by every task: it branches on the task's kind, never its name.

Batches come from tensors held in memory: one shuffled copy of the training
split per epoch, then contiguous slices of it (no per-sample collate).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from reprolab.core.errors import UserError
from reprolab.core.files import save_tensors
from reprolab.core.params import TrainParams
from reprolab.core.progress import quiet
from reprolab.learning.inference import LOSSES, Split, correct, forward, outputs

log = logging.getLogger(__name__)


def make_optimizer(parameters, cfg: TrainParams) -> torch.optim.Optimizer:
    """Adam and Adagrad run fused: one ATen kernel whose square root is the CPU's own (exact)
    instruction. Their unfused steps call torch.sqrt, which PyTorch hands to MKL's vector math,
    and that picks its approximate code by the CPU, below any pin (reprolab/core/kernels.py): the
    same step gave other bits on an Intel and an AMD CPU. (RMSprop has no fused form; portable
    mode refuses it in reprolab/core/params.py.)"""
    common: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(parameters, **common)
    if cfg.optimizer in ("momentum", "nesterov"):
        return torch.optim.SGD(parameters, momentum=cfg.momentum, nesterov=cfg.optimizer == "nesterov", **common)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(parameters, fused=True, **common)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, momentum=cfg.momentum, **common)
    return torch.optim.Adam(parameters, fused=True, **common)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainParams, steps_per_epoch: int):
    """The learning-rate schedule; `onecycle` steps after every batch, the others after every epoch."""
    if cfg.scheduler == "onecycle":  # linear rise from lr/25 to lr over `warmup` of the steps, then down to ~0
        total = cfg.epochs * steps_per_epoch
        rise, start, end = max(1, round(cfg.warmup * total)), 1 / 25, 1 / 25_000

        def factor(step: int) -> float:
            if step < rise:
                return start + (1 - start) * step / rise
            return max(end, 1 - (1 - end) * (step - rise) / max(1, total - rise))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    return None


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of data-parallel processes (1 outside torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def random_crop_flip(x: Tensor, padding: int, generator: torch.Generator, flip: bool = True) -> Tensor:
    """Per image: a random crop of the zero-padded image, and (flip) a horizontal flip half the time.

    Vectorised over the batch with explicit index grids, so no DataLoader worker is needed.
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator).to(x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        cols = torch.where(flipped[:, None, None, None], cols.flip(-1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return 1 if batch_size == 0 or batch_size >= n else math.ceil(n / batch_size)


def batches(
    data: Split, batch_size: int, generator: torch.Generator, augment: bool = False, padding: int = 4, flip: bool = True
) -> Iterator[Split]:
    """Shuffled batches; batch_size 0 is the whole split, unshuffled (full-batch descent).
    With augment, each image batch is randomly cropped (and flipped). Under data-parallel
    training every process draws the same batches and keeps its own share of each."""
    rank, world = rank_and_world()
    if batch_size == 0 or batch_size >= len(data):
        chunks: Iterator[Split] = iter([data])
    else:
        order = torch.randperm(len(data), generator=generator).to(data.x.device)
        x, y = data.x[order], data.y[order]
        chunks = (Split(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(data), batch_size))
    for batch in chunks:
        if augment:
            batch = Split(random_crop_flip(batch.x, padding, generator, flip), batch.y)
        yield Split(batch.x[rank::world], batch.y[rank::world]) if world > 1 else batch


@dataclass(frozen=True)
class Epoch:
    epoch: int  # 1-based
    train_loss: float
    val_loss: float
    train_acc: float | None  # None for regression
    val_acc: float | None
    lr: float


@dataclass
class FitResult:
    history: list[Epoch] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


LOOKAHEAD_EVERY = 5


@torch.no_grad()
def look_ahead(model: nn.Module, slow: list[Tensor], step: int, total: int) -> None:
    """Lookahead (Zhang et al., 2019) as airbench runs it: every LOOKAHEAD_EVERY steps the slow
    copy moves toward the weights (and batch-norm statistics) by a share that shrinks over
    training, and the weights restart from it; after the last step they are the slow copy. A
    run shorter than LOOKAHEAD_EVERY steps never moved its slow copy: it keeps its weights
    (airbench's rule would end it on the initial weights)."""
    if (step % LOOKAHEAD_EVERY and step < total) or total < LOOKAHEAD_EVERY:
        return
    keep = 1.0 if step >= total else 0.95**5 * (step / total) ** 3
    for average, tensor in zip(slow, _floats(model), strict=True):
        average.lerp_(tensor, 1.0 - keep)
        tensor.copy_(average)


def _floats(model: nn.Module) -> list[Tensor]:
    return [t for t in model.state_dict().values() if t.is_floating_point()]


def _check_finite(value: float, what: str, epoch: int, lr: float) -> float:
    if not math.isfinite(value):
        raise UserError(f"training diverged: {what} is {value} at epoch {epoch} (lr {lr}: try a smaller train.lr)")
    return value


def _resume(path: Path | None, fingerprint: str) -> dict | None:
    """The checkpoint at `path` if it was written by a run of the same settings and data."""
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # a torn or foreign file: say so, and start afresh
        log.warning("%s: not a readable checkpoint (%s); training from the start", path, type(err).__name__)
        return None
    return state if isinstance(state, dict) and state.get("fingerprint") == fingerprint else None


def fit(
    model: nn.Module,
    kind: str,
    train: Split,
    val: Split,
    cfg: TrainParams,
    generator: torch.Generator,
    on_epoch: Callable[[Epoch], None] = lambda epoch: None,
    checkpoint: Path | None = None,
    fingerprint: str = "",
    threshold: float = 0.5,
) -> FitResult:
    """Train `model` in place. With patience > 0, stop once validation loss has not
    improved for that many epochs and restore the weights of the best epoch.

    With a checkpoint path, everything needed to go on (model, optimizer, scheduler,
    random states, history) is saved there after each epoch, and a run with the same
    fingerprint resumes from it, replaying `on_epoch` for the epochs already done, and
    ends exactly as an uninterrupted run would."""
    loss_fn = LOSSES[kind]()  # validation: the plain loss, the one evaluate reports
    train_loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing) if cfg.label_smoothing else loss_fn
    optimizer = make_optimizer(model.parameters(), cfg)
    per_epoch = steps_per_epoch(len(train), cfg.batch_size)
    scheduler = make_scheduler(optimizer, cfg, per_epoch)
    per_step = cfg.scheduler == "onecycle"
    # On a GPU, bfloat16 matrix work (convolutions, linear layers); on the CPU, float32 throughout.
    autocast = torch.autocast(train.x.device.type, dtype=torch.bfloat16, enabled=train.x.device.type == "cuda")
    classify = kind != "regression"
    result, best_loss, best_state, start = FitResult(), math.inf, None, 1
    slow = [t.detach().clone() for t in _floats(model)] if cfg.lookahead else None
    rank, world = rank_and_world()

    saved = _resume(checkpoint, fingerprint)
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        result = FitResult([Epoch(**e) for e in saved["history"]], saved["best_epoch"], False)
        best_loss, best_state, start = saved["best_loss"], saved["best_state"], len(result.history) + 1
        slow = saved["slow"]
        for record in result.history:
            on_epoch(record)
        if rank == 0 and checkpoint is not None:
            log.warning("%s: resuming from %s after epoch %d of %d", checkpoint.stem, checkpoint, start - 1, cfg.epochs)

    epochs = tqdm(range(start, cfg.epochs + 1), "epochs", cfg.epochs, initial=start - 1, disable=quiet() or rank > 0)
    for epoch in epochs:
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=train.x.device)
        hits = torch.zeros((), dtype=torch.long, device=train.x.device)
        for step, batch in enumerate(
            batches(train, cfg.batch_size, generator, cfg.augment, cfg.crop_padding, cfg.flip),
            (epoch - 1) * per_epoch + 1,
        ):
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                out = forward(model, batch.x, kind).float()
            loss = train_loss_fn(out, batch.y)
            loss.backward()
            optimizer.step()
            if per_step:
                scheduler.step()
            if slow is not None:
                look_ahead(model, slow, step, cfg.epochs * per_epoch)
            loss_sum += loss.detach() * len(batch)
            if classify:
                hits += correct(out.detach(), batch.y, kind, threshold)
        if scheduler is not None and not per_step:
            scheduler.step()
        if world > 1:  # the whole split's loss and hits, from every process's share
            dist.all_reduce(loss_sum)
            dist.all_reduce(hits)

        val_out = outputs(model, val.x, kind)
        record = Epoch(
            epoch=epoch,
            train_loss=_check_finite(loss_sum.item() / len(train), "the training loss", epoch, lr),
            val_loss=_check_finite(loss_fn(val_out, val.y).item(), "the validation loss", epoch, lr),
            train_acc=hits.item() / len(train) if classify else None,
            val_acc=correct(val_out, val.y, kind, threshold).item() / len(val) if classify else None,
            lr=lr,
        )
        result.history.append(record)
        if record.val_loss < best_loss:
            best_loss, result.best_epoch = record.val_loss, epoch
            if cfg.patience:
                best_state = copy.deepcopy(model.state_dict())
        elif cfg.patience and epoch - result.best_epoch >= cfg.patience:
            result.stopped_early = True
        if checkpoint is not None and rank == 0 and not result.stopped_early:
            save_tensors(
                checkpoint,
                {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": [dataclasses.asdict(e) for e in result.history],
                    "best_epoch": result.best_epoch,
                    "best_loss": best_loss,
                    "best_state": best_state,
                    "slow": slow,
                },
            )
        on_epoch(record)
        if result.stopped_early:
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    return result
