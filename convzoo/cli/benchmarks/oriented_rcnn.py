"""Oriented R-CNN suite: end-to-end latency (network, midpoint-offset decoding, rotated proposal NMS, rotated RoIAlign,
box head, rotated NMS) at 1024x1024 with ResNet-50 and ARC-ResNet-50 (target: ARC <= 1.3x), beside Rotated
RetinaNet R50 for scale. Batch 1, CPU, inference mode, random weights (the paper configs, pretrained files not
loaded): a random RPN scores every anchor alike, so the RPN keeps its full 2000 proposals and the RoI head sees
the recipe's full load."""
import torch

from convzoo.core.benchmark import build_for_timing, report, time_round_robin

SIZE = 1024
MODELS = {'Oriented R-CNN R50-FPN': 'configs/arc/oriented-rcnn_r50_fpn_1x_dota_le90.py',
          'Oriented R-CNN ARC-R50-FPN': 'configs/arc/oriented-rcnn_arc-r50_fpn_1x_dota_le90.py',
          'Rotated RetinaNet R50-FPN': 'configs/arc/rotated_retinanet_r50_fpn_1x_dota_le90.py'}


def bench_oriented_rcnn(args) -> list:
    from mmdet.structures import DetDataSample
    x = torch.randn(1, 3, SIZE, SIZE)
    sample = DetDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0),
                                         pad_shape=(SIZE, SIZE), batch_input_shape=(SIZE, SIZE)))
    models = {name: build_for_timing(cfg) for name, cfg in MODELS.items()}
    with torch.inference_mode():
        for model in models.values():
            if hasattr(model, 'bbox_head'):  # as the rotated_retinanet suite: let NMS see a realistic load
                model.bbox_head.test_cfg.score_thr = 0.0
        proposals = {name: len(m.rpn_head.predict(m.extract_feat(x), [sample])[0])
                     for name, m in models.items() if hasattr(m, 'rpn_head')}
        fns = {n: (lambda m=m: m.predict(x, [sample])) for n, m in models.items()}
        times = time_round_robin(fns, args.repeats)
    rows = report(f'Oriented R-CNN end to end (network + proposals + rotated RoI head + rotated NMS), {SIZE}x{SIZE}, '
                  f'batch 1, CPU ({torch.get_num_threads()} threads)', times, 'Oriented R-CNN R50-FPN',
                  {'Oriented R-CNN ARC-R50-FPN': 1.30})
    print('  proposals per image: ' + ', '.join(f'{n}: {k}' for n, k in proposals.items()))
    return rows


SUITES = {'oriented_rcnn': bench_oriented_rcnn}
