"""A material's texture taken from photos of healthy surfaces (``materials[].photo_texture``).

The photo's own lighting is removed (each pixel divided by a wide blur of itself), leaving the
surface's relative reflectance: grinding streaks, grain, stains. That multiplies the material's
base colour, mapped flat onto the part at a physical scale, so the renderer lights it again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synthgen.config.base import Vec2, _check_range, _Model, _resolve_path
from synthgen.textures.photo import list_photos


class PhotoTextureConfig(_Model):
    """Photos of healthy parts of the same surface, one drawn per placed part."""

    images: str = Field(description="a folder of photos, or a split json whose lists hold {image: ...} entries "
                                    "(relative to the config file)")
    keys: list[str] = Field([], description="for a split json: the lists to use (for example healthy.train); "
                                            "empty = every list")
    px_per_mm: Vec2 = Field(description="photo pixels per millimetre of the part's surface (range): sets the "
                                        "scale of the streaks and grain on the part")
    strength: Vec2 = Field((1.0, 1.0), description="0..3: how much of the photo's relative variation reaches "
                                                   "the base colour, and with specular the specular level "
                                                   "(1 = all of it; above 1 amplifies it, to make up for what "
                                                   "the render softens: gloss, denoising, the pixel filter)")
    specular: bool = Field(True, description="the photo's variation also scales the specular reflection, not "
                                             "only the base colour: a ground surface's streaks are in its gloss, "
                                             "and on a dark, glossy part the specular light would otherwise wash "
                                             "the texture out")
    encoding: Literal["srgb", "linear"] = Field("srgb", description="how the photos' grey levels relate to "
                                                "light: srgb (a display-encoded photo) or linear (a machine-vision "
                                                "camera's gamma-1 output)")
    detrend_px: float = Field(20.0, gt=0, description="Gaussian sigma (photo pixels) of the photo's lighting, "
                                                     "divided out so that only the surface's texture remains")
    margin: float = Field(0.08, ge=0, lt=0.45, description="fraction of the photo trimmed on each side (its "
                                                           "border may show the part's edges)")

    @field_validator("images")
    @classmethod
    def _path(cls, v, info: ValidationInfo):
        return _resolve_path(v, info)

    @field_validator("px_per_mm")
    @classmethod
    def _ppm(cls, v):
        return _check_range(v, 1e-3, None, "px_per_mm")

    @field_validator("strength")
    @classmethod
    def _strength(cls, v):
        return _check_range(v, 0.0, 3.0, "strength")

    @model_validator(mode="after")
    def _photos(self):
        list_photos(self.images, tuple(self.keys))  # raises with the field's name
        return self

    def photos(self) -> tuple[str, ...]:
        return list_photos(self.images, tuple(self.keys))
