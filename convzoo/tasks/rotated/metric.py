"""DOTA mAP: VOC-style average precision per class with rotated IoU, difficult objects ignored.

Per class, detections of all images are sorted by score; each is a true positive if its best-overlapping
ground-truth box of that class (rotated IoU >= threshold) is not yet matched, a false positive otherwise. A
detection whose best match is a difficult (ignored) object counts as neither, and difficult objects do not count
towards recall. AP is the area under the precision envelope (``'area'``, VOC2010+ / DOTA devkit) or the mean of the
envelope at recall 0, 0.1, ..., 1 (``'11points'``, VOC07). mAP averages classes that have ground truth.

:class:`DOTAMetric` can merge patch detections of split images back to full images first (``merge_patches``) and
then evaluates against the full images' label files (``full_ann_dir``), or writes DOTA Task1 submission files.
"""
from __future__ import annotations

import os
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from mmdet.registry import METRICS
from mmdet.structures.bbox import get_box_tensor
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from convzoo.structures.rotated_boxes import rbox_to_poly, regularize_le90, rotated_iou
from convzoo.tasks.rotated.dota import label_file_rboxes, read_label_file
from convzoo.tasks.rotated.split import merge_patch_detections, parse_patch_name


@dataclass
class ImageDetections:
    boxes: np.ndarray  # (N, 5) le90
    scores: np.ndarray
    labels: np.ndarray


@dataclass
class ImageTruth:
    boxes: np.ndarray  # (M, 5) le90
    labels: np.ndarray
    ignore: np.ndarray  # bool: difficult objects


def average_precision(recall: np.ndarray, precision: np.ndarray, mode: str = 'area') -> float:
    """AP from a precision/recall curve ordered by decreasing score."""
    if mode == '11points':
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0
                              for t in np.linspace(0, 1, 11)]))
    if mode != 'area':
        raise ValueError(f"AP mode must be 'area' or '11points', got {mode!r}")
    recall = np.concatenate([[0.0], recall, [1.0]])
    envelope = np.maximum.accumulate(np.concatenate([[0.0], precision, [0.0]])[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * envelope[steps + 1]))


def _match_class(dets: list[tuple[str, float, np.ndarray]], truths: dict[str, tuple[np.ndarray, np.ndarray]],
                 iou_thr: float) -> tuple[np.ndarray, np.ndarray]:
    """True/false-positive flags of one class's detections (image, score, box), sorted by decreasing score."""
    dets = sorted(dets, key=lambda d: -d[1])
    by_image = defaultdict(list)
    for i, (img, _, _) in enumerate(dets):
        by_image[img].append(i)
    best_gt, best_iou = np.full(len(dets), -1), np.zeros(len(dets))
    for img, index in by_image.items():
        boxes = truths.get(img, (np.zeros((0, 5)),))[0]
        if len(boxes):
            det_boxes = torch.from_numpy(np.array([dets[i][2] for i in index])).float()
            iou = rotated_iou(det_boxes, torch.from_numpy(boxes).float()).numpy()
            best_gt[index], best_iou[index] = iou.argmax(1), iou.max(1)
    tp, fp = np.zeros(len(dets)), np.zeros(len(dets))
    matched = {img: np.zeros(len(boxes), bool) for img, (boxes, _) in truths.items()}
    for i, (img, _, _) in enumerate(dets):
        gt = best_gt[i]
        if gt < 0 or best_iou[i] < iou_thr:
            fp[i] = 1
        elif truths[img][1][gt]:
            continue  # matched a difficult object: neither true nor false positive
        elif not matched[img][gt]:
            tp[i], matched[img][gt] = 1, True
        else:
            fp[i] = 1
    return tp, fp


