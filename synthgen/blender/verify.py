"""Verification of one built scene, before any final render: which cameras to render, which
defects each labels, and why the others are dropped.

Per camera: a geometric check that a part is in view, one defect-ID pass for all defects
(label and footprint ids, occlusion included), then border renders of small boxes around the
remaining candidates, defects on and off (the contrast check); a kept label is what changes
within the defect's footprint. With ``render.crop``, the image is cut to the largest rectangle
inside the visible part (from the same ID pass); labels are cut to it before the contrast check
(which then renders and judges only what the crop shows), and a defect with too few pixels left
inside is dropped (``outside_crop``). Each planned camera gets a record of every defect's pixel
counts, contrast and reason for being dropped, accepted or not.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from synthgen.annotate.contrast import contrast_check, regions_of
from synthgen.annotate.crop import crop_views, inscribed_rect
from synthgen.annotate.visibility import part_in_view, visible_defects
from synthgen.blender.contrast import render_pair
from synthgen.blender.scene import BuiltScene
from synthgen.blender.visibility import DefectIdPass
from synthgen.geometry.camera import blur_radius_px
from synthgen.plan.types import CameraPlan


@dataclass
class CameraVerdict:
    camera: CameraPlan
    ids: np.ndarray  # (H, W) int32 label ids, cut to what the image shows (and to the crop)
    visible: list[dict]
    dropped: list[dict]
    crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 of the output image in the frame
    pair: tuple[np.ndarray, np.ndarray] | None = None  # contrast renders (on, off), cut like ids (save_pairs)


@dataclass
class SceneVerdict:
    accepted: list[CameraVerdict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)  # one per planned camera
    reasons: Counter = field(default_factory=Counter)  # dropped defect views by reason
    seconds_contrast: float = 0.0  # of the whole verification, the contrast renders


def _outside_zeroed(a: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = rect
    out = np.zeros_like(a)
    out[y0:y1, x0:x1] = a[y0:y1, x0:x1]
    return out


def _spill_px(vc, cam: CameraPlan, defects, width_px: int) -> int:
    """How far (px) a kept label may grow past its footprint into changed pixels: the configured
    ``spill_px``, widened to the camera's defocus blur radius at its defects (plus one pixel for
    the pixel filter), at most 8; 0 when ``spill_px`` is 0."""
    if vc.spill_px == 0:
        return 0
    blur = blur_radius_px(cam, np.array([d.position for d in defects]), width_px)
    return int(min(8, max(vc.spill_px, math.ceil(blur) + 1 if blur > 0.5 else 0)))


@dataclass
class _Seen:
    """What the defect-ID pass says of one camera: its label and footprint ids, the crop, and the
    defects visible enough to judge."""

    cam: CameraPlan
    ids: np.ndarray
    foot: np.ndarray
    vis: list[dict]
    dropped: list[dict]
    rect: tuple[int, int, int, int] | None


def _seen(idp: DefectIdPass, built: BuiltScene, cam: CameraPlan, vc, crop, quiet: bool) -> _Seen | dict:
    """The ID-pass stage of one camera: a ``_Seen``, or the camera's check record when it shows no
    part or too small a crop."""
    plan = built.plan
    res = tuple(plan.render.resolution)
    if not any(part_in_view(p, cam, res) for p in plan.parts):
        return {"camera_id": cam.camera_id, "status": "no_part"}
    if plan.defects or crop is not None:
        ids, foot, parts = idp.render_id_maps(cam.camera_id, quiet=quiet)
    else:
        ids = foot = parts = np.zeros(res[::-1], np.int32)
    rect = None
    if crop is not None:
        rect = inscribed_rect(parts > 0, crop.inset_px)
        if rect is None or rect[2] - rect[0] < crop.min_size[0] or rect[3] - rect[1] < crop.min_size[1]:
            return {"camera_id": cam.camera_id, "status": "crop_too_small", "crop": None if rect is None else list(rect)}
    vis, dropped = visible_defects(ids, plan.defects, cam, res, vc.min_visible_pixels, vc.min_visible_fraction)
    return _Seen(cam, ids, foot, vis, dropped, rect)


def _judge(built: BuiltScene, seen: _Seen, vc, region_kinds: frozenset[str], quiet: bool
           ) -> tuple[dict, CameraVerdict | None]:
    """The contrast stage of one camera (defects on and off around the candidates): its check
    record and, unless it shows nothing to keep, its verdict."""
    plan = built.plan
    res = tuple(plan.render.resolution)
    cam, ids, foot, vis, dropped, rect = seen.cam, seen.ids, seen.foot, seen.vis, seen.dropped, seen.rect
    if rect is not None:  # only what the cropped image shows is checked and labelled
        ids, foot = _outside_zeroed(ids, rect), _outside_zeroed(foot, rect)
        _, _, inside, cut = crop_views(rect, ids, foot, vis, vc.min_visible_pixels)
        kept_ids = {v["defect_id"] for v in inside}
        vis, dropped = [v for v in vis if v["defect_id"] in kept_ids], dropped + cut
    keep = {v["defect_id"] for v in vis}
    pair = None
    if vis and vc.min_contrast > 0:
        both = np.where(np.isin(ids, list(keep)), ids, foot)  # label pixels first, then footprints
        spill = _spill_px(vc, cam, [d for d in plan.defects if d.defect_id in keep], res[0])
        with_img, without_img = render_pair(built, cam.camera_id, keep, regions_of(both, keep, margin=spill + 2),
                                            vc.contrast_samples, quiet)
        vis, low, ids = contrast_check(ids, with_img, without_img, vis, vc.min_contrast,
                                       vc.min_changed_fraction, vc.min_visible_pixels, vc.trim_to_change,
                                       footprint=foot, region_kinds=region_kinds,
                                       spill_px=spill if vc.trim_to_change else 0)
        dropped = dropped + low
        pair = (with_img, without_img) if vc.save_pairs else None
    else:
        ids = np.where(np.isin(ids, list(keep)), ids, 0)
    if rect is not None:
        ids, foot, vis, cut = crop_views(rect, ids, foot, vis, vc.min_visible_pixels)
        dropped = dropped + cut
        if pair is not None:
            pair = tuple(p[rect[1]:rect[3], rect[0]:rect[2]] for p in pair)
    status = "accepted" if vis else ("healthy" if vc.render_without_defects else "no_defect")
    check = {"camera_id": cam.camera_id, "status": status, "visible_defects": vis, "dropped_defects": dropped,
             **({"crop": list(rect)} if rect else {})}
    return check, (None if status == "no_defect" else CameraVerdict(cam, ids, vis, dropped, rect, pair))


def _region_kinds(cfg) -> frozenset[str]:
    return frozenset(k for k, r in cfg.defects.kinds.items() if r.label == "region")


def camera_verdict(built: BuiltScene, camera_id: int, cfg, quiet: bool = True
                   ) -> tuple[dict, CameraVerdict | None]:
    """One camera's labels exactly as ``synthgen render`` makes them for ``cfg`` (the JobConfig the
    scene was planned from): the ID pass, crop, visibility and contrast rules of ``verify_scene``.
    Returns the camera's check record and its verdict (None when it renders nothing). The
    verdict's ``ids`` are the labels before the camera model; ``saved_labels`` gives the saved ones."""
    crop = cfg.render.crop
    cam = next(c for c in built.plan.cameras if c.camera_id == camera_id)
    with DefectIdPass(built, built.plan.defects, built.defects, crop.max_incidence_deg if crop else 90.0) as idp:
        seen = _seen(idp, built, cam, cfg.verification, crop, quiet)
    if isinstance(seen, dict):
        return seen, None
    return _judge(built, seen, cfg.verification, _region_kinds(cfg), quiet)


