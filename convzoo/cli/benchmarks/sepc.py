"""SEPC suites: RetinaNet-FPN vs SEPC-lite vs full SEPC, R50, 640x640, batch 1, CPU latency (``sepc``); the same
comparison, with RCNet, for the demo detectors at the 160 px they train on (``sepc_demo``: quick)."""
import torch

from convzoo.core.benchmark import build_for_timing, report, time_round_robin


def _sepc_options(options: dict):
    """An edit setting SEPC's options (the neck's second module), or None when there are none."""
    def edit(model_cfg: dict) -> None:
        model_cfg.neck[1].update(options)
    return edit if options else None


def bench_sepc(args, size: int = 640) -> list:
    configs = {'RetinaNet-FPN (baseline)': ('configs/sepc/retinanet_r50_fpn_1x_coco.py', {}),
               'SEPC-lite RetinaNet': ('configs/sepc/retinanet_r50_fpn-sepc-lite_1x_coco.py', {}),
               'full SEPC RetinaNet': ('configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py', {}),
               'SEPC-lite, mmcv DCN kernel': ('configs/sepc/retinanet_r50_fpn-sepc-lite_1x_coco.py', dict(dcn_impl='mmcv')),
               'full SEPC, mmcv DCN kernel': ('configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py', dict(dcn_impl='mmcv'))}
    x = torch.randn(1, 3, size, size)
    models = {name: build_for_timing(cfg, edit=_sepc_options(opts), init_weights=False)  # constructor init suffices
              for name, (cfg, opts) in configs.items()}
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x, mode='tensor')) for n, m in models.items()}, args.repeats)
        rows = report(f'Detector latency, R50, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), '
                      'network forward (post-processing excluded); DCN: the convzoo torch version (default on CPU) or mmcv',
                      times, 'RetinaNet-FPN (baseline)', {'SEPC-lite RetinaNet': 1.05, 'full SEPC RetinaNet': 1.15})
        # Where the time goes: the SEPC neck replaces RetinaNet's towers; the deformable convs are its extra.
        feats = models['RetinaNet-FPN (baseline)'].extract_feat(x)
        full = models['full SEPC RetinaNet'].neck[1]
        lite = models['SEPC-lite RetinaNet'].neck[1]
        rigid = build_for_timing('configs/sepc/retinanet_r50_fpn-ibn-pconv_1x_coco.py', init_weights=False).neck[1]
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


DEMOS = {'RetinaNet demo (baseline)': 'configs/sepc/demo/retinanet_baseline_demo.py',
         'SEPC-lite demo': 'configs/sepc/demo/sepc_lite_retinanet_demo.py',
         'full SEPC demo': 'configs/sepc/demo/sepc_retinanet_demo.py',
         'RCNet demo': 'configs/rcnet/demo/rcnet_retinanet_demo.py'}


def bench_sepc_demo(args, size: int = 160) -> list:
    """The demo detectors (ResNet-18/16, initialised as for training) on one 160 px image: network forward."""
    x = torch.randn(1, 3, size, size)
    models = {name: build_for_timing(cfg) for name, cfg in DEMOS.items()}
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x, mode='tensor')) for n, m in models.items()}, args.repeats)
    return report(f'Demo detectors, {size}x{size}, batch 1, CPU ({torch.get_num_threads()} threads), network forward',
                  times, 'RetinaNet demo (baseline)')


SUITES = {'sepc': bench_sepc, 'sepc_demo': bench_sepc_demo}
