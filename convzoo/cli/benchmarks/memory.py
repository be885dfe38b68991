"""Memory suite: peak memory and time of the Inferencer on a big image (default 6000 x 6000), each model in a fresh
process, with the automatic tiling (restoration) / banded score resizing (segmentation) and without it.

    convzoo benchmark --suite memory [--memory-size 6000]
"""
from __future__ import annotations

import json
import subprocess
import sys

CASES = {  # name -> demo config (random weights: memory and time do not depend on the values)
    'detection SEPC-lite RetinaNet': 'configs/sepc/demo/sepc_lite_retinanet_demo.py',
    'segmentation DeepLab v2 ASPP-L': 'configs/deeplab_v2/demo/deeplabv2_aspp-l_r101_cityscapes_demo.py',
    'restoration MIRNet (denoising)': 'configs/mirnet/demo/mirnet_sidd_demo.py',
}
UNTILED_MAX = 3000  # restoration without tiles above this side needs more memory than a 24 GB machine has
PROBE = '''
import json, resource, sys, time
import numpy as np
from convzoo.apis import Inferencer
config, size, untiled = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
options = {'infer_tiling.above_pixels': 10 ** 12} if untiled else None
infer = Inferencer(config, cfg_options=options, batch_size=1)
image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
start = time.perf_counter()
infer(image, progress=False)
print(json.dumps(dict(seconds=time.perf_counter() - start,
                      peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)))
'''


def _probe(config: str, size: int, untiled: bool) -> dict:
    proc = subprocess.run([sys.executable, '-c', PROBE, config, str(size), '1' if untiled else '0'],
                          capture_output=True, text=True)
    if proc.returncode:
        return dict(error=(proc.stderr.strip().splitlines() or ['failed'])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(args) -> list:
    size = getattr(args, 'memory_size', None) or 6000
    print(f'\nPeak memory (max RSS of the process) and time of Inferencer(image) on a {size} x {size} image')
    print(f'  {"case":<36}{"tiled GB":>10}{"s":>8}{"untiled GB":>12}{"s":>8}')
    rows = []
    for name, config in CASES.items():
        tiled = _probe(config, size, untiled=False)
        if 'detection' in name:  # the detector's pipeline resizes every image: nothing to tile
            whole = tiled
        elif size > UNTILED_MAX and 'restoration' in name:  # would need ~1 GB per megapixel: not on this machine
            whole = dict(error=f'not run above {UNTILED_MAX} px')
        else:
            whole = _probe(config, size, untiled=True)
        cells = [f'{r["peak_gb"]:>10.2f}{r["seconds"]:>8.1f}' if 'peak_gb' in r else f'{r["error"][:18]:>18}'
                 for r in (tiled, whole)]
        print(f'  {name:<36}{cells[0]}  {cells[1]}')
        rows.append(dict(name=name, tiled=tiled, untiled=whole))
    return rows


SUITES = {'memory': bench_memory}
