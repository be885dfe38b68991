"""Restoration suites (CPU, ratios within one run):

* ``deconv``: a deployed (folded) DEConv vs an ``nn.Conv2d`` of the same shape (target <= 1.02x), and the
  training form; deployed DEA-Net vs its training form (the speed-up is reported).
* ``espcn``: ESPCN x3 to a 1920x1080 output (Y network on a 640x360 input): frames per second and achieved
  GFLOP/s as a fraction of a large matrix multiply's GFLOP/s measured in the same run (target >= 0.5), in
  PyTorch and in onnxruntime.
"""
import os
import statistics
import tempfile
import time

import torch
from torch import nn

from convzoo.utils.benchmark import report, time_round_robin


def bench_deconv(args, channels: int = 64, size: int = 128) -> list:
    from convzoo.layers.dea_conv import DEConv
    from convzoo.tasks.restoration.dea_net import DEANet
    x = torch.randn(1, channels, size, size)
    deconv = DEConv(channels).eval()
    candidates = {'nn.Conv2d (same shape)': nn.Conv2d(channels, channels, 3, padding=1),
                  'DEConv deployed (folded)': deconv.to_conv2d(), 'DEConv training form': deconv}
    with torch.inference_mode():
        times = time_round_robin({n: (lambda m=m: m(x)) for n, m in candidates.items()}, args.repeats * 3)
        rows = report(f'DEConv {channels}->{channels} 3x3 on 1x{channels}x{size}x{size}, CPU '
                      f'({torch.get_num_threads()} threads)', times, 'nn.Conv2d (same shape)',
                      {'DEConv deployed (folded)': 1.02})
        train_form = DEANet().eval()
        deployed = DEANet().eval()
        deployed.load_state_dict(train_form.state_dict())
        deployed.switch_to_deploy()
        image = torch.rand(1, 3, 256, 256)
        nets = time_round_robin({'DEA-Net training form': lambda: train_form(image),
                                 'DEA-Net deployed': lambda: deployed(image)}, args.repeats)
        rows += report('DEA-Net (base 32) on 1x3x256x256: deployed vs training form', nets, 'DEA-Net training form')
    speedup = statistics.median(nets['DEA-Net training form']) / statistics.median(nets['DEA-Net deployed'])
    print(f'  deployed DEA-Net speed-up over the training form: {speedup:.3f}x')
    return rows


def espcn_flops(net, height: int, width: int) -> float:
    """Multiply-adds x 2 of the convolutions (the shuffle is a copy)."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    return sum(2 * c.in_channels * c.out_channels * c.kernel_size[0] * c.kernel_size[1] for c in convs) * height * width


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def bench_espcn(args, scale: int = 3) -> list:
    from convzoo.tasks.restoration.espcn import ESPCN
    from convzoo.tasks.restoration.export import export_onnx, onnx_session
    height, width = 1080 // scale, 1920 // scale
    net = ESPCN(scale=scale).eval()
    x = torch.rand(1, 1, height, width)
    flops = espcn_flops(net, height, width)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'espcn.onnx')
        export_onnx(net, path, height=32, width=32)
        session = onnx_session(path, threads=torch.get_num_threads())
        feed = {'input': x.numpy()}
        net_nhwc = ESPCN(scale=scale).eval().to(memory_format=torch.channels_last)
        x_nhwc = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            times = time_round_robin({'ESPCN x3 PyTorch': lambda: net(x),
                                      'ESPCN x3 PyTorch channels_last': lambda: net_nhwc(x_nhwc),
                                      'ESPCN x3 onnxruntime': lambda: session.run(None, feed)}, args.repeats)
    peak = matmul_gflops()
    rows = report(f'ESPCN x3, {width}x{height} Y -> 1920x1080, CPU ({torch.get_num_threads()} threads)', times,
                  'ESPCN x3 PyTorch')
    print(f'  {flops / 1e9:.2f} GFLOP per frame; 2048^3 matmul in this run: {peak:.1f} GFLOP/s')
    for name, ts in times.items():
        seconds = statistics.median(ts)
        fraction = flops / seconds / 1e9 / peak
        verdict = 'met' if fraction >= 0.5 else 'MISSED'
        print(f'  {name:<32} {1 / seconds:6.2f} frames/s  {flops / seconds / 1e9:6.1f} GFLOP/s  '
              f'= {fraction:.2f} of matmul (target >= 0.50: {verdict})')
        rows.append(dict(name=name, fps=1 / seconds, matmul_fraction=fraction))
    return rows


SUITES = {'deconv': bench_deconv, 'espcn': bench_espcn}
