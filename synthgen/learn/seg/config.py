"""Pydantic models of the segmentation configs (``synthgen seg train|eval|experiment``).

One YAML file describes the named data ``sources``, the ``data`` policy (size, channels,
classes), the ``model``, ``train`` (mix of sources with ratios, optimisation), ``augment`` and
``eval`` (named test sets); the shared sections live in ``synthgen.learn.common.config``. An
experiment config adds ``mixes``: several training mixes, each trained and evaluated on every
test set. Relative paths resolve against the config file's folder. Print the full schema with
``synthgen seg schema``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synthgen.learn.common.config import (
    AugmentConfig,
    DataConfig,
    EvalConfig,
    MixItem,
    ModelConfig,
    SourceConfig,
    _Model,
    _resolve,
)


class PretrainConfig(_Model):
    """The first phase of a pretrain -> finetune schedule: its own mix, epochs and learning rate."""

    mix: list[MixItem] = Field(min_length=1, description="sources of the first phase (for example the rendered "
                                                         "twin and healthy photos), with ratios")
    epochs: int = Field(default=20, ge=1, description="epochs of the first phase")
    lr: float | None = Field(default=None, gt=0, description="its AdamW learning rate (default: train.lr)")
    samples_per_epoch: int | None = Field(default=None, ge=1, description="images per epoch of the first phase "
                                                                          "(default: the size of its mix)")


class TrainConfig(_Model):
    mix: list[MixItem] = Field(default_factory=list, description="training sources with ratios")
    val: list[str] = Field(default_factory=list, description="sources used for validation after each epoch")
    epochs: int = Field(default=20, ge=1, description="number of epochs")
    samples_per_epoch: int | None = Field(default=None, ge=1, description="images drawn per epoch (default: "
                                                                          "the total size of the mix sources)")
    batch_size: int = Field(default=8, ge=1, description="images per optimisation step")
    lr: float = Field(default=1e-3, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(default=1e-4, ge=0, description="AdamW weight decay")
    cosine: bool = Field(default=True, description="cosine learning-rate decay to 0 over the epochs")
    dice_weight: float = Field(default=1.0, ge=0, description="weight of the soft Dice loss added to BCE/CE")
    pos_weight: float = Field(default=1.0, gt=0, description="binary: BCE weight of defect pixels")
    decision_weight: float = Field(default=1.0, ge=0, description="weight of the decision head's image-level BCE "
                                                                  "(model.decision_head; a crop with a defect pixel "
                                                                  "is NG, one without is OK)")
    head_epochs: int = Field(default=0, ge=0, description="model.decision_head: epochs of the head's second stage "
                                                         "after training, on whole training images with the U-Net "
                                                         "frozen (each image NG or OK, the classes weighed equally; "
                                                         "the epoch with the best validation image AP is kept); "
                                                         "0 = none")
    head_lr: float = Field(default=1e-3, gt=0, description="AdamW learning rate of the head's second stage")
    pretrain: PretrainConfig | None = Field(
        default=None, description="pretrain -> finetune: train this phase first into <out>/pretrain (its own "
        "checkpoints and curve; train.val picks its best.pt), then train.mix starts from those weights with a "
        "fresh optimiser; unset = one phase from random weights")
    seed: int = Field(default=0, ge=0, description="seed of weights, sampling and augmentation")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto = cuda if available")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: torch's choice)")
    workers: int | None = Field(default=None, ge=0, description="DataLoader worker processes that decode and "
                                                                "augment (default: up to 8 on CUDA, 0 on the CPU)")
    amp: Literal["auto", "bf16", "fp16", "off"] = Field(
        default="auto", description="mixed precision (autocast). CUDA: auto = bf16 where supported, else fp16 "
                                    "with a gradient scaler. CPU: only bf16 turns it on (faster steps, figures "
                                    "differ a little from fp32); auto, fp16 and off leave it in fp32")
    select_metric: Literal["iou_dataset", "miou_custom", "map", "dice_dataset"] = Field(
        default="iou_dataset", description="validation metric that picks checkpoints/best.pt")


class SegConfig(_Model):
    """``synthgen seg train`` / ``seg eval`` config."""

    out: str = Field(default="out/seg", description="output folder (checkpoints, curves, metrics)")
    sources: dict[str, SourceConfig] = Field(description="named datasets")
    data: DataConfig = Field(default_factory=DataConfig, description="image size policy, channels, classes")
    model: ModelConfig = Field(default_factory=ModelConfig, description="U-Net shape")
    train: TrainConfig = Field(default_factory=TrainConfig, description="mix and optimisation")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="training augmentations")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="test sets and metric settings")

    _require_mix = True

    @field_validator("out")
    @classmethod
    def _out(cls, v, info: ValidationInfo):
        return _resolve(v, info)

    def _check_refs(self, names: list[str], where: str) -> None:
        for i, n in enumerate(names):
            if n not in self.sources:
                raise ValueError(f"{where}[{i}]: unknown source '{n}' (defined: {', '.join(self.sources)})")

    @model_validator(mode="after")
    def _refs(self):
        if self._require_mix and not self.train.mix:
            raise ValueError("train.mix: list at least one training source")
        for i, m in enumerate(self.train.mix):
            if m.source not in self.sources:
                raise ValueError(f"train.mix[{i}].source: unknown source '{m.source}' "
                                 f"(defined: {', '.join(self.sources)})")
        if self.train.pretrain is not None:
            self._check_refs([m.source for m in self.train.pretrain.mix], "train.pretrain.mix")
            if not self.train.val:
                raise ValueError("train.pretrain: a schedule needs train.val (real validation images pick the "
                                 "first phase's checkpoint)")
        self._check_refs(self.train.val, "train.val")
        for name, srcs in self.eval.test_sets.items():
            self._check_refs(srcs, f"eval.test_sets.{name}")
        return self


class ScheduledMix(_Model):
    """An experiment row trained in two phases: ``pretrain`` first, then ``mix`` from its weights."""

    mix: list[MixItem] = Field(min_length=1, description="the second (finetune) phase's sources, with ratios")
    pretrain: PretrainConfig = Field(description="the first phase")
    epochs: int | None = Field(default=None, ge=1, description="epochs of the second phase (default: "
                                                               "train.epochs; pretrain.epochs + epochs = "
                                                               "train.epochs compares at equal training length)")


def mix_items(spec: list[MixItem] | ScheduledMix) -> list[MixItem]:
    """The sources of an experiment row's (last phase's) mix."""
    return spec.mix if isinstance(spec, ScheduledMix) else spec


def all_sources(spec: list[MixItem] | ScheduledMix) -> list[str]:
    """Every source an experiment row trains on, in both phases."""
    pre = spec.pretrain.mix if isinstance(spec, ScheduledMix) else []
    return list(dict.fromkeys(m.source for m in [*pre, *mix_items(spec)]))


class ExperimentConfig(SegConfig):
    """``synthgen seg experiment`` config: a SegConfig plus several training mixes."""

    mixes: dict[str, list[MixItem] | ScheduledMix] = Field(
        min_length=1, description="training-mix name -> sources with ratios (each may change over the epochs "
        "with ratio_end), or {mix, pretrain} for a pretrain -> finetune row; each is trained then evaluated on "
        "every test set")
    seeds: list[int] = Field(default_factory=list, description="train every mix with each of these seeds and "
                                                              "report mean ± std (default: train.seed only)")
    _require_mix = False

    @model_validator(mode="after")
    def _mix_refs(self):
        for name, spec in self.mixes.items():
            where = f"mixes.{name}" + (".mix" if isinstance(spec, ScheduledMix) else "")
            for i, m in enumerate(mix_items(spec)):
                if m.source not in self.sources:
                    raise ValueError(f"{where}[{i}].source: unknown source '{m.source}' "
                                     f"(defined: {', '.join(self.sources)})")
            if isinstance(spec, ScheduledMix):
                self._check_refs([m.source for m in spec.pretrain.mix], f"mixes.{name}.pretrain.mix")
                if not self.train.val:
                    raise ValueError(f"mixes.{name}.pretrain: a schedule needs train.val (real validation images "
                                     f"pick the first phase's checkpoint)")
        if not self.eval.test_sets:
            raise ValueError("eval.test_sets: an experiment needs at least one test set")
        return self


def seg_schema() -> dict:
    return {"seg": SegConfig.model_json_schema(), "experiment": ExperimentConfig.model_json_schema()}
