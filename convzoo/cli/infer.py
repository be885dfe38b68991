"""``convzoo infer CONFIG CHECKPOINT SOURCE``: run a trained model on an image, a folder, a glob pattern or a video
(any convzoo task).

    convzoo infer CONFIG CHECKPOINT SOURCE [--out-dir work_dirs/infer] [--score-thr 0.3] [--frame-json]

A video gives a drawn video with the input's frame rate and size, and <stem>.json with every frame's results, the
number of frames that could not be decoded (skipped, not fatal) and whether the run was complete.
"""
from __future__ import annotations

import argparse
import os.path as osp

from convzoo.core.config import DictAction


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path (or a shipped config: convzoo::sepc/demo/x.py)')
    parser.add_argument('checkpoint', help='checkpoint file (weights are loaded weights-only)')
    parser.add_argument('source', help='image file, folder, glob pattern (quoted) or video file')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where drawn outputs and JSON go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detections below this score are dropped')
    parser.add_argument('--batch-size', type=int, default=4, help='images (or video frames) per forward pass')
    parser.add_argument('--device', default='cpu', help="torch device to run on, e.g. 'cpu' or 'cuda:0'")
    parser.add_argument('--frame-json', action='store_true', help='video: also write one JSON file per frame')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.test_cfg.tile=512')
    args = parser.parse_args(argv)
    from convzoo.apis import Inferencer
    infer = Inferencer(args.config, args.checkpoint, device=args.device, batch_size=args.batch_size,
                       score_thr=args.score_thr, cfg_options=args.cfg_options)
    results = infer(args.source, out_dir=args.out_dir, frame_json=args.frame_json)
    print(f'{len(results)} input(s) processed; outputs in {osp.abspath(args.out_dir)}')
    return 0
