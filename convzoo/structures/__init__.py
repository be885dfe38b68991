"""Data structures mmdet lacks: le90 rotated boxes (box type ``'rbox'``, converters, rotated IoU)."""
from convzoo.structures.rotated_boxes import RotatedBoxes, poly_to_rbox, rbox_to_poly, regularize_le90, rotated_iou

__all__ = ['RotatedBoxes', 'poly_to_rbox', 'rbox_to_poly', 'regularize_le90', 'rotated_iou']
