"""What a render run did: counts, reasons and the time split, and their one-line summaries."""

from __future__ import annotations

import os
import resource
import sys
from collections import Counter
from dataclasses import dataclass, field

from synthgen.annotate.visibility import reasons_text


@dataclass
class RunStats:
    scenes_in_shard: int = 0
    scenes_done: int = 0
    scenes_resumed: int = 0
    scenes_accepted: int = 0
    scenes_rejected: int = 0
    scenes_unplaceable: int = 0  # of the rejected: no overlap-free placement
    scenes_without_defects: int = 0  # of the rejected: no defect could be placed on any part
    images: int = 0
    dataset_images: int = 0  # images in the whole dataset after this run (resumed scenes included)
    cameras_checked: int = 0
    cameras_crop_too_small: int = 0  # camera views whose crop of the part was under render.crop.min_size
    defects_visible: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {
        "plan": 0.0, "build": 0.0, "verify": 0.0, "contrast": 0.0, "render": 0.0, "write": 0.0, "clear": 0.0})
    drop_reasons: Counter = field(default_factory=Counter)  # dropped defect views by reason
    device: dict = field(default_factory=dict)
    # Per step, the largest resident memory (MiB) seen at its end over the run's scenes, and the
    # Blender data-blocks: at the start, the most after a build, and after the last clear.
    rss_mib: dict = field(default_factory=dict)
    datablocks: dict = field(default_factory=dict)
    wall: float = 0.0
    already_done: bool = False  # every scene of the run was finished before it started

    def note_rss(self, step: str) -> None:
        self.rss_mib[step] = round(max(self.rss_mib.get(step, 0.0), rss_mib()), 1)

    def note_datablocks(self, when: str, counts: dict[str, int]) -> None:
        """``start`` and ``after_clear`` keep the latest counts; ``built_max`` the most per kind."""
        if when == "built_max":
            old = self.datablocks.get(when, {})
            counts = {k: max(v, old.get(k, 0)) for k, v in counts.items()}
        self.datablocks[when] = dict(counts)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("already_done")  # a finished run is not recorded again
        d["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        d["drop_reasons"] = dict(sorted(self.drop_reasons.items()))
        d["defects_dropped"] = sum(self.drop_reasons.values())
        d["wall"] = round(self.wall, 4)
        return d


def rss_mib() -> float:
    """The process's resident memory now, in MiB (Linux); elsewhere its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def resources_text(stats: RunStats) -> str:
    """'peak memory 812 MiB (render); data blocks after clear as at start' for the summary."""
    if not stats.rss_mib:
        return ""
    step, peak = max(stats.rss_mib.items(), key=lambda kv: kv[1])
    text = f"peak memory {peak:.0f} MiB ({step})"
    start, after = stats.datablocks.get("start"), stats.datablocks.get("after_clear")
    if start is not None and after is not None:
        left = {k: after[k] - start.get(k, 0) for k in after if k != "kept" and after[k] != start.get(k, 0)}
        text += ("; data blocks after clear as at start" if not left else
                 "; data blocks left after clear: " + ", ".join(f"{v:+d} {k}" for k, v in sorted(left.items())))
        if after.get("kept"):
            text += f" ({after['kept']} part meshes kept for reuse)"
    return text


NO_DEFECT_WHY = ("every kind's count_per_part drew 0, or no face of the parts passed its surface filter: "
                 "direction and max_angle_deg, visible_from_cameras, max_incidence_deg, max_edge_distance_mm")


def no_images_reasons(stats: RunStats) -> str:
    """Why a run made no image, counted: '3 scenes could not be placed, 2 saw no visible defect
    (12 dropped: 9 too_few_pixels, 3 facing_away)'."""
    parts = []
    if stats.scenes_unplaceable:
        parts.append(f"{stats.scenes_unplaceable} could not be placed")
    if stats.scenes_without_defects:
        parts.append(f"{stats.scenes_without_defects} had no defect placed on any part ({NO_DEFECT_WHY})")
    no_defect = stats.scenes_rejected - stats.scenes_unplaceable - stats.scenes_without_defects
    if no_defect:
        why = reasons_text(stats.drop_reasons)
        if stats.cameras_crop_too_small:
            why += (f"; {stats.cameras_crop_too_small} camera views cropped smaller than render.crop.min_size")
        parts.append(f"{no_defect} showed no visible defect from any camera ({why})")
    return ", ".join(parts) or "no scene was rendered"


def summary_line(stats: RunStats, out) -> str:
    """End-of-run summary for people."""
    if stats.already_done:
        return (f"nothing to do: {stats.scenes_resumed} of {stats.scenes_in_shard} scenes already done "
                f"({stats.dataset_images} images in the dataset) -> {out}")
    s = stats.seconds
    tried = stats.scenes_done
    rate = 100.0 * stats.scenes_accepted / tried if tried else 0.0
    per_img = f"{stats.wall / stats.images:.2f} s per accepted image" if stats.images else "no accepted image"
    return (f"done: {tried} scenes tried this run ({stats.scenes_resumed} already done), {stats.scenes_accepted} "
            f"accepted ({rate:.0f} %), {stats.scenes_rejected} rejected; {stats.images} images, "
            f"{stats.defects_visible} visible defect views, {reasons_text(stats.drop_reasons)}; "
            f"{per_img}; time: plan {s['plan']:.1f} s, build {s['build']:.1f} s, "
            f"verify {s['verify']:.1f} s (contrast {s['contrast']:.1f} s), render {s['render']:.1f} s, "
            f"write {s['write']:.1f} s "
            f"(wall {stats.wall:.1f} s) on {stats.device.get('used')}"
            f"{'; ' + resources_text(stats) if stats.rss_mib else ''} -> {out}")
