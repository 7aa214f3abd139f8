"""Bi-level Cut&Paste training (``synthgen bilevel train``, after Synth4Seg): one run (inner U-Net
steps on synthesized batches, outer updates of the heat map and source weights by the
hypergradient of ``synthgen.learn.bilevel.hypergrad``) and the set of runs x seeds with their
results. Finished runs are kept (keyed by the config) and reused when the command is re-run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from synthgen.errors import SynthgenError
from synthgen.io import stable_hash
from synthgen.learn.bilevel.config import RUNS, BilevelConfig
from synthgen.learn.bilevel.hypergrad import (
    HeatmapNet,
    _params_buffers,
    adam_preconditioner,
    per_sample_loss,
    sample_influence,
    source_weights,
    val_gradient,
)
from synthgen.learn.bilevel.report import (
    curves_figure,
    evaluate_run,
    heatmap_figure,
    results_table,
    test_datasets,
    validation_metrics,
    weights_figure,
    weights_markdown,
)
from synthgen.learn.bilevel.synth import Pools, Synthesizer, build_pools, to_batch
from synthgen.learn.common.checkpoint import build_model
from synthgen.learn.common.config import DecisionConfig, model_key
from synthgen.learn.common.data import SegDataset, available, build_dataset
from synthgen.learn.common.figures import fmt
from synthgen.learn.common.io import atomic_json, atomic_text, atomic_torch_save, ensure_out
from synthgen.learn.common.loop import resolve_device
from synthgen.learn.common.operating import choose_on_validation, describe
from synthgen.rng import stream

LEARNS = {"no_paste": (False, False), "random": (False, False), "learned_locations": (True, False),
          "learned_weights": (False, True), "both": (True, True)}


@dataclass
class RunResult:
    model: nn.Module
    heatmap: HeatmapNet | None
    weight_logits: torch.Tensor | None
    history: list[dict]
    curve: list[dict]
    timing: dict


def train_run(cfg: BilevelConfig, run: str, seed: int, pools: Pools, dev: torch.device, progress: bool = True,
              log=print, val_ds: SegDataset | None = None) -> RunResult:
    """Train one baseline ``run`` (see ``RUNS``) with ``seed``; returns the trained U-Net and history.
    With ``val_ds`` and ``train.eval_every``, the learning curve on ``val_ds`` is recorded too."""
    if run not in RUNS:
        raise SynthgenError(f"runs: unknown run {run!r} (one of {', '.join(RUNS)})")
    t, lc = cfg.train, cfg.learn
    learn_loc, learn_w = LEARNS[run]
    paste_on = run != "no_paste"
    model = build_model(cfg.model, cfg.data, seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 7919)
        heatmap = HeatmapNet(cfg.data.channels, lc.heatmap_width, lc.grid, lc.explore).to(dev) if learn_loc else None
    hopt = torch.optim.Adam(heatmap.parameters(), lr=lc.heatmap_lr) if heatmap is not None else None
    S = len(pools.banks)
    beta = torch.zeros(S, device=dev, requires_grad=learn_w)
    bopt = torch.optim.Adam([beta], lr=lc.weights_lr) if learn_w else None
    synth = Synthesizer(cfg, pools, dev)
    rng = stream(seed, "bilevel", run, "batches")
    vrng = stream(seed, "bilevel", run, "val")

    def loss_fn(logits, y):
        return per_sample_loss(logits, y, t.pos_weight, t.dice_weight)

    history: list[dict] = []
    curve: list[dict] = []
    acc = {"loss": 0.0, "val_loss": 0.0, "n": 0, "n_outer": 0}
    inner_s = outer_s = 0.0
    rms = None
    n_outer = 0
    bar = tqdm(range(t.steps), desc=run, disable=not progress, dynamic_ncols=True, leave=False)
    t_start = time.perf_counter()
    for step in bar:
        outer = (learn_loc or learn_w) and step >= lc.warmup and step % lc.outer_every == 0
        t0 = time.perf_counter()
        if t.cosine:
            for g in opt.param_groups:
                g["lr"] = t.lr * 0.5 * (1 + math.cos(math.pi * step / t.steps))
        model.train()
        x, y, src, grp_all, logp, ent = synth.batch(t.batch_size, rng, heatmap, paste_on, need_grad=outer)
        w_all = source_weights(beta.detach())
        e = torch.where(src >= 0, w_all[src.clamp_min(0)], torch.ones_like(src, dtype=torch.float32))
        losses = loss_fn(model(x), y)
        loss = (e * losses).mean()
        w_t = {k: p.detach().clone() for k, p in model.named_parameters()} if outer else None
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc["loss"] += float(loss.detach())
        acc["n"] += 1
        t1 = time.perf_counter()
        inner_s += t1 - t0
        if outer:
            vi = vrng.choice(len(pools.val), size=min(lc.val_batch, len(pools.val)), replace=False)
            xv, yv = to_batch([pools.val[int(i)].image for i in vi], [pools.val[int(i)].label for i in vi], dev)
            w_next, _ = _params_buffers(model)
            g_val, vloss = val_gradient(model, w_next, xv, yv, loss_fn)
            P = adam_preconditioner(opt, model)
            d = {k: P[k] * g_val[k] for k in g_val}
            infl = sample_influence(model, w_t, x, y, d, loss_fn, lc.fd_step)  # dL_val / de_i
            syn = src >= 0
            if bopt is not None and bool(syn.any()):
                bopt.zero_grad(set_to_none=True)
                surrogate = (infl[syn].detach() * source_weights(beta)[src[syn]]).sum()
                surrogate.backward()
                bopt.step()
            if hopt is not None and logp is not None:
                cost = (infl[syn] * e[syn]).detach()
                grp = grp_all[syn]
                if bool((grp >= 0).all()):
                    # paired samples: same background and patches, different locations -> the
                    # baseline of each is its group's mean, which cancels everything but the location
                    _, inv = torch.unique(grp, return_inverse=True)
                    gsum = torch.zeros(int(inv.max()) + 1, dtype=cost.dtype, device=cost.device).index_add_(
                        0, inv, cost)
                    gcnt = torch.bincount(inv).to(cost.dtype)
                    adv = torch.where(gcnt[inv] > 1, cost - (gsum / gcnt)[inv], torch.zeros_like(cost))
                else:
                    adv = cost - cost.mean() if cost.numel() > 1 else cost * 0
                # scale by a running RMS (not this batch's std) so a batch of pure noise moves little
                rms = float(adv.pow(2).mean().sqrt()) if rms is None else 0.9 * rms + 0.1 * float(
                    adv.pow(2).mean().sqrt())
                adv = adv / (rms + 1e-12)
                hopt.zero_grad(set_to_none=True)
                obj = (adv * logp).mean() - lc.entropy * ent
                obj.backward()
                hopt.step()
            acc["val_loss"] += vloss
            acc["n_outer"] += 1
            n_outer += 1
            outer_s += time.perf_counter() - t1
        if (step + 1) % t.log_every == 0 or step + 1 == t.steps:
            row = {"step": step + 1, "loss": acc["loss"] / max(acc["n"], 1),
                   "weights": [round(float(v), 5) for v in source_weights(beta.detach())],
                   "seconds": round(time.perf_counter() - t_start, 2)}
            if acc["n_outer"]:
                row["val_loss"] = acc["val_loss"] / acc["n_outer"]
            if ent is not None:
                row["heatmap_entropy"] = float(ent.detach()) / math.log(lc.grid ** 2)
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}")
            acc = {"loss": 0.0, "val_loss": 0.0, "n": 0, "n_outer": 0}
        if val_ds is not None and t.eval_every and ((step + 1) % t.eval_every == 0 or step + 1 == t.steps):
            curve.append({"step": step + 1, "val": validation_metrics(cfg, model, dev, val_ds)})
    timing = {"inner_s": round(inner_s, 2), "outer_s": round(outer_s, 2), "steps": t.steps, "outer_steps": n_outer,
              "inner_step_s": inner_s / max(t.steps, 1),
              "outer_step_s": outer_s / n_outer if n_outer else None}
    return RunResult(model, heatmap, beta.detach().clone() if learn_w else None, history, curve, timing)


def run_key(cfg: BilevelConfig) -> str:
    """Hash of the settings that decide a run's result (not the run/seed lists, output, device)."""
    d = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in ("runs", "seeds", "out")}
    for k in ("device", "threads", "log_every"):
        d["train"].pop(k, None)
    if d["learn"].get("location_samples") == 1:  # added later; 1 is the behaviour runs had before
        d["learn"].pop("location_samples")
    d["model"] = model_key(d["model"])
    if d["eval"].get("decision") == DecisionConfig().model_dump(mode="json"):  # added later: decides no weight
        d["eval"].pop("decision")
    return stable_hash(d)


