"""GPU acceptance check (``make gpu-check``): what the CPU-developed stack must also do on a CUDA GPU, as one table.

    python tools/gpu_check.py [--work-dir work_dirs/gpu_check] [--json table.json]

Rows (PASS, FAIL or SKIP, with a detail):
  mmcv CUDA ops            mmcv._ext has CUDA kernels: nms, rotated nms/IoU, DCNv1/v2 run on cuda
  DCNv1 mmcv vs torch      mmcv's CUDA kernel vs convzoo's torch implementation on cuda: output and the gradients of
  DCNv2 mmcv vs torch      input, offset, weight (and mask), random and integer offsets; TF32 off
  modules fp32             every registered convzoo module (samples of tests/module_samples, SWEEP_SAMPLES):
  modules AMP              forward + backward on cuda, in float32 and under autocast(float16) and (bfloat16),
                           and the SEPC-lite demo detector's losses under both (tests/test_amp.py: the same on CPU)
  latency train step       800x1333, batch 2, R50: RetinaNet-FPN vs SEPC-lite vs full SEPC vs RCNet (ms, ratios)
  latency inference        the same for predict() (post-processing included)
  SEPC-lite demo           configs/sepc/demo/sepc_lite_retinanet_demo.py trained 200 iterations on the GPU, then
                           evaluated on its held-out split (COCO bbox mAP)
  Inferencer video         the Inferencer on a 48-frame video on the GPU, with the demo's checkpoint

Sized to end within 10 minutes on one modern GPU (the demo training is most of it); a row that would start after
the time budget is skipped. Exit status 1 when a row fails. Without a usable GPU every row reads "no GPU" and the
exit status is 0, so the check can sit in any machine's routine.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
# 400 images / batch 8 = 50 iterations an epoch, 4 epochs = 200 iterations; evaluated once at the end
DEMO_OPTIONS = ['train_dataloader.dataset.indices=400', 'train_cfg.max_epochs=4', 'train_cfg.val_interval=4',
                'default_hooks.checkpoint.interval=4']
DEMO_MIN_MAP = 0.1  # the same 200 iterations reach 0.20 on the CPU (89 s, 1 thread); a broken kernel learns less
LATENCY_CONFIGS = {'RetinaNet-FPN': 'configs/sepc/retinanet_r50_fpn_1x_coco.py',
                   'SEPC-lite': 'configs/sepc/retinanet_r50_fpn-sepc-lite_1x_coco.py',
                   'full SEPC': 'configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py',
                   'RCNet': 'configs/rcnet/retinanet_r50_rcnet_1x_coco.py'}
DCN_TOLERANCE = 1e-4  # of the largest magnitude: float32 with atomic (unordered) gradient sums
BUDGET_S = 540


@dataclass
class Row:
    row: str
    result: str
    detail: str


def format_table(rows: list[Row]) -> str:
    """The rows as aligned text columns (row, result, detail) under a header line."""
    header = Row('row', 'result', 'detail')
    width = [max(len(getattr(r, f)) for r in [header, *rows]) for f in ('row', 'result')]
    lines = [f'{r.row:<{width[0]}}  {r.result:<{width[1]}}  {r.detail}' for r in [header, *rows]]
    return '\n'.join([lines[0], '-' * min(120, max(map(len, lines))), *lines[1:]])


def load_file(path: str, name: str):
    """A module from a file of this repository (tools/ and tests/ are no packages)."""
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses and pickling look modules up there
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------ deformable conv


def dcn_inputs(version: str, kind: str, device: str, seed: int = 0) -> list:
    """x, offset, weight (and DCNv2's mask): 2 deform groups, random offsets or whole-pixel (integer) ones, the
    case where mmcv's right-sided derivative rule matters."""
    import torch
    g = torch.Generator().manual_seed(seed)
    n, c, o, size, taps = 2, 8, 16, (23, 19), 2 * 9
    x = torch.randn(n, c, *size, generator=g)
    offset = (torch.randn(n, 2 * taps, *size, generator=g) * 2 if kind == 'random'
              else torch.randint(-3, 4, (n, 2 * taps, *size), generator=g).float())
    weight = torch.randn(o, c, 3, 3, generator=g) / 9
    mask = [torch.rand(n, taps, *size, generator=g)] if version == 'v2' else []
    return [t.to(device) for t in [x, offset, weight, *mask]]


def dcn_call(version: str, impl: str, x, offset, weight, mask=None):
    from convzoo.layers.deform import deform_conv2d_any_size, modulated_deform_conv2d_any_size
    kw = dict(stride=1, padding=1, dilation=1, groups=1, deform_groups=2, impl=impl)
    if version == 'v1':
        return deform_conv2d_any_size(x, offset, weight, **kw)
    return modulated_deform_conv2d_any_size(x, offset, mask, weight, None, **kw)


def dcn_difference(version: str, kind: str, device: str, impls=('mmcv', 'torch')) -> float:
    """The largest difference between two implementations over the output (without autograd: the inference path,
    and with it) and every input's gradient, each relative to the largest magnitude of the first one's tensor."""
    import torch
    results = []
    for impl in impls:
        tensors = dcn_inputs(version, kind, device)
        with torch.no_grad():
            inference = dcn_call(version, impl, *tensors)
        leaves = [t.clone().requires_grad_() for t in tensors]
        out = dcn_call(version, impl, *leaves)
        out.backward(torch.cos(torch.arange(out.numel(), device=out.device, dtype=out.dtype)).view_as(out))
        results.append([inference, out.detach(), *(t.grad for t in leaves)])
    return max(float((b - a).abs().max() / a.abs().max().clamp_min(1e-30)) for a, b in zip(*results))


@contextmanager
def exact_float32():
    """TF32 off: cuDNN's default TF32 convolutions would differ from the kernels by 1e-3, hiding real bugs."""
    import torch
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def check_dcn(version: str, ctx: dict) -> list[tuple]:
    with exact_float32():
        diffs = {kind: dcn_difference(version, kind, ctx['device']) for kind in ('random', 'integer')}
    detail = ', '.join(f'{kind} offsets {d:.1e}' for kind, d in diffs.items())
    return [('PASS' if max(diffs.values()) <= DCN_TOLERANCE else 'FAIL',
             f'{detail} (largest difference of output and gradients; tolerance {DCN_TOLERANCE:g})')]


# ------------------------------------------------------------------------------------------------ module sweep


def to_device(obj, device: str):
    """Tensors (and mmengine data elements) anywhere in nested lists, tuples and dicts, moved to ``device``."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj.to(device) if hasattr(obj, 'to') else obj


AMP_DTYPES = ('float16', 'bfloat16')


def run_sample(sweep, name: str, device: str, amp: str | None = None) -> None:
    """tests/test_registered_modules.py's forward + backward of one module, on ``device``, optionally under
    autocast to ``amp`` ('float16' or 'bfloat16'): finite outputs, a finite gradient for every parameter.
    tests/test_amp.py runs this same function on the CPU."""
    import torch
    from mmengine.registry import DefaultScope
    scope, cfg, make_args = sweep.SAMPLES[name]
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        module = sweep._registries()[scope].build(cfg).to(device)
    module.train()  # not chained: mmdet's ResNet.train() returns None
    with autocast_to(device, amp):
        out = sweep._tensors(module(*to_device(make_args(), device)))
    if not out or not all(torch.isfinite(t).all() for t in out):
        raise AssertionError('no output or a non-finite one')
    sum((t.float() * torch.randn_like(t.float())).sum() for t in out if t.is_floating_point()).backward()
    check_gradients(module)


def autocast_to(device: str, amp: str | None):
    """autocast to the dtype named ``amp`` on ``device``'s type; off when ``amp`` is None (or False)."""
    import torch
    return torch.autocast(torch.device(device).type, dtype=getattr(torch, amp or 'float16'), enabled=bool(amp))


def check_gradients(module) -> None:
    import torch
    bad = [p for p, q in module.named_parameters() if q.requires_grad and (q.grad is None
                                                                           or not torch.isfinite(q.grad).all())]
    if bad:
        raise AssertionError(f'missing or non-finite gradients: {", ".join(bad[:3])}')


def demo_detector_losses(device: str, amp: str | None, config: str = DEMO) -> dict:
    """The demo detector's training losses on two random 160 px images with 3 boxes each, under autocast to
    ``amp``, after their backward; raises when a loss or a parameter's gradient is not finite."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.registry import init_default_scope

    import convzoo  # noqa: F401
    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = load_config(config)
    model = MODELS.build(cfg.model).to(device)
    model.train()
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, 160, 160), num_items=[3, 3],
                            num_classes=cfg.model.bbox_head.num_classes)
    data = model.data_preprocessor(to_device(packed, device), True)
    with autocast_to(device, amp):
        losses = model(**data, mode='loss')
    total, log = model.parse_losses(losses)
    if not torch.isfinite(total):
        raise AssertionError(f'non-finite loss: {dict(log)}')
    total.backward()
    check_gradients(model)
    return {name: float(value) for name, value in log.items()}


def sweep_modules(device: str, amp: str | None = None, names=None) -> tuple[int, list[str]]:
    """How many registered modules ran, and the failures as 'name: why'."""
    import convzoo  # noqa: F401  (registers the modules whose SWEEP_SAMPLES the sweep reads)
    sweep = load_file('tests/test_registered_modules.py', 'convzoo_gpu_check_sweep')
    names = sorted(sweep.SAMPLES) if names is None else names
    failures = []
    for name in names:
        try:
            run_sample(sweep, name, device, amp)
        except Exception as err:  # noqa: BLE001
            failures.append(f'{name}: {type(err).__name__}: {err!s}'.splitlines()[0][:160])
    return len(names), failures


def check_modules(amp: bool, ctx: dict) -> list[tuple]:
    """fp32, or both autocast dtypes (and the demo detector's losses under them)."""
    failures, count = [], 0
    for dtype in AMP_DTYPES if amp else (None,):
        ran, failed = sweep_modules(ctx['device'], dtype)
        count, failures = ran, failures + [f'{dtype or "float32"} {f}' for f in failed]
        if dtype is not None:
            try:
                demo_detector_losses(ctx['device'], dtype)
            except Exception as err:  # noqa: BLE001
                failures.append(f'{dtype} demo detector loss: {type(err).__name__}: {err}'.splitlines()[0][:160])
    if failures:
        return [('FAIL', f'{len(failures)} failed of {count} modules' + (' x 2 dtypes' if amp else '') + ': '
                 + '; '.join(failures))]
    return [('PASS', f'{count} modules, forward + backward' + (
        ' under autocast(float16) and autocast(bfloat16); demo detector losses finite' if amp else ''))]


# ------------------------------------------------------------------------------------------------ latency


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that a wall-clock time is the work's time."""
    import torch
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def train_step(model, optimizer, data, device: str) -> None:
    model.train()
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    synchronize(device)


def predict(model, data, device: str) -> None:
    import torch
    model.eval()
    with torch.no_grad():
        model(**data, mode='predict')
    synchronize(device)


def ratios_detail(times: dict, baseline: str) -> str:
    """'RetinaNet-FPN 85.2 ms; SEPC-lite 1.12x; ...' from per-model lists of seconds."""
    import statistics
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return '; '.join(f'{name} {medians[name] * 1e3:.1f} ms' + ('' if name == baseline else
                                                                 f' ({medians[name] / medians[baseline]:.2f}x)')
                     for name in medians)


def check_latency(ctx: dict, size=(800, 1333), repeats: int = 10) -> list[tuple]:
    import torch
    from mmdet.testing import demo_mm_inputs

    import convzoo  # noqa: F401
    from convzoo.core.benchmark import build_for_timing, time_round_robin
    device = ctx['device']
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, *size), num_items=[5, 5], num_classes=80)
    steps, predicts = {}, {}
    for name, config in LATENCY_CONFIGS.items():
        model = build_for_timing(config, init_weights=False).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
        steps[name] = partial(train_step, model, optimizer, model.data_preprocessor(packed, True), device)
        predicts[name] = partial(predict, model, model.data_preprocessor(packed, False), device)
    baseline = next(iter(LATENCY_CONFIGS))
    return [('PASS', ratios_detail(time_round_robin(fns, repeats, warmup=3), baseline))
            for fns in (steps, predicts)]


