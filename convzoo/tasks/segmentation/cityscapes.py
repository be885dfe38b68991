"""Cityscapes: label preparation, the official evaluator as an mmseg metric, and checks of every loaded sample.

Layout (as downloaded, after preparation)::

    data/cityscapes/leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    data/cityscapes/gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png      (34 label ids)
                                                  ..._gtFine_instanceIds.png, ..._gtFine_polygons.json
                                                  ..._gtFine_labelTrainIds.png   (19 train ids, 255 = ignore)

``python -m convzoo.tasks.segmentation.cityscapes data/cityscapes`` writes the missing ``labelTrainIds`` files:
from ``*_polygons.json`` with cityscapesscripts' ``json2labelImg`` (what its ``createTrainIdLabelImgs`` script
does), or, where only ``*_labelIds.png`` exist, by mapping ids to train ids with cityscapesscripts' label table.

``CityscapesOfficialMetric`` runs cityscapesscripts' pixel-level evaluator on the predictions mmseg's ``IoUMetric``
sees, and reports its class mIoU (mmseg's ``CityscapesMetric`` reports only the category scores).
``CheckSegSample`` stops a label map that does not fit its image before it is mis-scored.
"""
from __future__ import annotations

if __name__ == '__main__':
    # `python -m convzoo.tasks.segmentation.cityscapes ROOT`: the package import has already run this module (and
    # registered its transform and metric) under its own name; run that module's main rather than this copy, whose
    # body would register them a second time.
    import sys

    from convzoo.tasks.segmentation.cityscapes import main
    sys.exit(main())

import argparse  # noqa: E402
import os  # noqa: E402
import os.path as osp  # noqa: E402
import sys  # noqa: E402
from glob import glob  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from mmcv.transforms import BaseTransform  # noqa: E402
from mmseg.evaluation.metrics import CityscapesMetric  # noqa: E402
from mmseg.registry import METRICS, TRANSFORMS  # noqa: E402
from PIL import Image  # noqa: E402

from convzoo.core.errors import AnnotationError, ConvzooError  # noqa: E402

IGNORE_INDEX = 255


class _NumpyWithIn1d:
    """numpy as cityscapesscripts' evaluator expects it: ``np.in1d`` (removed in numpy 2.4) for its iIoU step."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def in1d(values, test_values, assume_unique=False, invert=False):
        return np.isin(values, test_values, assume_unique=assume_unique, invert=invert).ravel()


def id_to_train_id_table() -> np.ndarray:
    """256-entry lookup table: Cityscapes label id -> train id (255 for labels not used in evaluation)."""
    from cityscapesscripts.helpers.labels import labels
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in labels:
        if 0 <= label.id < 256 and 0 <= label.trainId < IGNORE_INDEX:
            table[label.id] = label.trainId
    return table


def label_ids_to_train_ids(label_ids: np.ndarray, source: str = 'label map') -> np.ndarray:
    """Map a label-id image to train ids, refusing values that are not Cityscapes label ids."""
    from cityscapesscripts.helpers.labels import id2label
    unknown = [v for v in np.unique(label_ids).tolist() if v not in id2label]
    if unknown:
        raise AnnotationError(f'{source}: values {unknown[:8]} are not Cityscapes label ids (0-33)')
    return id_to_train_id_table()[label_ids.astype(np.int64)]


def _write_train_ids(stem: str, out: str) -> None:
    """One train-id map: from the polygons with cityscapesscripts when they exist, else from the label-id map."""
    polygons = f'{stem}_gtFine_polygons.json'
    if osp.exists(polygons):
        from cityscapesscripts.preparation.json2labelImg import json2labelImg
        json2labelImg(polygons, out, 'trainIds')
        return
    source = f'{stem}_gtFine_labelIds.png'
    label_ids = np.asarray(Image.open(source))
    if label_ids.ndim != 2:
        raise AnnotationError(f'{source}: a label-id map must have one channel, got shape {label_ids.shape}')
    Image.fromarray(label_ids_to_train_ids(label_ids, source)).save(out)


def prepare_train_ids(root: str | Path, overwrite: bool = False, log=print) -> int:
    """Write ``*_gtFine_labelTrainIds.png`` beside every ``*_gtFine_labelIds.png`` / ``*_polygons.json`` under
    ``root/gtFine``; returns how many were written."""
    gt_root = Path(root) / 'gtFine'
    if not gt_root.is_dir():
        raise FileNotFoundError(f'{gt_root} does not exist: expected the Cityscapes layout '
                                '<root>/gtFine/<split>/<city>/')
    stems = {p[:-len('_gtFine_polygons.json')] for p in glob(str(gt_root / '*' / '*' / '*_gtFine_polygons.json'))}
    stems |= {p[:-len('_gtFine_labelIds.png')] for p in glob(str(gt_root / '*' / '*' / '*_gtFine_labelIds.png'))}
    written = 0
    for stem in sorted(stems):
        out = f'{stem}_gtFine_labelTrainIds.png'
        if osp.exists(out) and not overwrite:
            continue
        partial = f'{stem}_gtFine_labelTrainIds.part.png'  # renamed when complete: an interrupted run leaves no map
        try:
            _write_train_ids(stem, partial)
            os.replace(partial, out)
        finally:
            if osp.exists(partial):
                os.remove(partial)
        written += 1
    log(f'[convzoo] {written} labelTrainIds file(s) written under {gt_root} ({len(stems)} annotated images)')
    return written


@TRANSFORMS.register_module()
class CheckSegSample(BaseTransform):
    """Refuse a sample whose label map would be mis-scored; place it right after ``LoadAnnotations``.

    Checks: the image has 3 channels (``LoadImageFromFile`` converts grayscale and drops alpha with its default
    ``color_type='color'``), the label map has one channel and the original image's height and width, and every
    label is a class index or ``ignore_index``. Errors name the files.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX):
        self.num_classes, self.ignore_index = num_classes, ignore_index

    def transform(self, results: dict) -> dict:
        img, seg = results['img'], results.get('gt_seg_map')
        img_path, seg_path = results.get('img_path', '<image>'), results.get('seg_map_path', '<label map>')
        if img.ndim != 3 or img.shape[2] != 3:
            raise AnnotationError(f'{img_path}: expected a 3-channel colour image, got shape {img.shape} '
                                  "(load it with LoadImageFromFile's default color_type='color' to convert)")
        if seg is None:
            return results
        if seg.ndim != 2:
            raise AnnotationError(f'{seg_path}: a label map must have one channel, got shape {seg.shape} '
                                  '(a colour-coded map? write class indices instead)')
        height, width = results.get('ori_shape', img.shape)[:2]  # test pipelines load labels after Resize
        if seg.shape != (height, width):
            raise AnnotationError(f'{seg_path}: label map size {seg.shape[1]}x{seg.shape[0]} differs from its image '
                                  f'{img_path} ({width}x{height})')
        values = np.unique(seg)
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)]
        if bad.size:
            raise AnnotationError(f'{seg_path}: label values {bad[:8].tolist()} are outside the classes '
                                  f'0-{self.num_classes - 1} and not the ignore index {self.ignore_index}')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index})'