def train_all(cfg: BilevelConfig, out: Path | str | None = None, device: str | None = None, progress: bool = True,
              log=print) -> dict:
    """Train every run x seed of ``cfg`` (finished ones are reused), evaluate, write the reports."""
    out = ensure_out(Path(out or cfg.out))
    t = cfg.train
    dev = resolve_device(device or t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    pools = build_pools(cfg, log)
    atomic_json(out / "config.json", cfg.model_dump(mode="json"))
    results: dict[str, dict] = {}
    # everything but the list of runs/seeds and the output folder decides whether a run is reusable
    ckey = run_key(cfg)
    examples_idx = list(range(min(4, len(pools.val))))
    ex_imgs = [pools.val[i].image for i in examples_idx]
    heatmaps: dict[str, list[np.ndarray]] = {}
    tests: dict[str, SegDataset] | None = None
    val_ds: SegDataset | None = None
    trajectories: dict[str, list[dict]] = {}
    for run in cfg.runs:
        for sd in cfg.seeds:
            seed = t.seed + sd
            key = f"{run}_s{seed}"
            rdir = out / "runs" / key
            done = rdir / "result.json"
            res = json.loads(done.read_text()) if done.is_file() else None
            if res is not None and res.get("config_key") != ckey:
                log(f"{key}: config changed since {done} was written; training again")
                res = None
            if res is not None:
                log(f"{key}: reusing {done}")
            else:
                rdir.mkdir(parents=True, exist_ok=True)
                if val_ds is None and t.eval_every:
                    val_ds = build_dataset(available(cfg.learn.val, cfg.sources), cfg.sources, cfg.data)
                r = train_run(cfg, run, seed, pools, dev, progress, log, val_ds)
                if val_ds is None:  # learn.val, also the operating point's images
                    val_ds = build_dataset(available(cfg.learn.val, cfg.sources), cfg.sources, cfg.data)
                decision = choose_on_validation(r.model, val_ds, cfg.eval, dev, cfg.eval.resolution)
                log(f"{key}: operating point on learn.val: {describe(decision)}")
                if tests is None:
                    tests = test_datasets(cfg)  # read once the decision is fixed
                test = evaluate_run(cfg, r.model, dev, tests, progress, decision)
                res = {"run": run, "seed": seed, "config_key": ckey, "test": test, "timing": r.timing,
                       "decision": decision.to_dict(),
                       "history": r.history, "curve": r.curve,
                       "source_names": [b.name for b in pools.banks]}
                if r.heatmap is not None:
                    xe, _ = to_batch(ex_imgs, [pools.val[i].label for i in examples_idx], dev)
                    with torch.no_grad():
                        p = r.heatmap.log_probs(xe).exp().cpu().numpy().reshape(len(ex_imgs), cfg.learn.grid,
                                                                                   cfg.learn.grid)
                    res["example_heatmaps"] = p.round(6).tolist()
                atomic_torch_save(rdir / "model.pt", {
                    "unet": r.model.state_dict(), "heatmap": None if r.heatmap is None else r.heatmap.state_dict(),
                    "weight_logits": r.weight_logits, "config": cfg.model_dump(mode="json"), "run": run,
                    "seed": seed, "decision": decision.to_dict()})
                atomic_json(done, res)
                summ = ", ".join(f"{k} IoU {fmt(v['iou_dataset'])} mAP {fmt(v['map'])}" for k, v in test.items()
                                 if v.get("iou_dataset") is not None)
                log(f"{key}: {summ} ({r.timing['inner_s'] + r.timing['outer_s']:.0f} s)")
            results[key] = res
            if "example_heatmaps" in res:
                heatmaps[key] = [np.asarray(h) for h in res["example_heatmaps"]]
            if LEARNS[run][1]:
                trajectories[key] = res["history"]
    names = [b.name for b in pools.banks]
    table = results_table(results, cfg) + weights_markdown(trajectories, names)
    atomic_json(out / "results.json", {k: {**{kk: vv for kk, vv in v.items() if kk != "history"},
                                           **({"final_weights": dict(zip(names, v["history"][-1]["weights"]))}
                                              if k in trajectories and v["history"] else {})}
                                       for k, v in results.items()})
    atomic_text(out / "results.md", "# Bi-level Cut&Paste results\n\nmean ± std over seeds " + str(cfg.seeds)
                + "\n\n" + table)
    if heatmaps:
        heatmap_figure(ex_imgs, heatmaps, out / "heatmaps.png")
    has_curves = any(r.get("curve") for r in results.values())
    if has_curves:
        curves_figure(results, out / "curves.png")
    if trajectories:
        weights_figure(trajectories, names, out / "weights.png")
        if any(d.kinds and len(d.kinds) == 1 for d in cfg.synthesis.defects.values()):
            from synthgen.learn.bilevel.patch import write_patch

            path, kw = write_patch(out)
            log(f"learned kind weights -> {path}: " + ", ".join(f"{k} x{w:g}" for k, w in kw.items()))
    log(table)
    log(f"wrote {out / 'results.md'}, results.json" + (", heatmaps.png" if heatmaps else "")
        + (", weights.png" if trajectories else "")
        + (", curves.png" if has_curves else ""))
    return results
