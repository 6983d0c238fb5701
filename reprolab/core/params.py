"""The schema of params.yaml, checked at the start of every stage before any work.

An unknown key (a typo, or one added with `dvc exp run -S +key=...`), a wrong
type or an out-of-range value ends in one line naming the key and the reason.
The `plan` stage checks the whole file; a task's own stages check the global
keys and that task's block (so that they load no other task's module).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from reprolab.core.errors import UserError

PARAMS_FILE = "params.yaml"


class StrictModel(BaseModel):
    """No unknown keys, no silent type coercion (an int is still a valid float)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
Seed = Annotated[int, Field(ge=0, lt=2**32, description="numpy's seeds are 32-bit")]
MAX_EPOCHS = 10_000  # ten times the most a default takes (blobs' 1,000 full-batch steps)


class TrainParams(StrictModel):
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
    batch_size: Annotated[
        int, Field(ge=0, description="0, or any size at least the training rows: the whole split (full batch)")
    ]
    lr: Annotated[float, Field(gt=0.0)]
    optimizer: Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    momentum: Fraction
    weight_decay: Annotated[float, Field(ge=0.0)]
    scheduler: Literal["none", "cosine", "step", "onecycle"]
    step_size: Annotated[int, Field(ge=1, description="epochs between decays (step scheduler)")]
    gamma: Annotated[float, Field(gt=0.0, le=1.0, description="decay factor (step scheduler)")]
    warmup: Fraction = Field(0.25, description="onecycle: the share of the steps spent rising to lr")
    label_smoothing: Fraction = Field(0.0, description="multiclass: the target's share spread over every class")
    patience: Annotated[int, Field(ge=0, description="early stopping on validation loss; 0 is off")]
    threads: Annotated[int, Field(ge=0, le=1024, description="CPU threads for torch; 0: all cores (native only)")]
    augment: bool = Field(description="images: a random crop of the padded image, and a horizontal flip")
    crop_padding: Annotated[int, Field(ge=0, le=16, description="augment: pixels of zero padding to crop from")] = 4
    flip: bool = Field(True, description="augment: flip half the images left to right (not for digits)")
    processes: Annotated[int, Field(ge=1, le=1024, description="data-parallel processes (torchrun, DDP)")] = 1
    lookahead: bool = Field(False, description="every 5 steps, the weights pulled back to a slow average (airbench)")


# The same keys, each optional: a task's `train:` block overrides only what it names.
TrainOverrides = create_model(  # type: ignore[call-overload]
    "TrainOverrides",
    __base__=StrictModel,
    **{
        name: (Optional[Annotated[field.annotation, *field.metadata]], None)  # noqa: UP045
        if field.metadata
        else (Optional[field.annotation], None)  # noqa: UP045
        for name, field in TrainParams.model_fields.items()
    },
)


class SplitParams(StrictModel):
    val: Annotated[float, Field(gt=0.0, lt=1.0)]
    test: Fraction
    random_state: Seed
    stratify: bool = False
    holdout: list[str] = Field(
        default_factory=list,
        description="groups (the task's holdout_field, e.g. nslkdd's attack names) whose rows all go to validation",
    )
    group: str = Field("none", description="a field no two parts share (news: story); none: row by row")

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> SplitParams:
        if self.val + self.test >= 1.0:
            raise ValueError("val + test must be below 1")
        return self


class FeatureParams(StrictModel):
    standardize: bool = True
    drop: list[str] = Field(default_factory=list, description="feature columns left out")
    log: list[str] = Field(default_factory=list, description="tables: numeric columns x read as sign(x) log(1 + |x|)")


class Pretrained(StrictModel):
    """Vectors in word2vec format (e.g. GoogleNews-vectors-negative300.bin.gz) from a local
    path, pinned by their sha256. Fetch a published file with `dvc import-url URL data/pretrained/`."""

    path: str | None = None
    sha256: str | None = None
    binary: bool = True
    limit: Annotated[int, Field(ge=1)] | None = Field(None, description="read only the first N vectors")

    @model_validator(mode="after")
    def _pinned(self) -> Pretrained:
        if self.path and not self.sha256:
            raise ValueError("a path needs its sha256")
        return self


