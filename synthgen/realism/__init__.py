"""Realism you can measure: how far a rendered dataset's defects are from real photos of them.

- ``sources``: REAL and RENDERED as lists of defect instances and healthy images, from any source
  the learn side reads (a split json, a folder of images and masks, a COCO file, a synthgen
  dataset);
- ``stats``: per-instance geometry (size, position, border distance) and look (contrast to the
  surroundings, edge sharpness, width of thin defects, noise), and per-image look of healthy
  images; Kolmogorov-Smirnov distances between the two sides;
- ``classifier``: a small CNN that tells real from rendered crops (50 % = indistinguishable);
- ``sheet``: contact sheets of real and rendered crops with their masks;
- ``report``: ``synthgen realism REAL RENDERED`` (realism.md, realism.json, figures);
- ``fit``: ``synthgen fit CONFIG REAL --kind K``, calibration of one defect kind's ranges.
"""
