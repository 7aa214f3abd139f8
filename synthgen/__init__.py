"""synthgen: synthetic labelled data for defect segmentation in manufacturing inspection."""

__version__ = "0.1.0"
