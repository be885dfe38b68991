"""SEPC suite: RetinaNet-FPN vs SEPC-lite vs full SEPC, R50, 640x640, batch 1, CPU latency."""
import torch

from convzoo.utils.benchmark import report, time_round_robin


def build_detector(config: str, **neck_options):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.utils.config import load_config
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.backbone.init_cfg = None
    if neck_options:
        cfg.model.neck[1].update(neck_options)
    return MODELS.build(cfg.model).eval()  # constructor init suffices for timing (no init log spam)


def bench_sepc(args, size: int = 640) -> list:
    configs = {'RetinaNet-FPN (baseline)': ('configs/retinanet_baseline.py', {}),
               'SEPC-lite RetinaNet': ('configs/sepc_lite_retinanet.py', {}),
               'full SEPC RetinaNet': ('configs/sepc_retinanet.py', {}),
               'SEPC-lite, mmcv DCN kernel': ('configs/sepc_lite_retinanet.py', dict(dcn_impl='mmcv')),
               'full SEPC, mmcv DCN kernel': ('configs/sepc_retinanet.py', dict(dcn_impl='mmcv'))}
    x = torch.randn(1, 3, size, size)
    models = {name: build_detector(cfg, **opts) for name, (cfg, opts) in configs.items()}
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x, mode='tensor')) for n, m in models.items()}, args.repeats)
        rows = report(f'Detector latency, R50, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), '
                      'network forward (post-processing excluded); DCN: grid_sample (default on CPU) or mmcv',
                      times, 'RetinaNet-FPN (baseline)', {'SEPC-lite RetinaNet': 1.10, 'full SEPC RetinaNet': 1.25})
        # Where the time goes: the SEPC neck replaces RetinaNet's towers; the deformable convs are its extra.
        feats = models['RetinaNet-FPN (baseline)'].extract_feat(x)
        full = models['full SEPC RetinaNet'].neck[1]
        lite = models['SEPC-lite RetinaNet'].neck[1]
        rigid = build_detector('configs/ibn_pconv_retinanet.py').neck[1]
        full_mmcv = models['full SEPC, mmcv DCN kernel'].neck[1]
        sepc_feats = full(feats)
        parts = time_round_robin({
            'RetinaNet towers + cls/reg convs': lambda: models['RetinaNet-FPN (baseline)'].bbox_head(feats),
            'SEPCRetinaHead (cls/reg convs only)': lambda: models['SEPC-lite RetinaNet'].bbox_head(sepc_feats),
            'SEPC neck, rigid (iBN+PConv)': lambda: rigid(feats),
            'SEPC neck, lite (DCN in cls/reg convs)': lambda: lite(feats),
            'SEPC neck, full (DCN at levels >= 1)': lambda: full(feats),
            'SEPC neck, full, mmcv DCN kernel': lambda: full_mmcv(feats),
            'backbone ResNet-50 + FPN': lambda: models['RetinaNet-FPN (baseline)'].extract_feat(x),
        }, args.repeats)
        rows += report('Parts on the same features', parts, 'RetinaNet towers + cls/reg convs')
    return rows


SUITES = {'sepc': bench_sepc}
