"""Pydantic model of the ``synthgen bilevel train`` config (Synth4Seg-style bi-level Cut&Paste).

It reuses the segmentation config's ``sources``, ``data``, ``model`` and ``eval`` sections
(docs/seg.md) and adds:

- ``synthesis``: the defect sources (each cut from one or more labelled ``sources``, optionally
  through one augmentation family), the healthy ``backgrounds``, optional ``real`` defective
  images mixed in unchanged, and the paste geometry (patch size, pastes per image, feathering,
  scale, rotation);
- ``learn``: what the outer loop learns (paste-location heat map, source weights), its
  optimiser and the outer validation ``val`` sources;
- ``train``: the inner U-Net optimisation (steps, batch, lr, seed, device);
- ``runs``: which of the baselines to train (all share every other setting).

Relative paths resolve against the config file's folder. Reference: docs/bilevel.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synthgen.learn.common.config import DataConfig, EvalConfig, ModelConfig, SourceConfig, _Model, _resolve

RUNS = ("no_paste", "random", "learned_locations", "learned_weights", "both")
RUN_HELP = {
    "no_paste": "no synthesis: real defective images and plain healthy backgrounds only",
    "random": "paste at uniformly random locations, equal source weights",
    "learned_locations": "learned paste-location heat map, equal source weights",
    "learned_weights": "uniformly random locations, learned source weights",
    "both": "learned locations and learned source weights",
}


class DefectSourceConfig(_Model):
    """A defect source: patches cut around every defect of some labelled sources."""

    sources: list[str] = Field(min_length=1, description="names of labelled `sources` to cut defects from "
                                                         "(real defective images, a synthgen dataset, vqgen "
                                                         "samples in the folder format)")
    augment: Literal["none", "photometric", "geometric", "degradation"] = Field(
        default="none", description="augmentation family applied to each patch when drawn: photometric "
                                    "(brightness, contrast, gamma), geometric (flips, affine, elastic), "
                                    "degradation (blur, noise, downscale); one source per family makes the "
                                    "learned weights rank the families")
    max_patches: int | None = Field(default=None, ge=1, description="use at most this many patches (first "
                                                                    "in source order)")
    kinds: list[str] | None = Field(default=None, min_length=1, description="cut only the defects of these "
                                    "kinds (classes): a synthgen dataset's annotations of them, or the entries of "
                                    "a split of that class. One kind per source makes the learned weights rank "
                                    "the kinds, and `synthgen bilevel patch` turns them into render weights")


class SynthesisConfig(_Model):
    defects: dict[str, DefectSourceConfig] = Field(min_length=1, description="defect source name -> source")
    backgrounds: list[str] = Field(min_length=1, description="sources of healthy (defect-free) background "
                                                             "images")
    real: list[str] = Field(default_factory=list, description="sources of real defective images put in the "
                                                              "batch unchanged (and in the no_paste baseline)")
    real_fraction: float = Field(default=0.25, ge=0, le=1, description="share of each batch taken from `real` "
                                                                       "(the rest is synthesized)")
    healthy_fraction: float = Field(default=0.25, ge=0, le=1, description="share of each batch of healthy "
                                                                         "backgrounds left without pastes")
    patch: int = Field(default=48, ge=8, description="side of a defect patch in pixels (at the network input "
                                                     "size); larger defects are scaled down to fit")
    margin: int = Field(default=4, ge=0, description="context pixels around the defect box in a patch")
    min_pixels: int = Field(default=8, ge=1, description="defects smaller than this (pixels) are not cut")
    pastes: tuple[int, int] = Field(default=(1, 2), description="[min, max] pastes per synthesized image")
    feather: float = Field(default=1.5, ge=0, description="alpha feathering (Gaussian sigma in pixels) "
                                                          "outside the defect mask")
    scale: tuple[float, float] = Field(default=(0.8, 1.25), description="random patch scale range")
    rotate: float = Field(default=180.0, ge=0, le=180, description="max random patch rotation, degrees")
    flip_backgrounds: bool = Field(default=True, description="random flips of backgrounds and real images")

    @field_validator("pastes", "scale")
    @classmethod
    def _range(cls, v):
        if v[0] > v[1]:
            raise ValueError(f"min must not exceed max, got {list(v)}")
        if v[0] <= 0:
            raise ValueError(f"values must be positive, got {list(v)}")
        return v


class LearnConfig(_Model):
    val: list[str] = Field(min_length=1, description="sources of the outer (real) validation set")
    val_batch: int = Field(default=8, ge=1, description="validation images per outer step")
    outer_every: int = Field(default=1, ge=1, description="one outer (hypergradient) step every this many "
                                                          "inner steps")
    grid: int = Field(default=16, ge=2, le=128, description="side of the paste-location heat map (cells); a "
                                                            "location is a cell, then a uniform point in it")
    heatmap_width: int = Field(default=16, ge=4, description="channels of the heat-map network")
    explore: float = Field(default=0.05, ge=0, lt=1, description="share of uniform probability mixed into the "
                                                                "heat map (every cell stays possible)")
    heatmap_lr: float = Field(default=0.005, gt=0, description="Adam learning rate of the heat-map network")
    weights_lr: float = Field(default=0.05, gt=0, description="Adam learning rate of the source logits")
    entropy: float = Field(default=0.01, ge=0, description="heat-map entropy bonus (keeps exploring)")
    fd_step: float = Field(default=0.01, gt=0, description="finite-difference step of the hypergradient, "
                                                           "relative to the weight norm")
    warmup: int = Field(default=0, ge=0, description="inner steps before the outer updates start")
    location_samples: int = Field(default=1, ge=1, le=8, description="pasted images per background in a "
                                  "batch: K copies of one background with the same patches at K sampled "
                                  "locations, so the heat map's baseline is the group mean (only the location "
                                  "differs); applied to every paste run so the baselines see the same batches")


class BilevelTrainConfig(_Model):
    steps: int = Field(default=600, ge=1, description="inner (U-Net) optimisation steps")
    batch_size: int = Field(default=8, ge=2, description="images per inner step")
    lr: float = Field(default=2e-3, gt=0, description="Adam learning rate of the U-Net")
    weight_decay: float = Field(default=1e-4, ge=0, description="AdamW weight decay")
    dice_weight: float = Field(default=1.0, ge=0, description="weight of the per-image soft Dice loss")
    pos_weight: float = Field(default=3.0, gt=0, description="BCE weight of defect pixels")
    seed: int = Field(default=0, ge=0, description="seed of weights, sampling and pasting")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto = cuda if available")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads")
    log_every: int = Field(default=25, ge=1, description="history entry every this many steps")
    cosine: bool = Field(default=False, description="cosine decay of the U-Net learning rate over the steps")
    eval_every: int | None = Field(default=None, ge=1, description="evaluate on the learn.val sources every this "
                                   "many steps (network resolution) for the learning curves; none: only at the end")


class BilevelConfig(_Model):
    """``synthgen bilevel train`` config."""

    out: str = Field(default="out/bilevel", description="output folder")
    sources: dict[str, SourceConfig] = Field(description="named datasets (as in the seg config)")
    data: DataConfig = Field(default_factory=DataConfig, description="network input size and channels; binary")
    model: ModelConfig = Field(default_factory=ModelConfig, description="U-Net shape")
    synthesis: SynthesisConfig = Field(description="defect sources, backgrounds and paste geometry")
    learn: LearnConfig = Field(description="outer problem: validation set and learned parameters")
    train: BilevelTrainConfig = Field(default_factory=BilevelTrainConfig, description="inner optimisation")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="test sets and metric settings")
    runs: list[Literal["no_paste", "random", "learned_locations", "learned_weights", "both"]] = Field(
        default_factory=lambda: list(RUNS), min_length=1,
        description="baselines to train: " + "; ".join(f"{k}: {v}" for k, v in RUN_HELP.items()))
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="each run is trained once per seed (added to train.seed)")

    @field_validator("out")
    @classmethod
    def _out(cls, v, info: ValidationInfo):
        return _resolve(v, info)

    @model_validator(mode="after")
    def _no_decision_head(self):
        if self.model.decision_head:
            raise ValueError("model.decision_head: the bi-level trainer does not train a decision head; its runs "
                             "decide with the map-based rules of eval.decision")
        return self

    @model_validator(mode="after")
    def _refs(self):
        def check(names: list[str], where: str):
            for i, n in enumerate(names):
                if n not in self.sources:
                    raise ValueError(f"{where}[{i}]: unknown source '{n}' (defined: {', '.join(self.sources)})")

        if not self.data.binary:
            raise ValueError("data.classes: bilevel training is binary (defect vs background); give one class")
        for name, d in self.synthesis.defects.items():
            check(d.sources, f"synthesis.defects.{name}.sources")
        check(self.synthesis.backgrounds, "synthesis.backgrounds")
        check(self.synthesis.real, "synthesis.real")
        check(self.learn.val, "learn.val")
        for name, srcs in self.eval.test_sets.items():
            check(srcs, f"eval.test_sets.{name}")
        if "no_paste" in self.runs and not self.synthesis.real:
            raise ValueError("runs: no_paste needs synthesis.real (it trains on real defective images only)")
        if self.synthesis.real_fraction > 0 and not self.synthesis.real:
            raise ValueError("synthesis.real_fraction: > 0 but synthesis.real lists no source")
        if self.synthesis.patch > min(self.data.size):
            raise ValueError(f"synthesis.patch: {self.synthesis.patch} px is larger than data.size "
                             f"{list(self.data.size)}")
        if self.data.policy != "resize":
            raise ValueError("data.policy: bilevel training needs 'resize' (fixed-size backgrounds)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: values must be distinct")
        return self


def bilevel_schema() -> dict:
    return BilevelConfig.model_json_schema()
