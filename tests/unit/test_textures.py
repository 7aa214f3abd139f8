"""Procedural defect maps (issue 3, generator half): determinism, normals, masks, types, shapes,
library round trip, drop-in folders, CLI. Pure numpy/opencv, no bpy."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import yaml
from scipy import ndimage

from synthgen.rng import stream
from synthgen.textures.generate import DefectMaps, generate_variant, margin_px, normals_from_height
from synthgen.textures.kinds import DefectLibraryConfig, builtin_recipes
from synthgen.textures.library import (
    generate_library,
    load_library,
    load_variant,
    make_variant,
    write_variant,
)
from synthgen.textures.recipes import GENERATORS, DefectRecipe

BUILTINS = builtin_recipes()
# Every generator with a recipe: the eight built-in kinds, and band (a generator without a built-in
# kind, so that configs without a kinds list keep the libraries they had).
RECIPES = {**BUILTINS, "band": DefectRecipe.model_validate(
    {"generator": "band", "types": ["deformation", "encrustation"], "size_mm": [20, 40], "depth_mm": 0.02})}
RES = 128  # small maps keep the suite fast; shapes are resolution-independent


def _recipe(kind: str, **over) -> DefectRecipe:
    data = {**RECIPES[kind].model_dump(), "resolution": RES}
    if "shape" in over:
        over["shape"] = {**data["shape"], **over["shape"]}
    data.update(over)
    return DefectRecipe.model_validate(data)


def _gen(kind: str, seed: int = 0, **over) -> DefectMaps:
    return generate_variant(_recipe(kind, **over), stream(seed, "test", kind), kind=kind)


FLOAT_MAPS = ("height", "normal", "roughness", "occlusion", "encrustation", "hole")


def test_builtins_are_the_eight_kinds():
    assert set(BUILTINS) == set(GENERATORS) - {"band"} == {
        "scratch", "dent", "crack", "burn", "mark", "crater", "hole", "break"}
    assert DefectLibraryConfig().kinds == BUILTINS


@pytest.mark.parametrize("kind", GENERATORS)
def test_deterministic_per_seed_and_different_across_seeds(kind):
    a, b, c = _gen(kind, 1), _gen(kind, 1), _gen(kind, 2)
    for name in (*FLOAT_MAPS, "mask"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.material == b.material
    assert not np.array_equal(a.mask, c.mask)


@pytest.mark.parametrize("kind", GENERATORS)
def test_ranges_masks_inside_map_and_types_respected(kind):
    m = _gen(kind, 3)
    r = RES
    assert m.height.shape == (r, r) and m.normal.shape == (r, r, 3) and m.mask.dtype == bool
    for name in FLOAT_MAPS:
        assert getattr(m, name).dtype == np.float32, name
    assert -1.0 <= m.height.min() and m.height.max() <= 1.0
    for name in ("roughness", "occlusion", "encrustation", "hole"):
        arr = getattr(m, name)
        assert 0.0 <= arr.min() and arr.max() <= 1.0, name
    assert np.allclose(np.linalg.norm(m.normal, axis=-1), 1.0, atol=1e-4)
    assert m.mask.sum() > 0.002 * r * r
    k = margin_px(r)
    border = np.ones((r, r), bool)
    border[k:-k, k:-k] = False
    assert not m.mask[border].any()
    for name in ("height", "occlusion", "encrustation", "hole"):
        assert not getattr(m, name)[border].any(), name
    types = set(RECIPES[kind].types)
    assert set(m.meta["types"]) == types
    if "deformation" not in types:
        assert not m.height.any() and not m.occlusion.any() and not m.roughness.any()
        assert np.allclose(m.normal, [0, 0, 1])
    else:
        assert np.abs(m.height).max() > 0.2
    assert m.encrustation.any() == ("encrustation" in types)
    assert m.hole.any() == ("hole" in types)
    assert (m.material is not None) == ("encrustation" in types)
    expect = np.zeros_like(m.mask)
    if "deformation" in types:
        expect |= m.occlusion > 0.5
    if "encrustation" in types:
        expect |= m.encrustation > 0.5
    if "hole" in types:
        expect |= m.hole > 0.5
    assert np.array_equal(m.mask, expect)


def test_pure_encrustation_kind_has_no_height_or_hole():
    m = _gen("mark", 5)
    assert m.meta["types"] == ["encrustation"]
    assert not m.height.any() and not m.hole.any() and m.encrustation.max() > 0.9
    assert set(m.material) == {"base_color", "roughness", "metallic"}


def test_hole_and_break_types():
    h = _gen("hole", 4)
    assert (h.hole > 0.5).sum() > 50
    b = _gen("break", 4)
    assert b.hole.max() > 0.9 and b.encrustation.max() > 0.5 and b.height.min() < -0.3


def test_types_override_zeroes_unused_maps():
    m = _gen("crack", 2, types=["deformation"])
    assert not m.hole.any() and m.height.min() < -0.3


def test_normals_match_height_gradients():
    r = _recipe("dent")
    m = generate_variant(r, stream(0, "normals"))
    pixel_mm = m.meta["pixel_mm"]
    z = m.height.astype(np.float64) * r.depth_mm
    dz_drow, dz_dcol = np.gradient(z, pixel_mm)
    expect = np.stack([-dz_dcol, dz_drow, np.ones_like(z)], -1)
    expect /= np.linalg.norm(expect, axis=-1, keepdims=True)
    ang = np.degrees(np.arccos(np.clip((expect * m.normal).sum(-1), -1, 1)))
    assert ang.mean() < 0.01 and ang.max() < 0.1
    tilt = np.degrees(np.arccos(m.normal[..., 2]))
    assert tilt.max() > 5.0  # the dent really tilts normals


def test_tilted_plane_gives_constant_normal_tilted_the_right_way():
    # Height rises to the right (+X) and towards the top of the image (+Y up = decreasing row).
    n = 32
    cols = np.arange(n)[None, :].repeat(n, 0)
    rows = np.arange(n)[:, None].repeat(n, 1)
    pixel_mm, depth_mm = 0.1, 1.0
    slope_x, slope_y = 0.5, 0.25  # mm of height per mm
    h = (slope_x * cols * pixel_mm - slope_y * rows * pixel_mm) / depth_mm
    nrm = normals_from_height(h, pixel_mm, depth_mm)
    expect = np.array([-slope_x, -slope_y, 1.0])
    expect /= np.linalg.norm(expect)
    assert np.allclose(nrm, expect, atol=1e-5)
    assert nrm[..., 0].max() < 0 and nrm[..., 1].max() < 0  # faces left and down, away from the rise


def _components(mask):
    lab, n = ndimage.label(mask)
    return [lab == i for i in range(1, n + 1)]


def _aspect(comp) -> float:
    ys, xs = np.nonzero(comp)
    pts = np.stack([xs, ys], 1).astype(np.float32)
    if len(pts) < 5:
        return 1.0
    (_, _), (w, h), _ = cv2.minAreaRect(pts)
    return max(w, h) / max(1.0, min(w, h))


def test_scratch_has_several_elongated_strokes():
    for seed in range(4):
        m = _gen("scratch", seed, resolution=256, shape={"strokes": (3, 5), "skip_prob": 0.0,
                                                          "spacing": (0.05, 0.08)})
        comps = [c for c in _components(m.mask) if c.sum() > 20]
        assert len(comps) >= 2, seed
        assert all(_aspect(c) > 6 for c in comps), seed


def test_crack_is_thin_elongated_and_branched():
    from synthgen.textures import shapes

    for seed in range(4):
        m = _gen("crack", seed, resolution=256)
        ys, xs = np.nonzero(m.mask)
        extent = max(np.ptp(xs), np.ptp(ys))
        assert extent > 0.4 * 256 and m.mask.sum() < 0.05 * 256 * 256  # long and thin
        dist = ndimage.distance_transform_edt(m.mask)
        assert dist.max() < 0.03 * 256  # nowhere wider than ~15 px
    sh = BUILTINS["crack"].shape
    branched = 0
    for seed in range(6):
        rng = stream(seed, "branches")
        strokes = shapes._crack_network(rng, 256, np.array([128.0, 128.0]), [0.0, np.pi], 100.0, 3.0,
                                        sh.branch_prob, sh.branch_angle_deg, sh.max_generations, sh.wiggle_deg,
                                        10, 246)
        branched += len(strokes) > 2
    assert branched >= 4


def test_crack_heading_orients_the_crack_in_the_map():
    """heading_deg [0, 0] with little wiggle: the crack runs along the map's x (its principal axis
    within 15 degrees of it), where the default draws any direction."""
    for seed in range(4):
        m = _gen("crack", seed, resolution=256,
                 shape={"heading_deg": [0, 0], "wiggle_deg": 2, "branch_prob": 0, "arms": [1, 1]})
        ys, xs = np.nonzero(m.mask)
        _, v = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(float)))
        assert abs(v[1, -1]) < np.sin(np.radians(15)), f"seed {seed}: crack not along x"


def test_dent_has_negative_centre_and_positive_rim():
    m = _gen("dent", 7, shape={"rim": (0.15, 0.2)})
    h = m.height
    assert h.min() < -0.5
    ys, xs = np.nonzero(h < 0.5 * h.min())
    cy, cx = ys.mean(), xs.mean()
    assert h[int(cy), int(cx)] < 0.3 * h.min()
    rim = h[(m.occlusion > 0.05) & (m.occlusion < 0.95)]
    assert h.max() > 0.05 and rim.max() > 0.05


def test_write_load_roundtrip_preserves_maps(tmp_path):
    m = make_variant(_recipe("break"), "break", 0, seed=3)
    d = write_variant(m, tmp_path / "lib" / "break" / "000")
    names = {p.name for p in d.iterdir()}
    assert names == {"height.png", "normal.png", "roughness.png", "occlusion.png", "encrustation.png",
                     "hole.png", "mask.png", "meta.json"}
    assert cv2.imread(str(d / "height.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    back = load_variant(d)
    assert np.abs(back.height - m.height).max() <= 2.0 / 65535 + 1e-6
    for name in ("roughness", "occlusion", "encrustation", "hole"):
        assert np.abs(getattr(back, name) - getattr(m, name)).max() <= 0.5 / 255 + 1e-6, name
    assert np.degrees(np.arccos(np.clip((back.normal * m.normal).sum(-1), -1, 1))).max() < 1.0
    assert np.array_equal(back.mask, m.mask)
    assert back.material == m.material and back.meta["types"] == m.meta["types"]
    assert not any(p.name.startswith(".") for p in d.parent.iterdir())


def test_drop_in_height_and_mask_only(tmp_path):
    m = make_variant(_recipe("dent"), "dent", 0, seed=1)
    src = write_variant(m, tmp_path / "full" / "dent" / "000")
    user = tmp_path / "user" / "mydent" / "a"
    user.mkdir(parents=True)
    for name in ("height.png", "mask.png"):
        shutil.copy(src / name, user / name)
    back = load_variant(user)
    assert back.meta["types"] == ["deformation"]
    assert np.array_equal(back.occlusion > 0.5, m.mask)  # occlusion defaults to the mask
    pix = back.meta["normal_size_mm"] / RES
    assert np.allclose(back.normal, normals_from_height(back.height, pix, back.meta["depth_mm"]))
    assert back.normal[..., 2].min() < 0.999
    lib = load_library(tmp_path / "user")  # completes the folder for renderers
    assert lib == {"mydent": [user]}
    assert (user / "normal.png").is_file() and (user / "occlusion.png").is_file()
    assert set(json.loads((user / "meta.json").read_text())["derived"]) >= {"normal", "occlusion"}


def test_drop_in_mask_only_uses_kind_json(tmp_path):
    d = tmp_path / "lib" / "weld_spatter" / "v1"
    d.mkdir(parents=True)
    mask = np.zeros((64, 64), np.uint8)
    cv2.circle(mask, (32, 32), 10, 255, -1)
    cv2.imwrite(str(d / "mask.png"), mask)
    (d.parent / "kind.json").write_text(json.dumps(
        {"types": ["encrustation"], "material": {"base_color": [0.1, 0.1, 0.1], "roughness": 0.9, "metallic": 0}}))
    m = load_variant(d)
    assert m.meta["types"] == ["encrustation"] and m.encrustation.max() == 1.0 and not m.height.any()
    assert m.material["roughness"] == 0.9
    # a hole kind folder named like a built-in needs no json at all
    h = tmp_path / "lib" / "hole" / "x"
    h.mkdir(parents=True)
    cv2.imwrite(str(h / "mask.png"), mask)
    assert load_variant(h).hole.max() == 1.0


def test_library_is_resumable_and_streams_are_per_kind(tmp_path):
    cfg = DefectLibraryConfig(variants_per_kind=2, kinds={"dent": {"resolution": 64}, "mark": {"resolution": 64}})
    s1 = generate_library(cfg, 5, tmp_path, progress=False)
    assert (s1.generated, s1.kept) == (4, 0)
    before = (tmp_path / "dent" / "001" / "height.png").read_bytes()
    s2 = generate_library(cfg, 5, tmp_path, progress=False)
    assert (s2.generated, s2.kept) == (0, 4)
    cfg2 = DefectLibraryConfig(variants_per_kind=2, kinds={"dent": {"resolution": 64}, "scratch": {"resolution": 64}})
    generate_library(cfg2, 5, tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "dent" / "001" / "height.png").read_bytes() == before
    assert list(load_library(tmp_path)) == ["dent", "mark"]


def test_builtin_override_merges_fields():
    cfg = DefectLibraryConfig.model_validate({"kinds": {"scratch": {"size_mm": [2, 8], "shape": {"strokes": [1, 1]}}}})
    s = cfg.kinds["scratch"]
    assert list(cfg.kinds) == ["scratch"] and s.size_mm == (2.0, 8.0)
    assert s.shape.strokes == (1, 1) and s.shape.width == BUILTINS["scratch"].shape.width
    assert s.depth_mm == BUILTINS["scratch"].depth_mm
    again = DefectLibraryConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg


def _run_main(main, args):
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_generate_writes_library_and_sheet(tmp_path):
    cfg = {"seed": 3, "num_scenes": 5, "defects": {"variants_per_kind": 2, "kinds": {
        "crack": {"resolution": 64}, "burn": {"resolution": 64}, "hole": {"resolution": 64}}}}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "lib"
    code, stdout, stderr = _run_main(__import__("synthgen.cli", fromlist=["main"]).main,
                                     ["defects", "generate", str(p), "--out", str(out), "--no-progress"])
    assert code == 0, stderr
    assert "6 variants generated" in stdout and "seed 3" in stdout
    for kind in ("crack", "burn", "hole"):
        for v in ("000", "001"):
            names = {f.name for f in (out / kind / v).iterdir()}
            assert {"height.png", "normal.png", "roughness.png", "occlusion.png", "encrustation.png",
                    "hole.png", "mask.png", "meta.json"} <= names
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 3 * 64
    meta = json.loads((out / "crack" / "001" / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["stream"] == ["defect_library", "crack", 1]


@pytest.mark.parametrize("kinds, needle", [
    ({"crack": {"size_mm": [5, 1]}}, "defects.kinds.crack.size_mm: "),
    ({"dent": {"depht_mm": 1}}, "defects.kinds.dent.depht_mm: unknown key"),
    ({"crack": {"shape": {"width": [0.5, 0.1]}}}, "defects.kinds.crack.shape.width: "),
    ({"mark": {"types": ["hole"]}}, "defects.kinds.mark.types: "),
])
def test_cli_bad_recipe_is_one_line_exit_2(tmp_path, kinds, needle):
    from synthgen.cli import main

    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"defects": {"kinds": kinds}}))
    code, _, stderr = _run_main(main, ["defects", "generate", str(p), "--out", str(tmp_path / "o")])
    lines = [ln for ln in stderr.strip().splitlines() if ln]
    assert code == 2 and len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {p}: {needle}"), lines
    assert "Traceback" not in stderr


def test_cli_unknown_kind_is_named(tmp_path):
    from synthgen.cli import main

    p = tmp_path / "c.yaml"
    p.write_text("defects: {variants_per_kind: 1}\n")
    code, _, stderr = _run_main(main, ["defects", "generate", str(p), "--out", str(tmp_path / "o"),
                                       "--kinds", "dent,dnet"])
    assert code == 1 and "dnet" in stderr


def test_bundled_config_validates():
    from pathlib import Path

    from synthgen.textures.cli import load_defects_section

    cfg, seed = load_defects_section(Path(__file__).resolve().parents[2] / "configs" / "defects.yaml")
    gens = {k.generator for k in cfg.kinds.values()}
    assert set(GENERATORS) <= gens and seed == 0