def eval_rotated_map(detections: dict, truths: dict, num_classes: int, iou_thr: float = 0.5,
                     mode: str = 'area') -> tuple[float, list[dict]]:
    """mAP and per-class rows (ap, num_gts, num_dets, recall) for images keyed alike in both dicts."""
    rows = []
    for cls in range(num_classes):
        cls_truths = {img: (t.boxes[t.labels == cls], t.ignore[t.labels == cls]) for img, t in truths.items()}
        num_gts = int(sum((~ignore).sum() for _, ignore in cls_truths.values()))
        dets = [(img, float(s), b) for img, d in detections.items()
                for b, s in zip(d.boxes[d.labels == cls], d.scores[d.labels == cls])]
        tp, fp = _match_class(dets, cls_truths, iou_thr)
        tp_sum, fp_sum = np.cumsum(tp), np.cumsum(fp)
        recall = tp_sum / max(num_gts, 1)
        precision = tp_sum / np.maximum(tp_sum + fp_sum, np.finfo(np.float64).eps)
        # detections matched to difficult objects appear as neither tp nor fp: drop them from the curve
        counted = (tp + fp) > 0
        ap = average_precision(recall[counted], precision[counted], mode) if num_gts else 0.0
        rows.append(dict(ap=ap, num_gts=num_gts, num_dets=int(counted.sum()),
                         recall=float(recall[counted][-1]) if counted.any() else 0.0))
    with_gt = [r['ap'] for r in rows if r['num_gts'] > 0]
    return (float(np.mean(with_gt)) if with_gt else 0.0), rows