class TextFeatures(FeatureParams):
    """A text task's features (reprolab/data/features/text.py): word2vec vectors (or pretrained ones)
    for the slp, mlp and bag models, hashed word and character n-grams for fasttext."""

    lowercase: bool = True
    vector_size: Annotated[int, Field(ge=1)] = 300
    window: Annotated[int, Field(ge=1)] = 5
    min_count: Annotated[int, Field(ge=1)] = 1
    epochs: Annotated[int, Field(ge=1)] = 5
    sg: bool = Field(False, description="skip-gram (true) or CBOW (false)")
    pretrained: Pretrained = Field(default_factory=Pretrained)
    # fasttext's hashed n-grams
    ngrams: Annotated[int, Field(ge=1, le=5, description="word n-grams of order 1..ngrams")] = 2
    chars: list[Annotated[int, Field(ge=1, le=10)]] = Field(
        default_factory=list, description="[min, max] length of character n-grams of each word; [] for none"
    )
    buckets: Annotated[int, Field(ge=1, le=2**24, description="hash buckets (embedding rows)")] = 2**18

    @model_validator(mode="after")
    def _char_range(self) -> TextFeatures:
        if self.chars and (len(self.chars) != 2 or self.chars[0] > self.chars[1]):
            raise ValueError("chars: [min, max] with min <= max, or []")
        return self


IMAGE_TRAIN_KEYS = ("augment", "crop_padding", "flip")  # a task's `train:` keys for image data only


class ModelParams(StrictModel):
    """Every key a model's block may hold. Which model takes which, and what data it needs, is
    its registry entry's (reprolab/learning/models/): a task's block may hold the keys of every
    model its data allows, so that `-S tasks.T.model.name=...` switches between them; `tta`
    (image models) and `threshold` (binary tasks) are the decision's, not a builder's."""

    name: str
    hidden: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list, description="dense layers (mlp, cnn)")
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    dropout: Fraction = 0.0
    batch_norm: bool = Field(False, description="after each convolution (cnn) or dense hidden layer (mlp)")
    # cnn and airbench: a block per entry of `channels` (cnn: each of `convs_per_block` 3x3 convolutions)
    channels: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    convs_per_block: Annotated[int, Field(ge=1)] = 1
    dim: Annotated[int, Field(ge=1, description="fasttext: the width of the n-gram embeddings")] = 64
    tta: bool = Field(False, description="images: predict with the mean of the image's and its mirror's logits")
    threshold: Annotated[float, Field(gt=0.0, lt=1.0, description="binary: class 1 above this probability")] = 0.5


class NoSource(StrictModel):
    """For tasks whose source is fixed by the task module (URL and checksum)."""


def task_params_model(name: str, task: Any) -> type[StrictModel]:
    """A task block's schema; a task module may extend the source, split and features parts,
    and give the parts a block may leave out (`task.defaults`: a task of your own)."""
    parts = {
        "source": task.source_params,
        "split": task.split_params,
        "features": task.features_params,
        "model": ModelParams,
        "train": TrainOverrides,
    }
    return create_model(  # type: ignore[call-overload]
        f"{name}Params",
        __base__=StrictModel,
        **{
            part: (schema, schema.model_validate(task.defaults[part]) if part in task.defaults else ...)
            for part, schema in parts.items()
        },
    )


class Params(StrictModel):
    seed: Seed
    device: Literal["auto", "cpu", "cuda", "mps"]
    # portable: the same bits on any x86-64 CPU with AVX2; native: this CPU's fastest kernels
    reproducible: Literal["portable", "native"]  # reprolab/core/kernels.py
    train: TrainParams
    tasks: Any  # replaced below by a model with one field per registered task

    def task(self, name: str) -> Any:
        return getattr(self.tasks, name)

    def task_names(self) -> tuple[str, ...]:
        """The tasks whose blocks were checked, in params.yaml's order."""
        return tuple(type(self.tasks).model_fields)

    def train_for(self, name: str) -> TrainParams:
        """The global train defaults with the task's own `train:` keys on top."""
        overrides = self.task(name).train.model_dump(exclude_none=True)
        return TrainParams(**{**self.train.model_dump(), **overrides})


def _schema(tasks: Mapping[str, Any], complete: bool) -> type[Params]:
    """tasks: {name: Task}, whose modules declare their own source, split and features schema.
    Complete: every task block is there and no other; else other blocks are left unchecked."""
    config = ConfigDict(extra="forbid" if complete else "ignore", strict=True, frozen=True, allow_inf_nan=False)
    fields = {name: (task_params_model(name, task), ...) for name, task in tasks.items()}
    checked = create_model("Tasks", __config__=config, **fields)  # type: ignore[call-overload]
    return create_model("CheckedParams", __base__=Params, tasks=(checked, ...))


