"""The camera model applied after rendering (``render.sensor``): sensor noise, vignetting and lens
distortion, each off unless enabled, with physical parameters. Ranges are drawn per camera in
the plan, so the same plan gives the same pixels."""

from __future__ import annotations

from pydantic import Field, field_validator

from synthgen.config.base import Vec2, _check_range, _Model


class NoiseConfig(_Model):
    """Photon shot noise and read noise of a linear sensor, plus optional fixed-pattern noise."""

    enabled: bool = Field(False, description="add sensor noise to every image")
    full_well_e: Vec2 = Field((8000.0, 12000.0), description="electrons at the brightest image level (white): "
                              "fewer means more shot noise")
    read_noise_e: Vec2 = Field((2.0, 6.0), description="read noise, standard deviation in electrons")
    fixed_pattern: float = Field(0.0, ge=0, le=0.2, description="pixel response non-uniformity: relative std of a "
                                 "per-pixel gain that is the same for every image of a camera (0 = off)")

    @field_validator("full_well_e")
    @classmethod
    def _fw(cls, v):
        return _check_range(v, 10.0, None, "full_well_e")

    @field_validator("read_noise_e")
    @classmethod
    def _rn(cls, v):
        return _check_range(v, 0.0, None, "read_noise_e")


class VignettingConfig(_Model):
    """Natural vignetting, the cos^4 law of the camera's own field angle, blended by a strength."""

    enabled: bool = Field(False, description="darken the image towards its corners")
    strength: Vec2 = Field((0.5, 1.0), description="0 = none, 1 = the full cos^4 falloff of the lens's field angle")

    @field_validator("strength")
    @classmethod
    def _s(cls, v):
        return _check_range(v, 0.0, 1.0, "strength")


class DistortionConfig(_Model):
    """Brown-Conrady lens distortion (OpenCV's model and sign convention, normalised coordinates)."""

    enabled: bool = Field(False, description="distort images and masks through the same map")
    k1: Vec2 = Field((-0.1, 0.0), description="radial coefficient k1 range (negative = barrel)")
    k2: Vec2 = Field((0.0, 0.0), description="radial coefficient k2 range")
    k3: Vec2 = Field((0.0, 0.0), description="radial coefficient k3 range")
    p1: Vec2 = Field((0.0, 0.0), description="tangential coefficient p1 range")
    p2: Vec2 = Field((0.0, 0.0), description="tangential coefficient p2 range")

    @field_validator("k1", "k2", "k3", "p1", "p2")
    @classmethod
    def _range(cls, v):
        return _check_range(v, -1.0, 1.0, "distortion coefficient")


class BlurConfig(_Model):
    """Optical blur the renderer does not make: the lens's and the photo's softness, a Gaussian
    on linear light before the sensor's noise."""

    enabled: bool = Field(False, description="blur every image by a Gaussian of sigma_px")
    sigma_px: Vec2 = Field((0.5, 1.0), description="Gaussian standard deviation range, pixels of the output image")

    @field_validator("sigma_px")
    @classmethod
    def _s(cls, v):
        return _check_range(v, 0.0, 20.0, "sigma_px")


class SensorConfig(_Model):
    """What the camera does to the rendered image (applied in this order: distortion, blur,
    vignetting, noise). Masks go through the distortion map too; blur, noise and vignetting
    leave them alone."""

    noise: NoiseConfig = Field(NoiseConfig(), description="shot, read and fixed-pattern noise")
    vignetting: VignettingConfig = Field(VignettingConfig(), description="cos^4 corner falloff")
    distortion: DistortionConfig = Field(DistortionConfig(), description="Brown-Conrady lens distortion")
    blur: BlurConfig = Field(BlurConfig(), description="optical blur (Gaussian) before the sensor")

    def any(self) -> bool:
        return self.noise.enabled or self.vignetting.enabled or self.distortion.enabled or self.blur.enabled


class MotionBlurConfig(_Model):
    """Motion blur of parts carried along the belt (+x) during the exposure: Cycles renders the
    moving part, and a defect's label is where it is seen for more than half the exposure."""

    enabled: bool = Field(False, description="blur parts by the belt's motion during the exposure")
    belt_speed_m_s: Vec2 = Field((0.2, 0.5), description="belt speed range (m/s)")
    exposure_ms: Vec2 = Field((1.0, 4.0), description="camera exposure time range (ms)")
    id_steps: int = Field(8, ge=2, le=64, description="instants across the exposure at which the defect-ID pass "
                          "looks; a pixel is labelled where its defect shows at more than half of them")

    @field_validator("belt_speed_m_s")
    @classmethod
    def _speed(cls, v):
        return _check_range(v, 0.0, 20.0, "belt_speed_m_s")

    @field_validator("exposure_ms")
    @classmethod
    def _exp(cls, v):
        return _check_range(v, 0.001, 1000.0, "exposure_ms")
