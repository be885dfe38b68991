"""Segmentation task on mmsegmentation: Cityscapes preparation and official evaluation, the embedded
Cityscapes-layout dataset and the inference adapter."""
from convzoo.tasks.segmentation import cityscapes, embedded_cityscapes  # noqa: F401  (registration)
