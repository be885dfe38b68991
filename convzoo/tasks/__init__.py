"""What is specific to each task, and nothing else: datasets, transforms, metrics, embedded data and the inference
adapter (``tasks/<task>/inference.py``, found by :mod:`convzoo.apis`). The models live in their rooms."""
from convzoo.tasks import detection, restoration, rotated, segmentation  # noqa: F401  (registration)
