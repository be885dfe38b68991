"""Rotated object detection on mmdet 3.3 without mmrotate: the DOTA v1.0 format, dataset and metric, image
splitting and merging, the embedded DOTA-format dataset ``dota_objects`` and the inference adapter."""
from convzoo.tasks.rotated import dota, embedded, metric, split  # noqa: F401  (registration)
from convzoo.tasks.rotated.dota import DOTA_V1_CLASSES, DOTADataset
from convzoo.tasks.rotated.metric import DOTAMetric, eval_rotated_map

__all__ = ['DOTA_V1_CLASSES', 'DOTADataset', 'DOTAMetric', 'eval_rotated_map']
