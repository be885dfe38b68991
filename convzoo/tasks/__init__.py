"""Per-task code beyond what mmdet/mmseg ship: datasets, metrics, models and embedded data."""
from convzoo.tasks import detection  # noqa: F401
