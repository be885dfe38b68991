"""``convzoo infer CONFIG CHECKPOINT SOURCE``: run a trained model on an image, a folder, a glob pattern or a video
(any convzoo task).

    convzoo infer CONFIG CHECKPOINT SOURCE [--out-dir work_dirs/infer] [--score-thr 0.3] [--frame-json]

Images give drawn images and JSON named after the input's path relative to the folder (or to the glob's folder
before its first wildcard), e.g. sub/x.jpg and sub/x.json; inputs that would share a name keep their extension in
it (x_jpg.jpg, x_png.jpg). A video gives a drawn H.264 MP4 (plays in browsers) with the input's frame rate and size,
and <name>.json with every frame's results, the number of frames that could not be decoded and whether the run was
complete. JSON keys follow mmdet: bboxes, scores, labels, label_names (detection; rotated: bboxes are le90
cx, cy, w, h, angle in radians, plus polygons), sem_seg_file (segmentation: the label map PNG), pred_img_file
(restoration), with source, frame, skipped, reason and notes for every input.
OUT_DIR/summary.json lists the inputs processed and the inputs skipped with the reason. --out-dir may not be the
folder read (nor lie inside it) nor the folder of an input file.

exit status:
  0  every input (image, video frame) was processed
  1  nothing was run: an unusable source, config, checkpoint or --out-dir (one 'error:' line says which)
  2  wrong arguments
  3  some inputs were skipped (unreadable, truncated or empty images, undecodable video frames) and the others
     processed; the skipped ones are in OUT_DIR/summary.json with the reason
"""
from __future__ import annotations

import argparse
import os.path as osp

from convzoo.core.config import DictAction

EXIT_SKIPPED = 3  # the run went on past unreadable inputs: done, but not everything


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file path (or a shipped config: convzoo::sepc/demo/x.py)')
    parser.add_argument('checkpoint', help='checkpoint file (weights are loaded weights-only), or a .onnx file written '
                                           'by `convzoo export` (run by onnxruntime)')
    parser.add_argument('source', help='image file, folder, glob pattern (quoted) or video file')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where drawn outputs and JSON go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw and write to JSON the detections scoring at least this (default 0.3); '
                             'the Python API returns every detection whatever the threshold')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='images (or video frames) per forward pass (default 4); lower it if memory runs short')
    parser.add_argument('--device', default='cpu',
                        help="torch device to run on: 'cpu' (default), 'cuda' or 'cuda:N' for the N-th GPU")
    parser.add_argument('--frame-json', action='store_true', help='video: also write one JSON file per frame')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.test_cfg.tile=512')
    args = parser.parse_args(argv)
    from convzoo.apis import Inferencer
    from convzoo.apis.inferencer import count_line
    onnx = args.checkpoint if args.checkpoint.lower().endswith('.onnx') else None
    infer = Inferencer(args.config, None if onnx else args.checkpoint, device=args.device, batch_size=args.batch_size,
                       score_thr=args.score_thr, cfg_options=args.cfg_options, onnx=onnx)
    results = infer(args.source, out_dir=args.out_dir, frame_json=args.frame_json)
    print(f'{count_line(results)}; outputs in {osp.abspath(args.out_dir)}')
    return EXIT_SKIPPED if any(r['skipped'] for r in results) else 0
