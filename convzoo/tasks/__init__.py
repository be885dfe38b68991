"""Per-task code beyond what mmdet/mmseg ship: datasets, metrics, models, embedded data, inference adapters."""
from convzoo.tasks import detection, restoration, rotated, segmentation  # noqa: F401  (registration)
