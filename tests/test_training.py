import math

import pytest
import torch

from reprolab.core.errors import UserError
from reprolab.core.params import TrainParams
from reprolab.core.runtime import pick_device, seed_everything
from reprolab.learning.inference import Split, decide, outputs
from reprolab.learning.loop import batches, fit, make_optimizer, make_scheduler, steps_per_epoch
from reprolab.learning.models import build

DEFAULTS = dict(
    epochs=30, batch_size=16, lr=0.1, optimizer="sgd", momentum=0.9, weight_decay=0.0,
    scheduler="none", step_size=10, gamma=0.5, patience=0, threads=1, augment=False, processes=1,
)  # fmt: skip


def cfg(**changes) -> TrainParams:
    return TrainParams(**{**DEFAULTS, **changes})


def blobs(n: int = 120, seed: int = 0) -> Split:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    return Split(centres[y] + torch.randn(n, 2, generator=g), y)


def model(n_out: int = 3, **options) -> torch.nn.Module:
    return build(
        {"name": "mlp", "hidden": [8], "activation": "relu", "dropout": 0.0, "n_in": 2, "n_out": n_out, **options}
    )


@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_every_kind_learns(kind):
    data = blobs()
    if kind == "binary":
        data = Split(data.x, (data.y == 0).float())
    if kind == "regression":
        data = Split(data.x, data.x[:, 0] * 2 - data.x[:, 1])
    generator = seed_everything(0)
    net = model(3 if kind == "multiclass" else 1)
    result = fit(net, kind, data, blobs(60, seed=1) if kind == "multiclass" else data, cfg(lr=0.02), generator)
    assert result.history[-1].train_loss < result.history[0].train_loss / 3
    if kind != "regression":
        assert result.history[-1].train_acc > 0.95
    else:
        assert result.history[-1].train_acc is None


def test_the_same_seed_gives_the_same_run():
    runs = []
    for _ in range(2):
        generator = seed_everything(7)
        runs.append(fit(model(), "multiclass", blobs(), blobs(60, 1), cfg(epochs=5), generator).history)
    assert runs[0] == runs[1]


def test_lookahead_pulls_the_weights_back_to_a_slow_average_and_ends_on_it():
    from reprolab.learning.loop import look_ahead

    net = model()
    slow = [t.clone() for t in net.state_dict().values()]
    start = [t.clone() for t in slow]
    with torch.no_grad():
        for t in net.parameters():
            t.add_(1.0)
    look_ahead(net, slow, 4, 100)  # not a fifth step: nothing moves
    assert all(torch.equal(s, t) for s, t in zip(slow, start, strict=True))
    look_ahead(net, slow, 50, 100)  # keeps 0.95**5 * 0.5**3 of the slow copy, and restarts from it
    keep = 0.95**5 * 0.5**3
    for s, t, now in zip(slow, start, net.state_dict().values(), strict=True):
        assert torch.allclose(s, keep * t + (1 - keep) * (t + 1)) and torch.equal(now, s)
    generator = seed_everything(7)
    trained = model()
    result = fit(trained, "multiclass", blobs(), blobs(60, 1), cfg(epochs=5, lookahead=True), generator)
    assert result.history[-1].train_acc > 0.9  # it still learns


def test_lookahead_on_a_run_shorter_than_its_window_keeps_what_it_trained():
    """Three full-batch steps, under the five of a lookahead window: the slow copy never moved,
    so the run must not end on it (the initial weights)."""
    generator = seed_everything(7)
    net = model()
    start = [t.clone() for t in net.state_dict().values()]
    fit(net, "multiclass", blobs(), blobs(60, 1), cfg(epochs=3, batch_size=1000, lookahead=True), generator)
    assert not all(torch.equal(s, t) for s, t in zip(start, net.state_dict().values(), strict=True))


def test_divergence_is_a_clear_error():
    generator = seed_everything(0)
    data = Split(blobs().x * 1e3, blobs().x[:, 0] * 1e3)
    with pytest.raises(UserError, match=r"training diverged: .* is (nan|inf) at epoch \d+ .*train\.lr"):
        fit(model(1), "regression", data, data, cfg(lr=10.0, epochs=50), generator)


