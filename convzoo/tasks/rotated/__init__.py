"""Rotated object detection on mmdet 3.3 without mmrotate: le90 rotated boxes, anchors, delta coder and IoU,
Rotated RetinaNet head, the DOTA v1.0 format/dataset/metric, image splitting and merging, the embedded DOTA-format
dataset ``dota_objects`` and the inference adapter. Everything registers into mmdet's registries.
"""
from convzoo.tasks.rotated import (boxes, dota, embedded, inference, metric, rotated_retina_head,  # noqa: F401
                                   split, task_utils)
from convzoo.tasks.rotated.boxes import RotatedBoxes, poly_to_rbox, rbox_to_poly, regularize_le90, rotated_iou
from convzoo.tasks.rotated.dota import DOTA_V1_CLASSES, DOTADataset
from convzoo.tasks.rotated.metric import DOTAMetric, eval_rotated_map

__all__ = ['RotatedBoxes', 'poly_to_rbox', 'rbox_to_poly', 'regularize_le90', 'rotated_iou', 'DOTA_V1_CLASSES',
           'DOTADataset', 'DOTAMetric', 'eval_rotated_map']
