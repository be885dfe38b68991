"""Detection suites: RCNet vs FPN (RetinaNet R50), DN-FPN's inference cost, video through the inference API.

    python tools/benchmark.py --suite rcnet --suite dn_fpn --suite video
"""
import os
import os.path as osp
import tempfile

import cv2
import torch
from mmengine.dataset import pseudo_collate

from convzoo.core.benchmark import build_for_timing, report, time_round_robin


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _plain_fusion_convs(model_cfg: dict) -> None:
    model_cfg.neck.out_conv_cfg = dict(type='Conv2d')


def bench_rcnet(args, size: int = 640) -> list:
    """RetinaNet R50 with RCNet vs with FPN: latency of the network forward, neck parameters, where time goes."""
    models = {'RetinaNet-FPN (baseline)': build_for_timing('configs/sepc/retinanet_r50_fpn_1x_coco.py'),
              'RCNet RetinaNet': build_for_timing('configs/rcnet/retinanet_r50_rcnet_1x_coco.py'),
              # the same neck with plain 3x3 fusion convs: no offsets, no sampling; what RCNet's other convs and
              # its attention, gates and CSN cost by themselves (a floor for the DCNv2 version)
              'RCNet, plain 3x3 fusion convs (floor)': build_for_timing(
                  'configs/rcnet/retinanet_r50_rcnet_1x_coco.py', edit=_plain_fusion_convs)}
    x = torch.randn(1, 3, size, size)
    fpn, rcnet = models['RetinaNet-FPN (baseline)'].neck, models['RCNet RetinaNet'].neck
    print(f'\nNeck parameters: FPN {count(fpn) / 1e6:.3f} M, RCNet {count(rcnet) / 1e6:.3f} M '
          f'(ratio {count(rcnet) / count(fpn):.3f}; the paper: RCNet has fewer than FPN)')
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x, mode='tensor')) for n, m in models.items()}, args.repeats)
        rows = report(f'Detector latency, R50, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), '
                      'network forward (post-processing excluded)', times, 'RetinaNet-FPN (baseline)',
                      {'RCNet RetinaNet': 1.05})
        feats = models['RetinaNet-FPN (baseline)'].backbone(x)
        pyramid = rcnet.reverse_pyramid(rcnet.lateral_levels(feats))
        parts = time_round_robin({
            'FPN neck': lambda: fpn(feats),
            'RCNet neck': lambda: rcnet(feats),
            'RCNet laterals + pooled levels': lambda: rcnet.lateral_levels(feats),
            'RCNet RevFP (8 DCNv2 fusion convs)': lambda: rcnet.reverse_pyramid(rcnet.lateral_levels(feats)),
            'RCNet CSN': lambda: rcnet.csn(pyramid),
            'ResNet-50 backbone': lambda: models['RetinaNet-FPN (baseline)'].backbone(x),
            'RetinaNet head (on FPN features)': lambda: models['RetinaNet-FPN (baseline)'].bbox_head(fpn(feats)),
        }, args.repeats)
        rows += report('Parts on the same input', parts, 'FPN neck')
    return rows


def _without_dn_fpn(model_cfg: dict) -> None:
    model_cfg.type = 'FasterRCNN'
    model_cfg.pop('dn_fpn_loss')


def bench_dn_fpn(args, size: int = 512) -> list:
    """DN-FPN Faster R-CNN vs the same Faster R-CNN without it, at inference (same weights)."""
    plain = build_for_timing('configs/dn_fpn/faster-rcnn_r50_dn-fpn_1x_aitod.py', edit=_without_dn_fpn)
    with_dn = build_for_timing('configs/dn_fpn/faster-rcnn_r50_dn-fpn_1x_aitod.py')
    with_dn.load_state_dict(plain.state_dict(), strict=False)
    print(f'\nDN-FPN adds {count(with_dn.dn_fpn_loss) / 1e6:.3f} M training-only parameters '
          '(droppable from a deployment checkpoint)')
    x = torch.randn(1, 3, size, size)
    samples = _samples(size)
    with torch.inference_mode():
        times = time_round_robin({'Faster R-CNN R50-FPN (baseline)': lambda: plain(x, samples, mode='predict'),
                                  'DN-FPN Faster R-CNN': lambda: with_dn(x, samples, mode='predict')},
                                 args.repeats)
    return report(f'Inference latency, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), '
                  'predict() with post-processing', times, 'Faster R-CNN R50-FPN (baseline)',
                  {'DN-FPN Faster R-CNN': 1.03})


def _samples(size):
    from mmdet.structures import DetDataSample
    shape = (size, size)
    return [DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                                        scale_factor=(1.0, 1.0)))]


VIDEO_CONFIG = 'configs/rcnet/demo/rcnet_retinanet_demo.py'


def bench_video(args, frames: int = 48, batch_size: int = 4) -> list:
    """Frames per second of Inferencer(video, out_dir) (decode, batch, predict, draw, encode the drawn video, JSON)
    vs the bare model (test_step on the same frames, already decoded and pre-processed)."""
    from convzoo.apis import Inferencer
    from convzoo.cli.demo import write_shapes_video
    tmp = tempfile.mkdtemp(prefix='convzoo-video-bench-')
    clip = write_shapes_video(osp.join(tmp, 'clip.mp4'), image_ids=range(1, frames // 8 + 1), frames_per_image=8)
    infer = Inferencer(VIDEO_CONFIG, None, batch_size=batch_size, score_thr=0.3)
    capture = cv2.VideoCapture(clip)
    decoded = [capture.read()[1] for _ in range(frames)]
    task, model = infer.task, infer.model
    samples = [task.pipeline(dict(img=img, img_id=i)) for i, img in enumerate(decoded)]
    batches = [pseudo_collate(samples[s:s + batch_size]) for s in range(0, frames, batch_size)]

    def bare():
        with torch.no_grad():
            for batch in batches:
                model.test_step(batch)

    def api():
        infer(clip, out_dir=osp.join(tmp, 'out'), progress=False)

    per_frame = {name: [t / frames for t in ts] for name, ts in time_round_robin(
        {'bare model (test_step on decoded frames)': bare, 'Inferencer(video, out_dir)': api},
        max(3, args.repeats // 2)).items()}
    rows = report(f'Video, {frames} frames of 160x160, batch {batch_size}, {VIDEO_CONFIG}, CPU '
                  f'({torch.get_num_threads()} threads): time per frame; target fps >= 0.9x bare, i.e. '
                  'time ratio <= 1/0.9', per_frame, 'bare model (test_step on decoded frames)',
                  {'Inferencer(video, out_dir)': 1 / 0.9})
    for row in rows:
        print(f'  {row["name"]:<40} {1 / row["median_s"]:8.1f} frames/s  ({1 / row["ratio"]:.3f}x the bare fps)')
    for root, _, files in os.walk(tmp, topdown=False):
        for f in files:
            os.remove(osp.join(root, f))
        os.rmdir(root)
    return rows


SUITES = {'rcnet': bench_rcnet, 'dn_fpn': bench_dn_fpn, 'video': bench_video}
