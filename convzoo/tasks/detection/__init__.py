"""Detection task: the embedded COCO-format datasets, COCO annotation checks and size-bin metric, DN-FPN, the
inference adapter and the demo video."""
from convzoo.tasks.detection import (demo_video, dn_fpn, inference, shapes, shapes_tiny,  # noqa: F401  (registration)
                                     size_bin_metric, ssd_fix)
from convzoo.tasks.detection.shapes import CLASSES as SHAPE_CLASSES

__all__ = ['SHAPE_CLASSES']