@METRICS.register_module()
class DOTAMetric(BaseMetric):
    """DOTA mAP (``dota/mAP`` plus ``dota/AP50``-style keys per IoU threshold).

    Args:
        iou_thrs: IoU threshold(s); mAP is their mean.
        eval_mode: 'area' (DOTA devkit) or '11points' (VOC07).
        merge_patches: the test images are patches named ``<image>__<size>__<x>___<y>`` (see
            :mod:`convzoo.tasks.rotated.split`): shift detections back and merge them per image with rotated NMS.
        merge_iou_thr: IoU threshold of that NMS.
        full_ann_dir: the full images' ``labelTxt`` folder, the ground truth after merging. Without it, merged
            results are only written (``outfile_prefix``), e.g. for the DOTA test server.
        outfile_prefix: folder for DOTA Task1 files ``Task1_<class>.txt`` (``image score x1 y1 ... y4``).
        ignore_difficult: ignore difficult objects of ``full_ann_dir`` (patch ground truth follows the dataset).
    """

    default_prefix = 'dota'

    def __init__(self, iou_thrs=0.5, eval_mode: str = 'area', merge_patches: bool = False,
                 merge_iou_thr: float = 0.1, full_ann_dir: str | None = None, outfile_prefix: str | None = None,
                 ignore_difficult: bool = True, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_thrs = [iou_thrs] if isinstance(iou_thrs, float) else list(iou_thrs)
        if eval_mode not in ('area', '11points'):
            raise ValueError(f"eval_mode must be 'area' or '11points', got {eval_mode!r}")
        if full_ann_dir and not merge_patches:
            raise ValueError('full_ann_dir is the ground truth of merged patches: set merge_patches=True')
        self.eval_mode, self.merge_patches, self.merge_iou_thr = eval_mode, merge_patches, merge_iou_thr
        self.full_ann_dir, self.outfile_prefix, self.ignore_difficult = full_ann_dir, outfile_prefix, ignore_difficult

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample.get('gt_instances', {})
            ignored = sample.get('ignored_instances', {})
            parts = [(x, flag) for x, flag in ((gt, False), (ignored, True)) if 'bboxes' in x]
            truth = ImageTruth(
                np.concatenate([boxes_to_numpy(x['bboxes']) for x, _ in parts] or [np.zeros((0, 5))]),
                np.concatenate([x['labels'].cpu().numpy() for x, _ in parts] or [np.zeros(0, np.int64)]),
                np.concatenate([np.full(len(x['labels']), flag) for x, flag in parts] or [np.zeros(0, bool)]))
            dets = ImageDetections(boxes_to_numpy(pred['bboxes']), pred['scores'].cpu().numpy(),
                                   pred['labels'].cpu().numpy())
            self.results.append((str(sample['img_id']), dets, truth))

    def compute_metrics(self, results: list) -> dict:
        classes = tuple(self.dataset_meta['classes'])
        detections = {img: dets for img, dets, _ in results}
        truths = {img: truth for img, _, truth in results}
        if self.merge_patches:
            detections = self._merge(detections)
            if self.outfile_prefix:
                write_task1_files(self.outfile_prefix, detections, classes)
            if not self.full_ann_dir:
                print_log(f'merged detections of {len(detections)} images written to {self.outfile_prefix}; no '
                          'full_ann_dir given, so no mAP', logger='current')
                return {}
            truths = {img: self._full_truth(img, classes) for img in detections}
        elif self.outfile_prefix:
            write_task1_files(self.outfile_prefix, detections, classes)
        metrics, table = {}, []
        for thr in self.iou_thrs:
            mean_ap, rows = eval_rotated_map(detections, truths, len(classes), thr, self.eval_mode)
            metrics[f'AP{round(thr * 100)}'] = round(mean_ap, 4)
            table.append((thr, rows))
        metrics['mAP'] = round(float(np.mean([metrics[f'AP{round(t * 100)}'] for t in self.iou_thrs])), 4)
        self._log_table(table, classes)
        return metrics

    def _merge(self, detections: dict) -> dict:
        per_image = defaultdict(list)
        for patch_id, dets in detections.items():
            image_id, x, y = parse_patch_name(patch_id)
            per_image[image_id].append((x, y, dets.boxes, dets.scores, dets.labels))
        merged = {}
        for image_id, patches in per_image.items():
            boxes, scores, labels = merge_patch_detections(patches, self.merge_iou_thr)
            merged[image_id] = ImageDetections(boxes, scores, labels)
        return merged

    def _full_truth(self, image_id: str, classes: tuple[str, ...]) -> ImageTruth:
        path = osp.join(self.full_ann_dir, f'{image_id}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(f'DOTAMetric: no label file {path} for merged image {image_id!r}')
        label = read_label_file(path, classes, unknown='skip')
        boxes, keep = label_file_rboxes(label, path)
        labels = np.array([classes.index(n) for n in label.names], np.int64)
        ignore = (label.difficult > 0) if self.ignore_difficult else np.zeros(len(labels), bool)
        return ImageTruth(boxes[keep], labels[keep], ignore[keep])

    def _log_table(self, table, classes) -> None:
        lines = []
        for thr, rows in table:
            lines.append(f'IoU {thr:.2f}: ' + ', '.join(f'{c} {r["ap"]:.3f} ({r["num_gts"]} gt)'
                                                         for c, r in zip(classes, rows)))
        print_log('DOTA per-class AP\n' + '\n'.join(lines), logger='current')


def boxes_to_numpy(boxes) -> np.ndarray:
    tensor = get_box_tensor(boxes) if not isinstance(boxes, np.ndarray) else torch.from_numpy(boxes)
    return regularize_le90(tensor.detach().cpu().double().reshape(-1, 5)).numpy()


def write_task1_files(folder: str, detections: dict, classes: tuple[str, ...]) -> None:
    """DOTA Task1 submission files: one per class, lines ``image score x1 y1 x2 y2 x3 y3 x4 y4``."""
    os.makedirs(folder, exist_ok=True)
    lines = defaultdict(list)
    for image_id, dets in sorted(detections.items()):
        polys = rbox_to_poly(dets.boxes)
        for poly, score, label in zip(polys, dets.scores, dets.labels):
            lines[int(label)].append(f'{image_id} {score:.4f} ' + ' '.join(f'{v:.2f}' for v in poly))
    for label, name in enumerate(classes):
        with open(osp.join(folder, f'Task1_{name}.txt'), 'w') as f:
            f.write('\n'.join(lines[label]) + ('\n' if lines[label] else ''))
