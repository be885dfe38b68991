"""Restoration suites (CPU, ratios within one run):

* ``deconv``: a deployed (folded) DEConv vs an ``nn.Conv2d`` of the same shape (target <= 1.02x), and the
  training form; a second ``nn.Conv2d`` shows the noise floor of the ratio. Deployed DEA-Net vs its training
  form (the speed-up is reported).
* ``espcn``: ESPCN x3 to a 1920x1080 output (Y network on a 640x360 input): frames per second and achieved
  GFLOP/s as a fraction of a large matrix multiply's GFLOP/s (2048^3 fp32 ``torch.mm``, same threads and clock,
  interleaved with the candidates), target >= 0.5: the plain network, channels_last, the inference form
  (``ESPCN.optimize_for_inference()``, oneDNN, whole frame and in row bands) and onnxruntime.

Candidates run interleaved, the order rotating every round so none always runs first (after another's caches).
"""
import os
import statistics
import tempfile

import torch
from torch import nn

from convzoo.core.benchmark import report, time_round_robin


def interleaved(fns: dict, repeats: int) -> dict[str, list]:
    """``time_round_robin`` one round at a time with the candidates' order rotated each round."""
    names = list(fns)
    times = {name: [] for name in names}
    for i in range(repeats):
        order = names[i % len(names):] + names[:i % len(names)]
        for name, ts in time_round_robin({n: fns[n] for n in order}, 1, warmup=1 if i == 0 else 0).items():
            times[name] += ts
    return times


def same_conv_settings(conv: nn.Conv2d, reference: nn.Conv2d) -> list[str]:
    """Differences between two convs that could change their speed (empty: none)."""
    problems = [] if type(conv) is nn.Conv2d else [f'type {type(conv).__name__}']
    for attr in ('in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups',
                 'padding_mode'):
        if getattr(conv, attr) != getattr(reference, attr):
            problems.append(f'{attr} {getattr(conv, attr)} != {getattr(reference, attr)}')
    for name in ('weight', 'bias'):
        a, b = getattr(conv, name), getattr(reference, name)
        if (a is None) != (b is None):
            problems.append(f'{name} presence differs')
        elif a is not None and (a.dtype != b.dtype or a.stride() != b.stride() or not a.is_contiguous()
                                or a.device != b.device):
            problems.append(f'{name} dtype/layout/device differs')
    return problems


def bench_deconv(args, channels: int = 64, size: int = 128) -> list:
    from convzoo.layers.dea_conv import DEConv
    from convzoo.restorers.dea_net import DEANet
    x = torch.randn(1, channels, size, size)
    deconv = DEConv(channels).eval()
    baseline = nn.Conv2d(channels, channels, 3, padding=1).eval()
    deployed = deconv.to_conv2d().eval()
    problems = same_conv_settings(deployed, baseline)
    print(f'\n  deployed DEConv is a plain nn.Conv2d with the baseline\'s settings and layout: '
          f'{"yes" if not problems else "NO: " + "; ".join(problems)}')
    candidates = {'nn.Conv2d (same shape)': baseline, 'DEConv deployed (folded)': deployed,
                  'nn.Conv2d (second copy, noise floor)': nn.Conv2d(channels, channels, 3, padding=1).eval(),
                  'DEConv training form': deconv}
    with torch.inference_mode():
        times = interleaved({n: (lambda m=m: m(x)) for n, m in candidates.items()}, args.repeats * 5)
        rows = report(f'DEConv {channels}->{channels} 3x3 on 1x{channels}x{size}x{size}, CPU '
                      f'({torch.get_num_threads()} threads)', times, 'nn.Conv2d (same shape)',
                      {'DEConv deployed (folded)': 1.02})
        base = times['nn.Conv2d (same shape)']
        for name in ('DEConv deployed (folded)', 'nn.Conv2d (second copy, noise floor)'):
            paired = statistics.median(t / b for t, b in zip(times[name], base))
            print(f'  {name}: median of per-round ratios {paired:.3f}x')
            rows.append(dict(name=name, paired_ratio=paired))
        train_form = DEANet().eval()
        deployed_net = DEANet().eval()
        deployed_net.load_state_dict(train_form.state_dict())
        deployed_net.switch_to_deploy()
        image = torch.rand(1, 3, 256, 256)
        nets = interleaved({'DEA-Net training form': lambda: train_form(image),
                            'DEA-Net deployed': lambda: deployed_net(image)}, args.repeats)
        rows += report('DEA-Net (base 32) on 1x3x256x256: deployed vs training form', nets, 'DEA-Net training form')
    speedup = statistics.median(nets['DEA-Net training form']) / statistics.median(nets['DEA-Net deployed'])
    print(f'  deployed DEA-Net speed-up over the training form: {speedup:.3f}x')
    return rows


