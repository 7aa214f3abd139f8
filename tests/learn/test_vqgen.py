"""VQ-VAE + PixelCNN joint image+mask generation (``synthgen vqgen``)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from synthgen.cli import main
from synthgen.config.loading import load_config
from synthgen.learn.vqgen.config import VQGenConfig
from synthgen.learn.vqgen.pixelcnn import GatedLayer, GatedPixelCNN
from synthgen.learn.vqgen.sample import degenerate_reason, load_checkpoint, models_from_checkpoint, sample
from synthgen.learn.vqgen.train import train
from synthgen.learn.vqgen.vqvae import VectorQuantizer

# ----------------------------------------------------------------------------- causality


def _grad_map(fn, c: int, H: int, W: int, p: tuple[int, int], seed: int = 0) -> np.ndarray:
    """|d out[:, p] / d x| summed over channels, for a random input (B=1, c, H, W)."""
    torch.manual_seed(seed)
    x = torch.randn(1, c, H, W, dtype=torch.double, requires_grad=True)
    out = fn(x)
    out[0, :, p[0], p[1]].sum().backward()
    return x.grad.abs().sum(1)[0].numpy()


def _check_causal(g: np.ndarray, p: tuple[int, int], include_self: bool, row_only: bool = False) -> None:
    W = g.shape[1]
    flat = g.flatten()
    pos = p[0] * W + p[1]
    first_forbidden = pos + 1 if include_self else pos
    assert np.all(flat[first_forbidden:] == 0.0), f"leak: gradient at/after {p} in raster order"
    if (p[1] > 0) if row_only else (pos > 0):
        assert np.count_nonzero(flat[:pos]) > 0, f"output at {p} ignores every earlier position"


POSITIONS = [(0, 0), (0, 3), (2, 0), (3, 3), (4, 6), (6, 6)]


@pytest.mark.parametrize("p", POSITIONS)
def test_gated_layer_type_a_is_strictly_causal(p):
    torch.manual_seed(0)
    layer = GatedLayer(6, kernel=5, mask_type="A").double()
    g_h = _grad_map(lambda x: layer(x, x)[1], 6, 7, 7, p)
    _check_causal(g_h, p, include_self=False)
    # the vertical stack only sees rows strictly above
    g_v = _grad_map(lambda x: layer(x, x)[0], 6, 7, 7, p)
    assert np.all(g_v[p[0]:] == 0.0)


@pytest.mark.parametrize("p", POSITIONS)
def test_gated_layer_type_b_sees_itself_but_nothing_later(p):
    torch.manual_seed(0)
    layer = GatedLayer(6, kernel=3, mask_type="B").double()
    # type B on a raw input: the horizontal stack includes the current position, never later ones
    g_h = _grad_map(lambda x: layer(torch.zeros_like(x), x)[1], 6, 7, 7, p)
    _check_causal(g_h, p, include_self=True, row_only=True)
    assert g_h[p] > 0
    assert np.all(np.delete(g_h, p[0], axis=0) == 0)   # the horizontal stack stays in its row


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("p", POSITIONS)
def test_full_gated_pixelcnn_is_causal_without_blind_spot(p, conditional):
    torch.manual_seed(1)
    m = GatedPixelCNN(num_codes=11, channels=8, layers=4, kernel=3, num_classes=3 if conditional else 0).double()
    cls = torch.tensor([2]) if conditional else None
    g = _grad_map(lambda x: m.forward_embedded(x, cls), 8, 7, 7, p)
    _check_causal(g, p, include_self=False)
    i, j = p
    # no blind spot: the neighbours above-left, above, above-right and left all count
    for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):
        if 0 <= i + di < 7 and 0 <= j + dj < 7:
            assert g[i + di, j + dj] > 0, f"blind spot at offset {(di, dj)} of {p}"


def test_pixelcnn_sampling_matches_full_forward():
    """The row-cropped forward used while sampling gives the same logits as the full map."""
    torch.manual_seed(2)
    m = GatedPixelCNN(9, 8, 3, 3).eval()
    codes = torch.randint(0, 9, (2, 5, 5))
    full = m(codes)
    for i in range(5):
        assert torch.allclose(m(codes[:, : i + 1])[:, :, i], full[:, :, i], atol=1e-5)


# ----------------------------------------------------------------------------- codebook


@pytest.mark.parametrize("ema", [True, False])
def test_dead_codes_are_revived(ema):
    vq = VectorQuantizer(8, 2, ema=ema, decay=0.9)
    with torch.no_grad():
        vq.embed[:4] = torch.randn(4, 2) * 0.5
        vq.embed[4:] = 1000.0            # far from every input: never chosen
    g = torch.Generator().manual_seed(0)
    vq.train()
    for _ in range(5):
        vq(torch.randn(64, 2, 1, 1, generator=g))
    assert torch.all(vq.idle_steps[4:] == 5)
    assert vq.revive(10, g) == 0         # not idle long enough yet
    assert vq.revive(5, g) == 4
    assert torch.all(vq.embed[4:].abs() < 10)
    assert torch.all(vq.idle_steps == 0)
    out = vq(torch.randn(256, 2, 1, 1, generator=g))
    used = torch.bincount(out["codes"].flatten(), minlength=8)
    assert (used[4:] > 0).sum() >= 2, f"revived codes still unused: {used.tolist()}"


# ----------------------------------------------------------------------------- toy model


def make_blob_dataset(root: Path, n: int = 24, size: int = 32, seed: int = 0) -> Path:
    """Bright blobs on a dark noisy background; masks = blob pixels."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:size, :size]
    for k in range(n):
        img = np.clip(rng.normal(40, 8, (size, size)), 0, 255)
        mask = np.zeros((size, size), bool)
        for _ in range(rng.integers(1, 3)):
            cy, cx = rng.uniform(6, size - 6, 2)
            ry, rx = rng.uniform(3, 7, 2)
            mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        img[mask] = np.clip(rng.normal(210, 10, mask.sum()), 0, 255)
        cv2.imwrite(str(root / "images" / f"toy{k:03d}.png"), img.astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"toy{k:03d}.png"), mask.astype(np.uint8) * 255)
    return root


