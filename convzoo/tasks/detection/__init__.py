"""Detection task: the embedded COCO-format dataset, COCO annotation checks, the inference adapter."""
from convzoo.tasks.detection import inference, shapes  # noqa: F401  (registers the dataset and the adapter)
from convzoo.tasks.detection.shapes import CLASSES as SHAPE_CLASSES

__all__ = ['SHAPE_CLASSES']
