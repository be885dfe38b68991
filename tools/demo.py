"""The main job of ``make demo``: SEPC-lite RetinaNet trained and evaluated on the embedded dataset.

1. generates the embedded COCO-format dataset (once), 2. trains with tools/train.py, 3. evaluates COCO bbox mAP
with tools/test.py (pycocotools), 4. draws the detections on held-out images and the loss curve, 5. runs the
detector on a short video made from held-out images (annotated MP4 through the inference API), 6. prints where
everything went.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run(*args: str) -> None:
    print(f'\n$ python {" ".join(args)}', flush=True)
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


HELD_OUT = (18, 27, 30, 44)  # val images with several objects each


def write_montage(task, images: list[str], results: list[dict], path: str, scale: int = 3) -> None:
    """The detections drawn on the held-out images, enlarged ``scale`` times so small boxes stay readable."""
    import cv2
    import numpy as np
    tiles = []
    for image, result in zip(images, results):
        big = cv2.resize(cv2.imread(image), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        scaled = dict(result, boxes=[[v * scale for v in box] for box in result['boxes']])
        tiles.append(np.pad(task.draw(big, scaled), ((4, 4), (4, 4), (0, 0)), constant_values=255))
    rows = [np.concatenate(tiles[i:i + 2], axis=1) for i in range(0, len(tiles), 2)]
    cv2.imwrite(path, np.concatenate(rows, axis=0))


def read_losses(work_dir: str) -> list[tuple[int, float]]:
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')), key=osp.getmtime)
    losses = []
    for line in open(logs[-1]):
        entry = json.loads(line)
        if 'loss' in entry and 'step' in entry:
            losses.append((entry['step'], entry['loss']))
    return losses


def plot_losses(losses, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot([s for s, _ in losses], [v for _, v in losses])
    ax.set(xlabel='iteration', ylabel='training loss', title='SEPC-lite RetinaNet on coco_shapes')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default='configs/demo/sepc_lite_retinanet_demo.py')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--skip-train', action='store_true', help='evaluate the last checkpoint in the work dir')
    args = parser.parse_args()
    os.chdir(ROOT)
    start = time.time()
    if not args.skip_train:
        run('tools/train.py', args.config, '--work-dir', args.work_dir)
    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run('tools/test.py', args.config, checkpoint, '--work-dir', args.work_dir)
    with open(osp.join(args.work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)['metrics']

    from convzoo.apis import Inferencer
    from convzoo.tasks.embedded import ensure_embedded
    val_dir = ensure_embedded('coco_shapes') / 'val'  # never trained on
    images = [str(val_dir / f'{i:05d}.jpg') for i in HELD_OUT]
    vis_dir = osp.join(args.work_dir, 'vis')
    infer = Inferencer(args.config, checkpoint)
    results = infer(images[0], out_dir=vis_dir) + [infer(path)[0] for path in images[1:]]
    picture = osp.join(args.work_dir, 'detections.png')
    write_montage(infer.task, images, results, picture)
    losses = read_losses(args.work_dir)
    curve = osp.join(args.work_dir, 'loss_curve.png')
    plot_losses(losses, curve)
    from convzoo.tasks.detection.demo_video import annotated_demo_video
    video = annotated_demo_video(args.config, checkpoint, osp.join(args.work_dir, 'video'))

    print('\n' + '=' * 72)
    print(f'convzoo demo finished in {time.time() - start:.0f} s')
    print(f'  training loss      : {losses[0][1]:.3f} (iter {losses[0][0]}) -> {losses[-1][1]:.3f} '
          f'(iter {losses[-1][0]})')
    print(f'  COCO bbox mAP      : {metrics["coco/bbox_mAP"]:.3f} (mAP50 {metrics["coco/bbox_mAP_50"]:.3f}, '
          f'mAP75 {metrics["coco/bbox_mAP_75"]:.3f}) on the embedded val split')
    print(f'  held-out images    : {", ".join(osp.basename(p) for p in images)} of the val split -> '
          f'{", ".join(str(len(r["boxes"])) for r in results)} detections')
    print(f'  picture            : {osp.abspath(picture)}')
    print(f'  per-image outputs  : {osp.abspath(vis_dir)}')
    print(f'  loss curve         : {osp.abspath(curve)}')
    print(f'  annotated video    : {osp.abspath(video)} (input clip beside it)')
    print(f'  checkpoint         : {osp.abspath(checkpoint)}')
    print(f'  metrics            : {osp.abspath(osp.join(args.work_dir, "test_metrics.json"))}')
    print('=' * 72)
    return 0


if __name__ == '__main__':
    sys.exit(main())
