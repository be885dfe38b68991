"""Detection task: the embedded COCO-format dataset and COCO annotation checks."""
from convzoo.tasks.detection import shapes  # noqa: F401  (registers the embedded dataset)
from convzoo.tasks.detection.shapes import CLASSES as SHAPE_CLASSES

__all__ = ['SHAPE_CLASSES']