def saved_labels(plan, cv: CameraVerdict) -> np.ndarray:
    """The label map ``synthgen render`` writes for a verdict: its ids through the camera model's
    lens distortion (``render.sensor``), as the image is."""
    from synthgen.annotate.sensor import distort_labels

    sp = next((s for s in plan.sensors if s.camera_id == cv.camera.camera_id), None)
    return cv.ids if sp is None else distort_labels(cv.ids, sp, cv.camera)


def verify_scene(built: BuiltScene, cfg, quiet: bool = True) -> SceneVerdict:
    """Decide, for every planned camera of ``built``, what it renders and labels (``cfg``: the
    JobConfig the scene was planned from). All ID passes run first in one swap of ID shading, then
    the contrast renders, camera by camera (``camera_verdict`` is the same for one camera)."""
    plan, vc, crop = built.plan, cfg.verification, cfg.render.crop
    out = SceneVerdict()
    with DefectIdPass(built, plan.defects, built.defects, crop.max_incidence_deg if crop else 90.0) as idp:
        seen = [_seen(idp, built, cam, vc, crop, quiet) for cam in plan.cameras]
    t1 = time.perf_counter()
    regions = _region_kinds(cfg)
    for s in seen:
        if isinstance(s, dict):
            out.checks.append(s)
            continue
        check, cv = _judge(built, s, vc, regions, quiet)
        out.reasons.update(d["reason"] for d in check["dropped_defects"])
        out.checks.append(check)
        if cv is not None:
            out.accepted.append(cv)
    out.checks.sort(key=lambda c: c["camera_id"])
    out.seconds_contrast = time.perf_counter() - t1
    return out
