"""What a render run did: counts, reasons and the time split, and their one-line summaries."""

from __future__ import annotations

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
    wall: float = 0.0
    already_done: bool = False  # every scene of the run was finished before it started

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("already_done")  # a finished run is not recorded again
        d["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        d["drop_reasons"] = dict(sorted(self.drop_reasons.items()))
        d["defects_dropped"] = sum(self.drop_reasons.values())
        d["wall"] = round(self.wall, 4)
        return d


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
            f"(wall {stats.wall:.1f} s) on {stats.device.get('used')} -> {out}")