@METRICS.register_module()
class CityscapesOfficialMetric(CityscapesMetric):
    """cityscapesscripts' pixel-level evaluator on the same predictions as ``IoUMetric``.

    Predictions (train ids) are written as label-id PNGs into ``output_dir`` and compared with the ground truth's
    ``*_gtFine_labelIds.png`` (and ``*_instanceIds.png`` for the instance-weighted iIoU). Reports, in percent:
    ``mIoU`` (class average, the number Cityscapes publishes), ``iIoU``, ``mIoU_category``, ``iIoU_category``,
    and ``IoU.<class>`` per class.
    """

    default_prefix = 'cityscapes'

    def __init__(self, output_dir: str = 'work_dirs/cityscapes_predictions', instance_level: bool = True,
                 **kwargs):
        super().__init__(output_dir=output_dir, **kwargs)
        self.prefix = kwargs.get('prefix') or self.default_prefix  # the parent resets it to None
        self.instance_level = instance_level

    def process(self, data_batch: dict, data_samples) -> None:
        for sample in data_samples:
            pred_shape = tuple(sample['pred_sem_seg']['data'].shape[-2:])
            gt = sample.get('seg_map_path', '').replace('labelTrainIds.png', 'labelIds.png')
            if not self.format_only and not osp.isfile(gt):
                raise AnnotationError(f'{gt}: the official Cityscapes evaluator needs the label-id ground truth '
                                      "beside the labelTrainIds file (the dataset's original gtFine files)")
            if not self.format_only and Image.open(gt).size[::-1] != pred_shape:
                raise AnnotationError(f'{gt}: size {Image.open(gt).size} differs from the prediction for '
                                      f'{sample["img_path"]} ({pred_shape[1]}x{pred_shape[0]})')
        super().process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict:
        import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as official
        if self.format_only:
            return {}
        if not hasattr(np, 'in1d'):
            official.np = _NumpyWithIn1d()
        official.args.predictionPath = osp.abspath(self.output_dir)
        official.args.evalInstLevelScore = self.instance_level
        official.args.evalPixelAccuracy = True
        official.args.JSONOutput = False
        official.args.quiet = True
        predictions, ground_truths = zip(*results)
        scores = official.evaluateImgLists(list(predictions), list(ground_truths), official.args)
        metrics = {'mIoU': scores['averageScoreClasses'], 'mIoU_category': scores['averageScoreCategories']}
        if self.instance_level:
            metrics.update(iIoU=scores['averageScoreInstClasses'], iIoU_category=scores['averageScoreInstCategories'])
        metrics.update({f'IoU.{name}': value for name, value in scores['classScores'].items()
                        if not np.isnan(value)})
        return {key: round(float(value) * 100, 2) for key, value in metrics.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Write Cityscapes *_gtFine_labelTrainIds.png files (from '
                                     '*_polygons.json with cityscapesscripts, else from *_labelIds.png).')
    parser.add_argument('root', help='Cityscapes root holding leftImg8bit/ and gtFine/')
    parser.add_argument('--overwrite', action='store_true', help='rewrite existing labelTrainIds files')
    args = parser.parse_args(argv)
    try:
        prepare_train_ids(args.root, overwrite=args.overwrite)
    except (ConvzooError, FileNotFoundError) as err:  # a wrong root or a bad label map: one line naming the file
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0

