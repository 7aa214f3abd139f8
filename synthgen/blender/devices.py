"""Cycles device selection: the requested GPU type or a clear error (never a silent CPU render)."""

from __future__ import annotations

import logging

import bpy

from synthgen.errors import SynthgenError

log = logging.getLogger(__name__)


def configure_device(device: str, fallback: str = "none", scene: bpy.types.Scene | None = None) -> dict:
    """Point Cycles at ``device`` (CPU, CUDA, OPTIX, HIP, ONEAPI, METAL).

    Returns ``{"requested", "used", "devices": [names]}``. When the GPU type is absent, raises
    SynthgenError unless ``fallback == "cpu"``, in which case it logs a warning and uses the CPU.
    """
    scene = scene or bpy.context.scene
    prefs = bpy.context.preferences.addons["cycles"].preferences
    if device == "CPU":
        scene.cycles.device = "CPU"
        return {"requested": "CPU", "used": "CPU", "devices": _cpu_names(prefs)}
    found: list = []
    try:
        prefs.compute_device_type = device
        prefs.refresh_devices()
        found = [d for d in prefs.devices if d.type == device]
    except TypeError:
        found = []  # this Blender build does not know the backend at all (e.g. METAL on Linux)
    if not found:
        seen = sorted({f"{d.name} ({d.type})" for d in prefs.devices}) if hasattr(prefs, "devices") else []
        if fallback == "cpu":
            log.warning("render.device %s: no %s device found (have: %s); rendering on CPU because "
                        "render.fallback is 'cpu'", device, device, ", ".join(seen) or "none")
            try:
                prefs.compute_device_type = "NONE"
            except TypeError:
                pass
            scene.cycles.device = "CPU"
            return {"requested": device, "used": "CPU", "devices": _cpu_names(prefs)}
        raise SynthgenError(
            f"render.device: {device} requested but no {device} device is available "
            f"(found: {', '.join(seen) or 'none'}); set render.fallback: cpu to allow CPU rendering"
        )
    for d in prefs.devices:
        d.use = d.type == device
    scene.cycles.device = "GPU"
    names = [d.name for d in found]
    log.info("Cycles renders on %s: %s", device, ", ".join(names))
    return {"requested": device, "used": device, "devices": names}


def _cpu_names(prefs) -> list[str]:
    try:
        prefs.refresh_devices()
        return sorted({d.name for d in prefs.devices if d.type == "CPU"}) or ["CPU"]
    except Exception:  # noqa: BLE001  # pragma: no cover - device query is best effort for logging
        return ["CPU"]
