"""Running an exported detector or segmentor with onnxruntime in the PyTorch model's place.

:class:`OnnxModel` answers ``test_step(data)`` as the mmdet/mmseg model does: it takes the batch packed by the
config's test pipeline, preprocesses each image as the model's data preprocessor does (BGR -> RGB, (x - mean) /
std, padding bottom/right, here to the file's fixed input size), runs the ONNX network, post-processes
(:mod:`convzoo.deploy.postprocess`) and returns the data samples with ``pred_instances`` (bboxes, scores, labels)
or ``pred_sem_seg`` and ``seg_logits``. Everything it needs is in the file's metadata
(:mod:`convzoo.deploy.model_export`), so no config or checkpoint is read.

The results equal PyTorch's when the image pads to the same size in both (e.g. a square image for a square
input); otherwise the network sees more padding than PyTorch's (which pads to the divisor only) and scores near
the bottom/right border can differ slightly.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData, PixelData

from convzoo.core.errors import ConfigError, SourceError
from convzoo.deploy.graph import onnx_session, read_metadata
from convzoo.deploy.postprocess import DetectionDecoder, segmentation_result


class OnnxModel:
    """An exported detector or segmentor (a file written by ``convzoo export``) behind ``test_step``."""

    def __init__(self, path: str, threads: int | None = None):
        self.path = path
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path}: no such ONNX file')
        try:
            self.session = onnx_session(path, threads)
        except Exception as err:  # noqa: BLE001  (onnxruntime raises its own types for unreadable files)
            raise ConfigError(f'{path}: onnxruntime cannot load it: {str(err).splitlines()[0]}') from None
        self.meta = read_metadata(self.session)
        if self.meta.get('task') not in ('detection', 'segmentation'):
            raise ConfigError(f'{path}: not a detector or segmentor exported by convzoo (its metadata has no '
                              'task; re-export it with `convzoo export`)')
        spec = self.meta['input']
        self.input_shape = tuple(spec['shape'][2:])
        self.mean = torch.tensor(spec['mean']).view(-1, 1, 1)
        self.std = torch.tensor(spec['std']).view(-1, 1, 1)
        self.decoder = DetectionDecoder(self.meta['head']) if self.meta['task'] == 'detection' else None
        seg = self.meta.get('segmentation', {})
        self.align_corners, self.threshold = seg.get('align_corners', False), seg.get('threshold', 0.3)
        self.test_cfg: dict = {}  # what callers of a segmentor read (e.g. whether a CRF runs): nothing here

    @property
    def dataset_meta(self) -> dict:
        """Class names and palette, as a checkpoint's ``meta['dataset_meta']`` holds them."""
        meta = dict(classes=tuple(self.meta['classes']))
        if self.meta.get('palette'):
            meta['palette'] = [tuple(colour) for colour in self.meta['palette']]
        return meta

    def to(self, device) -> OnnxModel:
        if torch.device(device).type != 'cpu':
            raise ConfigError(f'{self.path}: the onnxruntime path runs on the CPU (device {device} asked for)')
        return self

    def eval(self) -> OnnxModel:
        return self

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """One packed image (3, h, w) as the network's input (1, 3, H, W)."""
        spec = self.meta['input']
        x = image[[2, 1, 0]] if spec['bgr_to_rgb'] else image
        x = (x.float() - self.mean) / self.std
        height, width = self.input_shape
        if x.shape[1] > height or x.shape[2] > width:
            raise SourceError(f'{self.path}: an image of {x.shape[1]}x{x.shape[2]} after the test pipeline does not '
                              f'fit the ONNX input of {height}x{width}; export with --input-size covering it')
        return F.pad(x, (0, width - x.shape[2], 0, height - x.shape[1]), value=spec['pad_value'])[None]

    def run(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """The network's raw outputs for one input (1, 3, H, W)."""
        return [torch.from_numpy(o) for o in self.session.run(None, {'input': inputs.numpy()})]

    def test_step(self, data: dict) -> list:
        """The data samples of a packed batch with their predictions, as the PyTorch model's ``test_step``."""
        samples = []
        for image, sample in zip(data['inputs'], data['data_samples']):
            sample.set_metainfo(dict(batch_input_shape=self.input_shape, pad_shape=self.input_shape))
            outputs = self.run(self.preprocess(image))
            predict = self._detect if self.decoder is not None else self._segment
            samples.append(predict(outputs, sample))
        return samples

    def _detect(self, outputs: list[torch.Tensor], sample):
        levels = len(outputs) // 2
        boxes, scores, labels = self.decoder([o[0] for o in outputs[:levels]], [o[0] for o in outputs[levels:]],
                                             sample.metainfo['img_shape'], sample.metainfo['scale_factor'])
        sample.pred_instances = InstanceData(bboxes=boxes, scores=scores, labels=labels)
        return sample

    def _segment(self, outputs: list[torch.Tensor], sample):
        meta = sample.metainfo
        scores, labels = segmentation_result(outputs[0], self.input_shape, meta['img_shape'], meta['ori_shape'],
                                             self.align_corners, self.threshold)
        sample.seg_logits = PixelData(data=scores)
        sample.pred_sem_seg = PixelData(data=labels)
        return sample