TOY_CONFIG = """
out: out
data: {kind: folder, path: data, mode: resize, size: 32, flips: true}
vqvae: {hidden: 32, downsample: 2, res_blocks: 1, codebook_size: 32, embed_dim: 16, dead_code_steps: 50,
        defect_weight: 3.0}
pixelcnn: {channels: 32, layers: 4, kernel: 3, conditional: true}
train: {vqvae_steps: 300, prior_steps: 200, batch_size: 16, lr: 0.003, prior_lr: 0.003, seed: 0,
        device: cpu, threads: 2, log_every: 25}
sample: {min_mask_pixels: 4, batch_size: 32}
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqgen_toy")
    make_blob_dataset(root / "data")
    (root / "vqgen.yaml").write_text(TOY_CONFIG)
    cfg = load_config(root / "vqgen.yaml", VQGenConfig)
    ck = train(cfg, progress=False, log=lambda s: None)
    return root, ck


def test_train_writes_outputs_and_recon_loss_falls(toy):
    root, _ = toy
    out = root / "out"
    for f in ("loss_curves.png", "reconstructions.png", "samples_preview.png", "history.json",
              "checkpoints/vqvae.pt", "checkpoints/vqgen.pt"):
        assert (out / f).is_file(), f
    hist = json.loads((out / "history.json").read_text())
    first, last = hist["vqvae"][0], hist["vqvae"][-1]
    assert last["image_mse"] < 0.5 * first["image_mse"]
    assert last["mask_bce"] < 0.5 * first["mask_bce"]
    assert hist["prior"][-1]["nll_bits"] < hist["prior"][0]["nll_bits"]


def test_codes_in_range(toy):
    _, ck = toy
    c = load_checkpoint(ck)
    cfg, model, prior = models_from_checkpoint(c, torch.device("cpu"))
    x = torch.rand(8, 2, 32, 32) * 2 - 1
    codes = model.encode(x)
    K = cfg.vqvae.codebook_size
    assert codes.shape == (8, 8, 8) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < K
    s = prior.sample(4, (8, 8), torch.zeros(4, dtype=torch.long), torch.Generator().manual_seed(0))
    assert int(s.min()) >= 0 and int(s.max()) < K


def test_sampling_is_deterministic_per_seed(toy):
    _, ck = toy
    c = load_checkpoint(ck)
    _, _, prior = models_from_checkpoint(c, torch.device("cpu"))
    cls = torch.zeros(6, dtype=torch.long)

    def draw(seed):
        return prior.sample(6, (8, 8), cls, torch.Generator().manual_seed(seed))

    a, b, other = draw(3), draw(3), draw(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, other)


def test_sample_cli_writes_pairs_and_masks_match_bright_content(toy, tmp_path):
    _, ck = toy
    out = tmp_path / "gen"
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "sample", str(ck), "--num", "24", "--out", str(out), "--seed", "5", "--quiet"])
    assert e.value.code == 0
    meta = json.loads((out / "samples.json").read_text())
    written = [s for s in meta["samples"] if s["written"]]
    assert meta["num_written"] == len(written) == 24
    assert (out / "grid.png").is_file()
    diffs = []
    for s in written:
        img = cv2.imread(str(out / "images" / f"{s['name']}.png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / "masks" / f"{s['name']}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == mask.shape == (32, 32) and img.dtype == mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255}
        assert s["degenerate"] is None and s["class"] == "defect"
        m = mask > 127
        assert m.sum() >= 4
        diffs.append(img[m].mean() - img[~m].mean())
    diffs = np.array(diffs)
    # blobs are ~210 on a ~40 background: generated masks must sit on the bright content
    assert np.median(diffs) > 80, diffs
    assert np.mean(diffs > 40) >= 0.9, diffs
    # same seed -> same files
    out2 = tmp_path / "gen2"
    sample(ck, 24, out2, seed=5, progress=False, log=lambda s: None)
    for s in written[:5]:
        a = cv2.imread(str(out / "images" / f"{s['name']}.png"))
        b = cv2.imread(str(out2 / "images" / f"{s['name']}.png"))
        assert np.array_equal(a, b)


def test_degenerate_masks_are_dropped_or_flagged(toy, tmp_path):
    _, ck = toy
    probe = sample(ck, 10, tmp_path / "probe", seed=1, min_mask_pixels=1, on_degenerate="keep",
                   progress=False, log=lambda s: None)
    sizes = sorted(s["mask_pixels"] for s in probe["samples"])
    assert sizes[-1] > sizes[0], sizes  # generated blobs vary in size
    thr = sizes[-1]  # at least the largest passes, at least the smallest is "empty"
    kept = sample(ck, 10, tmp_path / "keep", seed=1, min_mask_pixels=thr, on_degenerate="keep",
                  progress=False, log=lambda s: None)
    assert kept["num_written"] == 10
    assert 1 <= kept["num_degenerate"] <= 9
    for s in kept["samples"]:
        assert s["written"]
        assert (s["degenerate"] == "empty") == (s["mask_pixels"] < thr)
    dropped = sample(ck, 10, tmp_path / "drop", seed=1, min_mask_pixels=thr, on_degenerate="drop",
                     progress=False, log=lambda s: None)
    files = sorted(p.stem for p in (tmp_path / "drop" / "masks").glob("*.png"))
    assert files == sorted(s["name"] for s in dropped["samples"] if s["written"])
    for name in files:
        assert (cv2.imread(str(tmp_path / "drop" / "masks" / f"{name}.png"), 0) > 127).sum() >= thr
    assert all(not s["written"] for s in dropped["samples"] if s["degenerate"])
    # same seed, same stream: drop mode keeps exactly keep mode's non-degenerate draws
    first = dropped["samples"][:10]
    assert [s["mask_pixels"] for s in first] == [s["mask_pixels"] for s in kept["samples"]]
    assert dropped["num_drawn"] <= 10 * 5 and dropped["num_degenerate"] >= 1
    assert dropped["num_written"] == 10 or dropped["num_drawn"] == 50, (
        f"drop mode stopped early: {dropped['num_written']} of 10 written after {dropped['num_drawn']} of at most "
        "50 draws")
    assert degenerate_reason(np.zeros((8, 8), bool), "healthy", 4, 0.9) is None
    assert degenerate_reason(np.ones((8, 8), bool), "defect", 4, 0.9) == "too_large"


# ----------------------------------------------------------------------------- CLI errors


def test_bad_config_is_one_line_error(tmp_path, capsys):
    make_blob_dataset(tmp_path / "data", n=2)
    bad = TOY_CONFIG.replace("codebook_size: 32", "codebook_size: 1")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "train", str(tmp_path / "bad.yaml")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'bad.yaml'}: vqvae.codebook_size: Input should be greater than or equal to 2 (got 1)"]
    (tmp_path / "bad2.yaml").write_text(TOY_CONFIG.replace("size: 32,", "size: 30,"))
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "train", str(tmp_path / "bad2.yaml")])
    assert e.value.code == 2
    assert "data.size: 30 is not divisible by 2**vqvae.downsample = 4" in capsys.readouterr().err
    (tmp_path / "bad3.yaml").write_text(TOY_CONFIG.replace("kind: folder, path: data", "kind: folder, path: nope"))
    with pytest.raises(SystemExit):
        main(["vqgen", "train", str(tmp_path / "bad3.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.path" in err[0] and "images/ and masks/" in err[0]
    # an image without its mask names the image and this config's field, not a seg-only setting
    (tmp_path / "data" / "masks" / "toy001.png").unlink()
    (tmp_path / "ok.yaml").write_text(TOY_CONFIG)
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "train", str(tmp_path / "ok.yaml")])
    assert e.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "toy001.png" in err[0] and "data.path" in err[0] and "missing_mask" not in err[0]


def test_bad_checkpoint_is_one_line_error(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "sample", str(junk), "--num", "1", "--out", str(tmp_path / "o")])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(junk) in err[0] and "Traceback" not in err[0]


def test_cuda_requested_without_cuda_is_clear(toy, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    _, ck = toy
    with pytest.raises(SystemExit) as e:
        main(["vqgen", "sample", str(ck), "--num", "1", "--out", str(tmp_path / "o"), "--device", "cuda"])
    assert e.value.code == 1
    assert "cuda requested but no CUDA device is available" in capsys.readouterr().err


MT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "magnetic_tile"


@pytest.mark.data
@pytest.mark.skipif(not (MT / "split.json").is_file(), reason=f"magnetic tile data not found at {MT}")
def test_magnetic_tile_config_loads_and_crops():
    from synthgen.learn.vqgen.data import PairSampler, load_pairs

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "vqgen_magnetic_tile.yaml", VQGenConfig)
    sampler = PairSampler(load_pairs(cfg.data), cfg.data)
    assert "healthy" in sampler.classes and "Blowhole" in sampler.classes
    x, y = sampler.draw(16, np.random.default_rng(0))
    assert x.shape == (16, 2, 64, 64)
    defect = y != sampler.classes.index("healthy")
    assert np.all((x[defect, 1] > 0).any(axis=(1, 2)))   # defect crops contain defect pixels
    assert not np.any(x[~defect, 1] > 0)
