"""``convzoo demo``: the demos, each training and evaluating on embedded data like a user would.

    convzoo demo                      # detection (make demo): SEPC-lite RetinaNet on coco_shapes
    convzoo demo --task rotated       # Rotated RetinaNet with ResNet-50 and with ARC-ResNet-50 on dota_objects

Detection: 1. generates the embedded COCO-format dataset (once), 2. trains with ``convzoo train``, 3. evaluates
COCO bbox mAP with ``convzoo test`` (pycocotools), 4. draws the detections on held-out images and the loss curve,
5. runs the detector on a short video made from held-out images (an annotated H.264 MP4 that browsers play, through
the inference API), 6. prints where everything went. Rotated: both models trained the same way in one run,
evaluated with the DOTA metric on merged full images, then used through the inference API on a large image made of
four validation images (split and merged automatically); writes ``<work-dir>/summary.json``.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

import cv2
import numpy as np

HELD_OUT = (18, 27, 30, 44)  # val images of coco_shapes with several objects each
ROTATED_DEMOS = {'ResNet-50': 'configs/arc/demo/rotated_retinanet_r50_fpn_1x_dota_le90_demo.py',
                 'ARC-ResNet-50': 'configs/arc/demo/arc_rotated_retinanet_r50_fpn_1x_dota_le90_demo.py'}


def run_convzoo(*args: str, threads: int | None = None) -> float:
    """Run ``convzoo ARGS`` in a subprocess, as a user would (a fresh runner each time); returns the wall time."""
    print(f'\n$ convzoo {" ".join(args)}', flush=True)
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {}))
    start = time.time()
    subprocess.run([sys.executable, '-m', 'convzoo', *args], check=True, env=env)
    return time.time() - start


def train_and_test(config: str, work_dir: str, *options: str, skip_train: bool = False) -> dict:
    """Train ``config`` into ``work_dir`` and test its last checkpoint; the checkpoint, metrics and wall times."""
    options = ('--cfg-options', *options) if options else ()
    train_s = 0.0 if skip_train else run_convzoo('train', config, '--work-dir', work_dir, *options)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    test_s = run_convzoo('test', config, checkpoint, '--work-dir', work_dir, *options)
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)['metrics']
    return dict(config=config, checkpoint=checkpoint, metrics=metrics, train_wall_s=round(train_s),
                test_wall_s=round(test_s))


# --- detection -------------------------------------------------------------------------------------------------------
def write_montage(task, images: list[str], results: list[dict], path: str, scale: int = 3) -> None:
    """The detections drawn on the held-out images, enlarged ``scale`` times so small boxes stay readable."""
    tiles = []
    for image, result in zip(images, results):
        big = cv2.resize(cv2.imread(image), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        scaled = dict(result, bboxes=[[v * scale for v in box] for box in result['bboxes']])
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


def loss_curve_title(config: str) -> str:
    """The loss curve's title: the config's name and the model type it trains (nothing hard-coded, so every
    demo config gets its own)."""
    from convzoo.core.config import load_config
    model = load_config(config).model
    return f'{osp.splitext(osp.basename(config))[0]} ({model.get("type", "model")}): training loss'


def plot_losses(losses, path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot([s for s, _ in losses], [v for _, v in losses])
    ax.set(xlabel='iteration', ylabel='training loss', title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_shapes_video(path: str, dataset: str = 'coco_shapes', image_ids=range(1, 9), frames_per_image: int = 8,
                       fps: float = 8.0, drift: float = 6.0) -> str:
    """An MP4 clip (H.264: it plays in a browser too) of val images ``image_ids`` of an embedded dataset, each held
    for a moment with a slow drift so that drawn boxes visibly follow the objects; returns ``path``."""
    from convzoo.apis.outputs import write_atomic
    from convzoo.apis.video import open_video_writer
    from convzoo.core.embedded import ensure_embedded
    root = ensure_embedded(dataset)
    images = [cv2.imread(str(root / 'val' / f'{i:05d}.jpg')) for i in image_ids]
    h, w = images[0].shape[:2]

    def write(tmp: str) -> None:
        writer = open_video_writer(tmp, fps, (w, h))
        for image in images:
            for step in range(frames_per_image):
                shift = drift * (step / max(frames_per_image - 1, 1) - 0.5)
                warp = np.float32([[1, 0, shift], [0, 1, shift / 2]])
                writer.write(cv2.warpAffine(image, warp, (w, h), borderMode=cv2.BORDER_REFLECT))
        writer.release()
    write_atomic(path, write)
    return path


def annotated_demo_video(config: str, checkpoint: str, out_dir: str, **video_kwargs) -> str:
    """Make the clip in ``out_dir`` and run the detector on it; returns the path of the drawn video."""
    from convzoo.apis import Inferencer
    os.makedirs(out_dir, exist_ok=True)
    clip = write_shapes_video(osp.join(out_dir, 'shapes_clip.mp4'), **video_kwargs)
    Inferencer(config, checkpoint)(clip, out_dir=osp.join(out_dir, 'annotated'))
    return osp.join(out_dir, 'annotated', 'shapes_clip.mp4')


def detection_demo(args) -> int:
    from convzoo.apis import Inferencer
    from convzoo.core.embedded import ensure_embedded
    start = time.time()
    run = train_and_test(args.config, args.work_dir, *args.cfg_options, skip_train=args.skip_train)
    checkpoint, metrics = run['checkpoint'], run['metrics']
    val_dir = ensure_embedded('coco_shapes') / 'val'  # never trained on
    images = [str(val_dir / f'{i:05d}.jpg') for i in HELD_OUT]
    vis_dir = osp.join(args.work_dir, 'vis')
    infer = Inferencer(args.config, checkpoint)
    results = infer(images[0], out_dir=vis_dir) + [infer(path)[0] for path in images[1:]]
    picture = osp.join(args.work_dir, 'detections.png')
    write_montage(infer.task, images, results, picture)
    losses = read_losses(args.work_dir)
    curve = osp.join(args.work_dir, 'loss_curve.png')
    plot_losses(losses, curve, loss_curve_title(args.config))
    video = annotated_demo_video(args.config, checkpoint, osp.join(args.work_dir, 'video'))

    print('\n' + '=' * 72)
    print(f'convzoo demo finished in {time.time() - start:.0f} s')
    print(f'  training loss      : {losses[0][1]:.3f} (iter {losses[0][0]}) -> {losses[-1][1]:.3f} '
          f'(iter {losses[-1][0]})')
    print(f'  COCO bbox mAP      : {metrics["coco/bbox_mAP"]:.3f} (mAP50 {metrics["coco/bbox_mAP_50"]:.3f}, '
          f'mAP75 {metrics["coco/bbox_mAP_75"]:.3f}) on the embedded val split')
    print(f'  held-out images    : {", ".join(osp.basename(p) for p in images)} of the val split -> '
          f'{", ".join(str(len(infer.task.kept(r))) for r in results)} detections at score >= '
          f'{infer.task.score_thr}')
    print(f'  picture            : {osp.abspath(picture)}')
    print(f'  per-image outputs  : {osp.abspath(vis_dir)}')
    print(f'  loss curve         : {osp.abspath(curve)}')
    print(f'  annotated video    : {osp.abspath(video)} (input clip beside it)')
    print(f'  checkpoint         : {osp.abspath(checkpoint)}')
    print(f'  metrics            : {osp.abspath(osp.join(args.work_dir, "test_metrics.json"))}')
    print('=' * 72)
    return 0


# --- rotated ---------------------------------------------------------------------------------------------------------
def large_test_image(data_root: str, out_path: str) -> str:
    """Four full validation images tiled 2 x 2 (768 x 768): larger than a patch, so inference splits it."""
    tiles = [cv2.imread(osp.join(data_root, 'val', 'images', f'P{i:04d}.jpg')) for i in range(4)]
    cv2.imwrite(out_path, np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return out_path


def rotated_demo(args) -> int:
    from convzoo.apis import Inferencer
    from convzoo.core.embedded import ensure_embedded
    summary = {}
    for name, config in ROTATED_DEMOS.items():
        work_dir = osp.join(args.work_dir, osp.splitext(osp.basename(config))[0])
        summary[name] = train_and_test(config, work_dir, *args.cfg_options, skip_train=args.skip_train)
        print(f'{name}: {summary[name]["metrics"]}  (train {summary[name]["train_wall_s"]} s, '
              f'test {summary[name]["test_wall_s"]} s)', flush=True)
    image = large_test_image(str(ensure_embedded('dota_objects')), osp.join(args.work_dir, 'val_2x2.jpg'))
    arc = summary['ARC-ResNet-50']
    infer = Inferencer(arc['config'], arc['checkpoint'])
    result = infer(image, out_dir=osp.join(args.work_dir, 'vis'))[0]
    summary['inference'] = dict(image=image, detections=len(infer.task.kept(result)),
                                drawn=osp.join(args.work_dir, 'vis', 'val_2x2.jpg'))
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\n' + '=' * 72)
    for name in ROTATED_DEMOS:
        s = summary[name]
        print(f'  {name:<15} DOTA mAP {s["metrics"].get("dota/mAP", float("nan")):.4f}   train {s["train_wall_s"]} s,'
              f' test {s["test_wall_s"]} s')
    print(f'  inference on {image} (768 x 768, split into 256 patches): {summary["inference"]["detections"]} '
          f'objects -> {summary["inference"]["drawn"]}')
    print(f'  summary: {osp.abspath(osp.join(args.work_dir, "summary.json"))}')
    print('=' * 72)
    return 0


DEMOS = {'detection': (detection_demo, 'work_dirs/demo'), 'rotated': (rotated_demo, 'work_dirs/rotated_demo')}


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', choices=sorted(DEMOS), default='detection', help='which demo (default: detection)')
    parser.add_argument('--config', default='configs/sepc/demo/sepc_lite_retinanet_demo.py',
                        help='detection: the demo config')
    parser.add_argument('--work-dir', help='outputs go here (default: work_dirs/demo, work_dirs/rotated_demo)')
    parser.add_argument('--skip-train', action='store_true', help='evaluate the last checkpoint in the work dir')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every training and test')
    args = parser.parse_args(argv)
    run, default_dir = DEMOS[args.task]
    args.work_dir = args.work_dir or default_dir
    os.makedirs(args.work_dir, exist_ok=True)
    return run(args)
