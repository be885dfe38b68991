"""COCO bbox evaluation with extra object-size bins: AI-TOD's very tiny / tiny / small / medium.

AI-TOD (Wang et al., "Tiny Object Detection in Aerial Images", ICPR 2020) splits objects by the square root of
their box area: very tiny 2-8 px, tiny 8-16 px, small 16-32 px, medium 32-64 px. COCO's own bins (small < 32 px,
medium 32-96, large > 96) lump every tiny object into "small", which hides what tiny-object methods change.

``SizeBinCocoMetric`` (mmdet METRICS) reports everything ``CocoMetric`` does and, for bbox,
``bbox_mAP_vt``, ``bbox_mAP_t``, ``bbox_mAP_s_aitod``, ``bbox_mAP_m_aitod`` (AP@[.5:.95] inside each bin, the same
maximum detections as the overall AP); -1 marks a bin without ground truth, as in pycocotools.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmdet.datasets.api_wrappers import COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import load
from mmengine.logging import print_log

# result key suffix -> (min side, max side) in pixels, on sqrt(box area)
AITOD_BINS = {'vt': (2, 8), 't': (8, 16), 's_aitod': (16, 32), 'm_aitod': (32, 64)}


def size_bin_ap(coco_gt, detections: list[dict], bins: dict[str, tuple[float, float]], cat_ids, img_ids,
                iou_thrs, max_dets: int) -> dict[str, float]:
    """AP@iou_thrs of ``detections`` (COCO result dicts) restricted to each size bin of ``bins``."""
    if not detections:
        return {name: 0.0 for name in bins}
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(detections), 'bbox')
    evaluator.params.catIds, evaluator.params.imgIds = list(cat_ids), list(img_ids)
    evaluator.params.iouThrs = np.asarray(iou_thrs)
    evaluator.params.maxDets = [max_dets]
    evaluator.params.areaRng = [[lo ** 2, hi ** 2] for lo, hi in bins.values()]
    evaluator.params.areaRngLbl = list(bins)
    evaluator.evaluate()
    evaluator.accumulate()
    precision = evaluator.eval['precision']  # (iou, recall, class, area, max dets)
    results = {}
    for index, name in enumerate(bins):
        valid = precision[:, :, :, index, -1]
        valid = valid[valid > -1]
        results[name] = round(float(valid.mean()), 3) if valid.size else -1.0
    return results


@METRICS.register_module()
class SizeBinCocoMetric(CocoMetric):
    """``CocoMetric`` plus AP per extra size bin (default: AI-TOD's); see the module docstring."""

    def __init__(self, *args, size_bins: dict[str, Sequence[float]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.size_bins = {k: tuple(v) for k, v in (size_bins or AITOD_BINS).items()}
        self._bbox_detections: list[dict] = []

    def results2json(self, results, outfile_prefix):
        files = super().results2json(results, outfile_prefix)
        self._bbox_detections = load(files['bbox'])  # the temporary files are gone once compute_metrics ends
        return files

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if 'bbox' in self.metrics and not self.format_only:
            extra = size_bin_ap(self._coco_api, self._bbox_detections, self.size_bins, self.cat_ids,
                                self.img_ids, self.iou_thrs, self.proposal_nums[-1])
            print_log('AP by object size (sqrt of box area): ' + ', '.join(
                f'{name} {lo}-{hi}px: {extra[name]:.3f}' for name, (lo, hi) in self.size_bins.items()),
                logger='current')
            metrics.update({f'bbox_mAP_{name}': value for name, value in extra.items()})
        self._bbox_detections = []
        return metrics
