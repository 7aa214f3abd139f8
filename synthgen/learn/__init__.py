"""The learning side of synthgen (PyTorch; never imports bpy).

- ``common/``: what every learner shares: config sections (``config``), source readers
  (``sources``) and decoding / size policy / mixes (``data``), augmentations, the U-Net,
  metrics (pixel, box, image-level ``decision``), the training loop's pieces (``loop``:
  device, normalisation, loss, DataLoader, mixed precision, prediction), checkpoints, figures
  and atomic output (``io``).
- ``seg/``: ``synthgen seg``: train, eval, predict, split, experiment.
- ``bilevel/``: ``synthgen bilevel``: learned Cut&Paste (paste, hypergradients, synthesis,
  training, report).
- ``vqgen/``: ``synthgen vqgen``: VQ-VAE + PixelCNN image+mask generator (train, sample).
"""
