"""Run a trained model on an image, a folder, a glob pattern or a video (any convzoo task).

    python tools/infer.py CONFIG CHECKPOINT SOURCE [--out-dir work_dirs/infer] [--score-thr 0.3] [--frame-json]

A video gives a drawn video with the input's frame rate and size, and <stem>.json with every frame's results, the
number of frames that could not be decoded (skipped, not fatal) and whether the run was complete.
"""
import argparse
import os.path as osp

from convzoo.engine.cli import run_main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('source', help='image file, folder, glob pattern (quoted) or video file')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where drawn outputs and JSON go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detections below this score are dropped')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--frame-json', action='store_true', help='video: also write one JSON file per frame')
    args = parser.parse_args()
    from convzoo.apis import Inferencer
    infer = Inferencer(args.config, args.checkpoint, device=args.device, batch_size=args.batch_size,
                       score_thr=args.score_thr)
    results = infer(args.source, out_dir=args.out_dir, frame_json=args.frame_json)
    print(f'{len(results)} input(s) processed; outputs in {osp.abspath(args.out_dir)}')


if __name__ == '__main__':
    run_main(main)