def describe_error(error: Any) -> str:  # pydantic's ErrorDetails
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: missing"
    reason = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error",) and not isinstance(error["input"], dict):
        reason += f" (got {error['input']!r})"
    return f"{key}: {reason}" if key else reason


def _check_model(model: ModelParams, name: str, task: Any, models: Mapping[str, Any], source: str) -> None:
    """The model block against the registry's entries ({name: Entry})."""
    if model.name not in models:
        raise UserError(
            f"{source}: tasks.{name}.model.name: no model {model.name!r}; the models are: {', '.join(models)}"
        )
    needs = models[model.name].inputs
    if needs is not None and needs != task.modality:
        raise UserError(
            f"{source}: tasks.{name}.model.name: {model.name} needs {needs} data, {name} has {task.modality}"
        )
    takes = {"name", "threshold", *(["tta"] if task.modality == "image" else [])}
    takes |= {key for entry in models.values() if entry.inputs in (None, task.modality) for key in entry.keys}
    unread = sorted(model.model_fields_set - takes)
    if unread:
        raise UserError(f"{source}: tasks.{name}.model.{unread[0]}: no model of {task.modality} data takes it ({name})")
    if "channels" in models[model.name].keys and not model.channels:
        raise UserError(f"{source}: tasks.{name}.model.channels: {model.name} needs at least one block")


def check_task(params: Params, name: str, task: Any, models: Mapping[str, Any] | None, source: str) -> None:
    """A task's block against what the task is: its data's modality and, once known, its kind
    (a task of your own learns it from its rows: the stages after split check it again)."""
    block = params.task(name)
    if task.predefined_test and block.split.test > 0:
        raise UserError(f"{source}: tasks.{name}.split.test: must be 0, the task has its own test file")
    if models is not None:
        _check_model(block.model, name, task, models, source)
    if block.split.holdout and task.holdout_field is None:
        raise UserError(f"{source}: tasks.{name}.split.holdout: {name} has no groups to hold out")
    if task.kind is not None:
        if block.model.threshold != 0.5 and task.kind != "binary":
            raise UserError(f"{source}: tasks.{name}.model.threshold: for binary tasks only ({name} is {task.kind})")
        if task.kind != "multiclass" and params.train_for(name).label_smoothing:
            raise UserError(
                f"{source}: tasks.{name}.train.label_smoothing: for multiclass tasks only ({name} is {task.kind})"
            )
    if params.reproducible == "portable":
        train = params.train_for(name)
        if train.threads == 0:
            raise UserError(
                f"{source}: tasks.{name}.train.threads: 0 (all cores) differs from machine to machine; "
                "reproducible: portable needs a fixed count"
            )
        if train.optimizer == "rmsprop":
            raise UserError(
                f"{source}: tasks.{name}.train.optimizer: rmsprop's square root (MKL's vector math) "
                "differs from CPU to CPU; reproducible: portable takes adam, adagrad or the sgd family"
            )
    if task.modality != "image":
        own = block.train.model_fields_set  # the global default augment: false stands
        keys = [key for key in IMAGE_TRAIN_KEYS if key in own or (key == "augment" and params.train.augment)]
        if keys:
            raise UserError(f"{source}: tasks.{name}.train.{keys[0]}: for images only, {name} has {task.modality} data")


def validate(
    data: Any,
    tasks: Mapping[str, Any],
    source: str = PARAMS_FILE,
    complete: bool = False,
    models: Mapping[str, Any] | None = None,
) -> Params:
    """models: the registry's entries, where the model blocks are to be checked against them
    (the plan stage, train, evaluate, predict); the other stages leave the model be, so
    that they depend on no model's code."""
    try:
        params = _schema(tasks, complete).model_validate(data)
    except ValidationError as err:
        raise UserError(f"{source}: " + "; ".join(describe_error(e) for e in err.errors())) from None
    if params.reproducible == "portable" and params.device not in ("auto", "cpu"):
        raise UserError(
            f"{source}: device: {params.device} computes with that device's own kernels; "
            f"reproducible: portable trains on the CPU (reproducible: native uses the {params.device})"
        )
    for name, task in tasks.items():
        check_task(params, name, task, models, source)
    return params


def read_yaml(path: str | Path = PARAMS_FILE) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None


def load(
    tasks: Mapping[str, Any],
    path: str | Path = PARAMS_FILE,
    complete: bool = False,
    models: Mapping[str, Any] | None = None,
) -> Params:
    return validate(read_yaml(path), tasks, str(path), complete, models)