def espcn_flops(net, height: int, width: int) -> float:
    """Multiply-adds x 2 of the convolutions (the shuffle is a copy)."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return sum(2 * c.in_channels * c.out_channels * c.kernel_size[0] * c.kernel_size[1] for c in convs) * height * width


def bench_espcn(args, scale: int = 3, matmul_size: int = 2048) -> list:
    from convzoo.deploy.onnx import export_onnx, onnx_session
    from convzoo.restorers.espcn import ESPCN
    height, width = 1080 // scale, 1920 // scale
    net = ESPCN(scale=scale).eval()
    x = torch.rand(1, 1, height, width)
    flops = espcn_flops(net, height, width)
    fast, fast_whole = net.optimize_for_inference(), net.optimize_for_inference(band_rows=None)
    a, b = torch.randn(matmul_size, matmul_size), torch.randn(matmul_size, matmul_size)
    matmul = f'matmul {matmul_size}^3 fp32 (reference)'
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'espcn.onnx')
        export_onnx(net, path, height=32, width=32)
        session = onnx_session(path, threads=torch.get_num_threads())
        feed = {'input': x.numpy()}
        net_nhwc = ESPCN(scale=scale).eval().to(memory_format=torch.channels_last)
        net_nhwc.load_state_dict(net.state_dict())
        x_nhwc = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            reference = net(x)
            error = max((fast(x) - reference).abs().max().item(), (fast_whole(x) - reference).abs().max().item())
            times = interleaved({'ESPCN x3 PyTorch': lambda: net(x),
                                 'ESPCN x3 PyTorch channels_last': lambda: net_nhwc(x_nhwc),
                                 f'ESPCN x3 inference form ({fast.band_rows}-row bands)': lambda: fast(x),
                                 'ESPCN x3 inference form (whole frame)': lambda: fast_whole(x),
                                 'ESPCN x3 onnxruntime': lambda: session.run(None, feed),
                                 matmul: lambda: torch.mm(a, b)}, args.repeats)
    peak = 2 * matmul_size ** 3 / statistics.median(times[matmul]) / 1e9
    rows = report(f'ESPCN x3, {width}x{height} Y -> 1920x1080, CPU ({torch.get_num_threads()} threads)', times,
                  'ESPCN x3 PyTorch')
    print(f'  {flops / 1e9:.2f} GFLOP per frame; {matmul}: {peak:.1f} GFLOP/s; inference form vs plain: '
          f'max |difference| {error:.1e}')
    for name, ts in times.items():
        if name == matmul:
            continue
        seconds = statistics.median(ts)
        fraction = flops / seconds / 1e9 / peak
        verdict = 'met' if fraction >= 0.5 else 'MISSED'
        print(f'  {name:<44} {1 / seconds:6.2f} frames/s  {flops / seconds / 1e9:6.1f} GFLOP/s  '
              f'= {fraction:.2f} of matmul (target >= 0.50: {verdict})')
        rows.append(dict(name=name, fps=1 / seconds, matmul_fraction=fraction))
    return rows


SUITES = {'deconv': bench_deconv, 'espcn': bench_espcn}