def test_early_stopping_restores_the_best_epoch():
    generator = seed_everything(0)
    net = model()
    # validation labels that disagree with training: validation loss rises as training goes on
    train, val = blobs(), blobs(60, 1)
    val = Split(val.x, (val.y + 1) % 3)
    result = fit(net, "multiclass", train, val, cfg(epochs=100, patience=3), generator)
    assert result.stopped_early and len(result.history) == result.best_epoch + 3
    best = result.history[result.best_epoch - 1].val_loss
    loss = torch.nn.functional.cross_entropy(outputs(net, val.x, "multiclass"), val.y).item()
    assert loss == pytest.approx(best, rel=1e-6)


def test_batches_cover_every_row_once_and_full_batch_is_whole():
    data = Split(torch.arange(10.0).unsqueeze(1), torch.arange(10))
    seen = torch.cat([b.y for b in batches(data, 3, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert [len(b) for b in batches(data, 3, torch.Generator())] == [3, 3, 3, 1]
    assert [b.y.tolist() for b in batches(data, 0, torch.Generator())] == [list(range(10))]


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("scheduler", ["none", "cosine", "step"])
def test_optimizers_and_schedulers(name, scheduler):
    net = model()
    optimizer = make_optimizer(net.parameters(), cfg(optimizer=name, scheduler=scheduler, weight_decay=0.01))
    assert type(optimizer).__name__.lower().startswith(name if name not in ("momentum", "nesterov") else "sgd")
    if name in ("momentum", "nesterov"):
        assert optimizer.param_groups[0]["momentum"] == 0.9
        assert optimizer.param_groups[0]["nesterov"] == (name == "nesterov")
    sched = make_scheduler(optimizer, cfg(scheduler=scheduler, epochs=4, step_size=2), steps_per_epoch=3)
    for _ in range(4):
        optimizer.step()
        if sched:
            sched.step()
    lr = optimizer.param_groups[0]["lr"]
    expected = {"none": 0.1, "cosine": 0.0, "step": 0.1 * 0.5**2}[scheduler]
    assert math.isclose(lr, expected, abs_tol=1e-9)


def test_onecycle_rises_to_lr_then_decays_every_batch():
    net = model()
    settings = cfg(scheduler="onecycle", epochs=2, warmup=0.25, lr=0.1)
    optimizer = make_optimizer(net.parameters(), settings)
    sched = make_scheduler(optimizer, settings, steps_per_epoch=steps_per_epoch(40, 10))  # 4 a epoch, 8 in all
    rates = []
    for _ in range(8):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        sched.step()
    top = rates.index(max(rates))
    assert rates[0] == pytest.approx(0.1 / 25) and max(rates) == pytest.approx(0.1) and 0 < top <= 2
    assert rates[: top + 1] == sorted(rates[: top + 1]) and rates[top:] == sorted(rates[top:], reverse=True)
    assert rates[-1] < 0.02


def test_label_smoothing_trains_on_softened_targets_and_reports_the_plain_loss():
    data = blobs()
    plain, smoothed = model(3), model(3)
    smoothed.load_state_dict(plain.state_dict())
    a = fit(plain, "multiclass", data, data, cfg(epochs=3), torch.Generator().manual_seed(0))
    b = fit(smoothed, "multiclass", data, data, cfg(epochs=3, label_smoothing=0.2), torch.Generator().manual_seed(0))
    assert a.history[0].val_loss != b.history[0].val_loss  # the training differed ...
    # ... and the first epoch's training loss is the smoothed one: higher for the same start
    assert b.history[0].train_loss > a.history[0].train_loss
    loss = torch.nn.functional.cross_entropy(outputs(smoothed, data.x, "multiclass"), data.y).item()
    assert b.history[-1].val_loss == pytest.approx(loss, rel=1e-5)  # validation: the plain loss


def test_predictions_by_kind():
    out = torch.tensor([-1.0, 2.0])
    assert decide(out, "binary")[0].tolist() == [0, 1]
    assert decide(torch.tensor([[0.1, 3.0], [2.0, 0.0]]), "multiclass")[0].tolist() == [1, 0]
    assert decide(out, "regression")[0] is out


def test_a_binary_threshold_moves_the_decision_not_the_probability():
    out = torch.tensor([-3.0, -1.0, 0.0, 1.0])  # probabilities 0.047, 0.269, 0.5, 0.731
    assert decide(out, "binary", 0.2)[0].tolist() == [0, 1, 1, 1]
    assert decide(out, "binary", 0.8)[0].tolist() == [0, 0, 0, 0]
    assert decide(out, "binary", 0.5)[0].tolist() == [0, 0, 0, 1]  # above, not at, the threshold
    assert torch.equal(decide(out, "binary", 0.2)[1], torch.sigmoid(out))


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="device: cuda is not available"):
            pick_device("cuda")
