"""What ``job.json`` records of a dataset: the hash of everything that determines its content.
Resume, shards, merge and ``--from-plan`` compare it; fields added after datasets were written
are left out of it while they hold their inert value, so those datasets keep their hash."""

from __future__ import annotations

from synthgen.io import stable_hash


def config_hash(cfg) -> str:
    """Hash of everything that determines the dataset's content (not out, num_scenes, device).
    Asset paths count relative to the config's folder, so a moved checkout keeps its hash."""
    from synthgen.config.loading import relative

    d = cfg.model_dump(mode="json")
    base = getattr(cfg, "config_dir", None)
    for part in d.get("parts", []):
        part["path"] = relative(part["path"], base)
    for light in d.get("lights", []):
        light["ies"] = relative(light.get("ies"), base)
    if d.get("defects", {}).get("library"):
        d["defects"]["library"] = relative(d["defects"]["library"], base)
    for k in ("out", "num_scenes"):
        d.pop(k, None)
    d.get("render", {}).pop("device", None)
    d.get("render", {}).pop("fallback", None)
    d.get("render", {}).pop("threads", None)
    _drop_inert_new_fields(d)
    return stable_hash(d)


# Fields added after datasets were written, with the value that leaves the output as it was.
# While a field holds it, the hash leaves it out, so those datasets keep their hash (resume, merge).
_INERT_RENDER = {"image_format": "png", "filter_width_px": 1.5}
# Labels at part edges (spill_px) changed datasets' labels: only 0 leaves them as they were, so
# a dataset written before resumes with ``verification.spill_px: 0`` (the error says the hash).
_INERT_VERIFICATION = {"spill_px": 0}
_INERT_PHOTO = {"specular": False, "encoding": "srgb"}
_INERT_MATERIAL = {"photo_texture": None}
_INERT_KIND_MATERIAL = {"tint": [0.0, 0.0]}
_INERT_KIND = {"label": "changed", "rotation_deg": [0.0, 360.0], "size_dist": "uniform", "weight": 1.0}
_INERT_SHAPE = {"heading_deg": [0.0, 360.0]}
_INERT_SURFACE = {"edge_direction": None}
_INERT_DEFECTS = {"healthy_share": 0.0}


def _drop_inert_new_fields(d: dict) -> None:
    """Remove, in place, late fields that hold their inert value (a dumped config, JSON mode)."""
    def drop(node: dict, inert: dict) -> None:
        for k, v in inert.items():
            if k in node and node[k] == v:
                del node[k]

    render = d.get("render", {})
    if render.get("image_format", "png") == "png":
        render.pop("jpeg_quality", None)  # only a JPEG's pixels depend on it
    drop(render, _INERT_RENDER)
    sensor = render.get("sensor", {})
    if not sensor.get("blur", {}).get("enabled", True):
        sensor.pop("blur")
    verification = d.get("verification", {})
    if verification.get("save_pairs") is False:  # pairs are extra files; images and labels are the same
        verification.pop("save_pairs")
    drop(verification, _INERT_VERIFICATION)
    for m in d.get("materials", []):
        if isinstance(m.get("photo_texture"), dict):
            drop(m["photo_texture"], _INERT_PHOTO)
        drop(m, _INERT_MATERIAL)
    drop(d.get("defects", {}), _INERT_DEFECTS)
    for kind in d.get("defects", {}).get("kinds", {}).values():
        drop(kind, _INERT_KIND)
        drop(kind.get("shape", {}), _INERT_SHAPE)
        drop(kind.get("surface", {}), _INERT_SURFACE)
        drop(kind.get("material") or {}, _INERT_KIND_MATERIAL)
