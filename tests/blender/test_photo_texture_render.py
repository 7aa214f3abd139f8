"""A photo texture reaches the render: a photo of vertical stripes on the twin's tile shows as
stripes along the finish direction (up the image at 90 degrees, across it at 0), with more of its
contrast when it scales the specular light too; a tinted band brightens that texture where it is
labelled, without covering it; the Raw view transform writes linear light."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from synthgen.config.job import JobConfig, load_job_config

from conftest import REPO, requires_bpy, requires_magnetic_tile

pytestmark = [requires_bpy, requires_magnetic_tile, pytest.mark.blender, pytest.mark.data]  # on the twin config


def _render(tmp_path, angle: float, name: str, band: bool = False, specular: bool = True,
            view: str = "Standard") -> tuple[np.ndarray, np.ndarray]:
    from synthgen.pipeline import run_render

    photos = tmp_path / "photos"
    if not photos.is_dir():
        photos.mkdir()
        x = np.arange(240)
        img = np.where((x // 12) % 2 == 0, 70, 170).astype(np.uint8)[None, :].repeat(240, 0)
        cv2.imwrite(str(photos / "stripes.png"), img)
    data = load_job_config(REPO / "configs" / "twin_magnetic_tile.yaml").model_dump(mode="json")
    data["render"].update({"resolution": [120, 160], "samples": 8, "denoise": True, "max_bounces": 1,
                           "image_format": "png", "view_transform": view})
    data["render"]["sensor"]["noise"]["enabled"] = False
    data["render"]["crop"]["min_size"] = [24, 24]
    data["cameras"]["ark"].update({"count": 1, "arc_deg": 0})
    data["verification"].update({"min_visible_pixels": 4, "contrast_samples": 2, "render_without_defects": False,
                                 "save_pairs": False})
    data["defects"]["variants_per_kind"] = 1
    data["defects"]["healthy_share"] = 0.0  # the one scene shows its defect
    for k in data["defects"]["kinds"].values():
        k["resolution"] = 64
        k["count_per_part"] = [0, 0]
    if band:  # the twin's Uneven: a band across the tile that brightens the photo's texture (tint)
        data["defects"]["kinds"]["Uneven"].update({"count_per_part": [1, 1], "size_mm": [40, 40]})
        data["defects"]["kinds"]["Uneven"]["shape"].update({"width": [0.4, 0.4], "streaks": 0.0})
        data["defects"]["kinds"]["Uneven"]["material"]["tint"] = [2.0, 2.0]
    else:
        data["defects"]["kinds"]["Blowhole"].update({"count_per_part": [1, 1], "size_mm": [3.0, 3.0]})
    mat = data["materials"][0]
    mat.update({"finish_angle_deg": [angle, angle], "albedo_variation": [0, 0], "speckle": [0, 0],
                "finish_strength": [0, 0]})
    mat["photo_texture"] = {"images": str(photos), "px_per_mm": [6, 6], "margin": 0.0, "specular": specular}
    data["num_scenes"], data["out"] = 1, str(tmp_path / name)
    cfg = JobConfig.model_validate(data, context={"config_dir": REPO / "configs"})
    assert run_render(cfg, progress=False).images == 1
    coco = json.loads((tmp_path / name / "annotations" / "coco.json").read_text())
    file = coco["images"][0]["file_name"]
    img = cv2.imread(str(tmp_path / name / "images" / file), cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(str(tmp_path / name / "masks" / "semantic" / file), cv2.IMREAD_GRAYSCALE)
    return img.astype(np.float32), mask > 0


def _across_over_along(img: np.ndarray) -> float:
    """Second differences from column to column over those from row to row, of the inner crop's column and row
    means (pixel noise averages out, the tile's edges and smooth shading trends are left out)."""
    h, w = img.shape
    inner = img[h // 6:h - h // 6, w // 6:w - w // 6]
    cols, rows = inner.mean(axis=0), inner.mean(axis=1)
    return float(np.abs(np.diff(cols, 2)).mean() / max(np.abs(np.diff(rows, 2)).mean(), 1e-6))


def test_a_striped_photo_shows_as_stripes_along_the_finish_direction(tmp_path):
    up, _ = _render(tmp_path, 90.0, "up")      # along the tile's length, which runs up the image
    across, _ = _render(tmp_path, 0.0, "across")
    assert _across_over_along(up) > 3.0, _across_over_along(up)
    assert _across_over_along(across) < 0.5, _across_over_along(across)


def test_a_tinted_band_brightens_the_photo_texture_and_keeps_it(tmp_path):
    img, band = _render(tmp_path, 90.0, "band", band=True)
    rows = band.mean(axis=1) > 0.9  # rows the band covers from side to side
    clear = ~band.any(axis=1)
    assert rows.sum() >= 4 and clear.sum() >= 4, (rows.sum(), clear.sum())
    # brighter: the base colour doubles, but on the dark, glossy ferrite most light is specular
    assert img[rows].mean() > 1.05 * img[clear].mean()
    assert _across_over_along(img[rows]) > 3.0  # the stripes still run up the image inside the band


def test_the_photo_scaling_the_specular_light_too_keeps_more_of_its_contrast(tmp_path):
    """On the dark, glossy ferrite most of the light is specular: a photo that scales only the base
    colour shows faintly; scaling the specular reflection too brings its stripes closer to the photo's."""
    def contrast(img):
        h, w = img.shape
        cols = img[h // 6:h - h // 6, w // 6:w - w // 6].mean(axis=0)
        return float(cols.std() / cols.mean())

    both, _ = _render(tmp_path, 90.0, "both")
    colour_only, _ = _render(tmp_path, 90.0, "colour", specular=False)
    assert contrast(both) > 1.3 * contrast(colour_only), (contrast(both), contrast(colour_only))


def test_the_raw_view_transform_writes_linear_light(tmp_path):
    """A machine-vision camera delivers linear light (gamma 1): the Raw view transform writes the
    same render's linear values, the display-encoded image decoded with the sRGB curve."""
    from synthgen.srgb import srgb_to_linear

    std, _ = _render(tmp_path, 90.0, "std")
    raw, _ = _render(tmp_path, 90.0, "raw", view="Raw")
    want = 255.0 * srgb_to_linear(std / 255.0)
    lit = std > 20  # the tile, not the black belt
    assert lit.mean() > 0.3
    assert float(np.median(np.abs(raw - want)[lit])) <= 1.5
    mid = (std > 60) & (std < 200)  # mid-tones: the sRGB curve lifts them by 48-73 levels
    assert mid.mean() > 0.1 and float(np.mean(raw[mid] < std[mid] - 10)) > 0.95  # darker than the display encoding
