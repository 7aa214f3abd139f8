"""The base of every config section, render and learn alike: the frozen, strict pydantic model;
with the range checks, config-relative paths and colour ranges of the render sections."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from synthgen.config.loading import resolve_path

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Color = Annotated[tuple[float, float, float], Field(description="linear RGB, each 0..1")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(v: tuple, lo: float | None = None, hi: float | None = None, name: str = "range"):
    if v[0] > v[1]:
        raise ValueError(f"{name} min {v[0]} is greater than max {v[1]}")
    for x in v:
        if lo is not None and x < lo:
            raise ValueError(f"{name} values must be >= {lo}, got {x}")
        if hi is not None and x > hi:
            raise ValueError(f"{name} values must be <= {hi}, got {x}")
    return v


def _resolve_path(v: str | None, info: ValidationInfo, must_exist: bool = True) -> str | None:
    """Resolve a path relative to the config file's folder and check that it exists."""
    return resolve_path(v, info, must_exist)


class ColorRange(_Model):
    """A uniform range of linear RGB colours (each channel drawn independently, or by lerp)."""

    min: Color = Field(description="lowest colour, linear RGB 0..1")
    max: Color = Field(description="highest colour, linear RGB 0..1")
    correlated: bool = Field(
        True, description="true: one random t in 0..1 lerps min->max (keeps hue); false: per channel"
    )

    @model_validator(mode="after")
    def _check(self):
        for a, b in zip(self.min, self.max):
            if not (0.0 <= a <= 1.0 and 0.0 <= b <= 1.0):
                raise ValueError("colour channels must lie in 0..1")
            if a > b:
                raise ValueError(f"colour min {self.min} exceeds max {self.max} in a channel")
        return self
