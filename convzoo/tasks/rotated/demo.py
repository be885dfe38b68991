"""The rotated-detection demo: Rotated RetinaNet with ResNet-50 and with ARC-ResNet-50, trained the same way in one
run on the embedded DOTA-format data, evaluated with the DOTA metric on merged full images, then used through the
inference API on a large image made of four validation images (split and merged automatically).

    python -m convzoo.tasks.rotated.demo [--work-dir work_dirs/rotated_demo] [--cfg-options ...]

Writes ``<work-dir>/summary.json`` with each model's mAP, per-model wall times and the inference output.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import cv2
import numpy as np

DEMOS = {'ResNet-50': 'configs/rotated/demo/rotated_retinanet_r50_fpn_1x_dota_le90_demo.py',
         'ARC-ResNet-50': 'configs/rotated/demo/arc_rotated_retinanet_r50_fpn_1x_dota_le90_demo.py'}
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def run_tool(*args: str) -> float:
    """Run a tools/ script like a user; returns its wall time in seconds."""
    print(f'\n$ python {" ".join(args)}', flush=True)
    start = time.time()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)
    return time.time() - start


def large_test_image(data_root: str, out_path: str) -> str:
    """Four full validation images tiled 2 x 2 (768 x 768): larger than a patch, so inference splits it."""
    tiles = [cv2.imread(osp.join(data_root, 'val', 'images', f'P{i:04d}.jpg')) for i in range(4)]
    cv2.imwrite(out_path, np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return out_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/rotated_demo')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='passed to tools/train.py and tools/test.py')
    args = parser.parse_args()
    os.chdir(ROOT)
    summary = {}
    for name, config in DEMOS.items():
        work_dir = osp.join(args.work_dir, osp.splitext(osp.basename(config))[0])
        options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
        train_s = run_tool('tools/train.py', config, '--work-dir', work_dir, *options)
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        test_s = run_tool('tools/test.py', config, checkpoint, '--work-dir', work_dir, *options)
        with open(osp.join(work_dir, 'test_metrics.json')) as f:
            metrics = json.load(f)['metrics']
        summary[name] = dict(config=config, checkpoint=checkpoint, metrics=metrics, train_wall_s=round(train_s),
                             test_wall_s=round(test_s))
        print(f'{name}: {metrics}  (train {train_s:.0f} s, test {test_s:.0f} s)', flush=True)

    from convzoo.apis import Inferencer
    from convzoo.tasks.embedded import ensure_embedded
    image = large_test_image(str(ensure_embedded('dota_objects')), osp.join(args.work_dir, 'val_2x2.jpg'))
    arc = summary['ARC-ResNet-50']
    result = Inferencer(arc['config'], arc['checkpoint'])(image, out_dir=osp.join(args.work_dir, 'vis'))[0]
    summary['inference'] = dict(image=image, detections=len(result['scores']),
                                drawn=osp.join(args.work_dir, 'vis', 'val_2x2.jpg'))
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\n' + '=' * 72)
    for name in DEMOS:
        s = summary[name]
        print(f'  {name:<15} DOTA mAP {s["metrics"].get("dota/mAP", float("nan")):.4f}   train {s["train_wall_s"]} s,'
              f' test {s["test_wall_s"]} s')
    print(f'  inference on {image} (768 x 768, split into 256 patches): {summary["inference"]["detections"]} '
          f'objects -> {summary["inference"]["drawn"]}')
    print('=' * 72)
    return 0


if __name__ == '__main__':
    sys.exit(main())
