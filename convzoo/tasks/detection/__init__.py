"""Detection task: the embedded COCO-format datasets, COCO annotation validation, the size-bin (tiny object)
metric and the inference adapter."""
from convzoo.tasks.detection import shapes, shapes_tiny, size_bin_metric  # noqa: F401  (registration)
from convzoo.tasks.detection.shapes import CLASSES as SHAPE_CLASSES

__all__ = ['SHAPE_CLASSES']