# ------------------------------------------------------------------------------------------------ demo, video


def check_demo(ctx: dict) -> list[tuple]:
    work_dir = osp.join(ctx['work_dir'], 'sepc_lite_demo')
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, 'tools/train.py', DEMO, '--work-dir', work_dir, '--cfg-options',
                           *DEMO_OPTIONS], cwd=ROOT, capture_output=True, text=True,
                          timeout=max(60, ctx['deadline'] - time.monotonic()))
    if proc.returncode != 0:
        return [('FAIL', f'tools/train.py exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [""])[-1]}')]
    found = re.findall(r'coco/bbox_mAP: (-?[\d.]+)', proc.stdout)
    if not found:
        return [('FAIL', 'the training printed no coco/bbox_mAP')]
    ctx['checkpoint'] = osp.join(work_dir, 'epoch_4.pth')
    mean_ap = float(found[-1])
    return [('PASS' if mean_ap >= DEMO_MIN_MAP else 'FAIL',
             f'COCO bbox mAP {mean_ap:.3f} after 200 iterations ({time.perf_counter() - start:.0f} s with start-up '
             f'and evaluation; at least {DEMO_MIN_MAP} expected)')]


def check_video(ctx: dict, frames: int = 48) -> list[tuple]:
    import torch

    from convzoo.apis import Inferencer
    from convzoo.cli.demo import write_shapes_video
    out = osp.join(ctx['work_dir'], 'video')
    os.makedirs(out, exist_ok=True)
    clip = write_shapes_video(osp.join(out, 'clip.mp4'), image_ids=range(1, frames // 8 + 1), frames_per_image=8)
    checkpoint = ctx.get('checkpoint')
    infer = Inferencer(DEMO, checkpoint, device=ctx['device'], score_thr=0.3)
    device = next(infer.model.parameters()).device.type
    start = time.perf_counter()
    results = infer(clip, out_dir=osp.join(out, 'drawn'), progress=False)
    seconds = time.perf_counter() - start
    done = [r for r in results if not r['skipped']]
    boxes = sum(len(r['boxes']) for r in done)
    ok = device == torch.device(ctx['device']).type and len(done) == frames
    return [('PASS' if ok else 'FAIL', f'{len(done)}/{frames} frames on {device}, {boxes} boxes, '
             f'{len(done) / seconds:.0f} frames/s with decoding, drawing and encoding; weights: '
             f'{"the demo checkpoint" if checkpoint else "random (the demo row did not give a checkpoint)"}')]


# ------------------------------------------------------------------------------------------------ the table


def check_mmcv_ops(ctx: dict) -> list[tuple]:
    compiled = load_file('tools/check_env.py', 'convzoo_check_env').check_cuda_ops()
    return [('PASS', f'compiled for CUDA {compiled}; nms, rotated nms/IoU, DCNv1, DCNv2 ran on cuda')]


CHECKS = [  # (rows, check): a check returns one (result, detail) per row
    (('mmcv CUDA ops',), check_mmcv_ops),
    (('DCNv1 mmcv vs torch',), partial(check_dcn, 'v1')),
    (('DCNv2 mmcv vs torch',), partial(check_dcn, 'v2')),
    (('modules fp32',), partial(check_modules, False)),
    (('modules AMP',), partial(check_modules, True)),
    (('latency train step', 'latency inference'), check_latency),
    (('SEPC-lite demo',), check_demo),
    (('Inferencer video',), check_video),
]


def gpu_available() -> bool:
    import torch
    return torch.cuda.is_available()


def run_checks(work_dir: str, checks=CHECKS, budget_s: float = BUDGET_S, device: str | None = None) -> list[Row]:
    """Every check's rows; a failing check fails its rows and the others still run. ``device`` (default: 'cuda'
    when torch sees a GPU, else every row is skipped) lets a test run the pieces on the CPU."""
    device = device or ('cuda' if gpu_available() else None)
    if device is None:
        return [Row(name, 'no GPU', 'skipped') for names, _ in checks for name in names]
    ctx = dict(work_dir=work_dir, device=device, deadline=time.monotonic() + budget_s)
    rows = []
    for names, check in checks:
        if time.monotonic() > ctx['deadline']:
            rows += [Row(name, 'SKIP', f'time budget of {budget_s:.0f} s spent') for name in names]
            continue
        print(f'[gpu-check] {", ".join(names)} ...', flush=True)
        try:
            results = check(ctx)
        except Exception as err:  # noqa: BLE001
            results = [('FAIL', f'{type(err).__name__}: {err}'.splitlines()[0])] * len(names)
        rows += [Row(name, result, detail) for name, (result, detail) in zip(names, results)]
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/gpu_check', help='where the demo training and video go')
    parser.add_argument('--json', help='also write the table to this JSON file')
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # configs name their data relative to the repository root
    rows = run_checks(args.work_dir)
    print(format_table(rows))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump([asdict(r) for r in rows], f, indent=2)
    return 1 if any(r.result == 'FAIL' for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
