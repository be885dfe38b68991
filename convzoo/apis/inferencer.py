"""One inference entry point for every convzoo task: image, numpy array, folder, glob or video in.

    from convzoo.apis import Inferencer
    infer = Inferencer('configs/sepc/demo/sepc_lite_retinanet_demo.py', 'work_dirs/.../epoch_12.pth')
    results = infer('photo.jpg', out_dir='work_dirs/vis')        # list of per-frame result dicts

Outputs under ``out_dir``: a drawn image per input image, or a drawn video (same frame rate) per video, and the
results as JSON. Files are written under a temporary name and renamed when complete. Adapters may declare
``image_ext`` (default '.jpg') and ``output_size((w, h)) -> (w, h)`` when their output image is not the input's
size (super-resolution); result entries whose key starts with '_' (e.g. a restored image) stay out of the JSON.
An adapter's optional ``extra_images(result) -> {suffix: image}`` adds files beside the drawn output, e.g. a
segmentation label map as ``<name>_labels.png`` (for a video: ``<video stem>/<frame name>_labels.png``).
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Iterable

import cv2
from mmengine.config import Config
from tqdm import tqdm

from convzoo.apis.adapters import task_for
from convzoo.apis.sources import Frame, VideoSource, open_source, prefetch, read_image
from convzoo.core.errors import SourceError


def _public(result: dict) -> dict:
    """The JSON-able part of a result: '_'-prefixed entries are in-memory payloads such as a restored image."""
    return {k: v for k, v in result.items() if not k.startswith('_')}


def _write_extra_images(task, result: dict, folder: str, name: str) -> None:
    for suffix, image in getattr(task, 'extra_images', lambda r: {})(result).items():
        _write_atomic(osp.join(folder, f'{name}{suffix}'), lambda p, image=image: cv2.imwrite(p, image))


def _write_atomic(path: str, write) -> None:
    tmp = f'{path}.part{osp.splitext(path)[1]}'
    write(tmp)
    os.replace(tmp, path)


class Inferencer:

    def __init__(self, config: str | Config, checkpoint: str | None = None, device: str = 'cpu',
                 cfg_options: dict | None = None, batch_size: int = 4, score_thr: float = 0.3):
        import convzoo  # noqa: F401  (registration, compatibility fixes)
        from convzoo.core.checkpoint import load_model_weights
        from convzoo.core.config import load_config
        cfg = load_config(config, cfg_options) if isinstance(config, str) else config
        self.cfg, self.batch_size = cfg, batch_size
        self.task = task_for(cfg, score_thr=score_thr)
        self.model = self.task.build_model()
        meta = None
        if checkpoint:
            meta = load_model_weights(self.model, checkpoint, strict=True).get('meta')
        self.task.set_meta(meta)
        self.model.to(device).eval()

    def predict_frames(self, frames: Iterable[Frame]):
        """Yield (frame, result) for frames, run in batches."""
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == self.batch_size:
                yield from zip(batch, self.task.predict(self.model, [f.image for f in batch]))
                batch = []
        if batch:
            yield from zip(batch, self.task.predict(self.model, [f.image for f in batch]))

    def __call__(self, source, out_dir: str | None = None, progress: bool = True,
                 frame_json: bool = False) -> list[dict]:
        """Results per input image / decoded video frame. With ``out_dir``: drawn outputs and JSON; for a video
        ``frame_json`` also writes ``<video stem>/<frame name>.json`` for every frame as it is processed."""
        kind, items = open_source(source)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
        if kind == 'video':
            return self._run_video(items, out_dir, progress, frame_json)
        frames = items if kind != 'images' else (read_image(p) for p in items)
        results = []
        bar = tqdm(total=len(items), desc='inference', unit='img', disable=not progress or len(items) < 2)
        for frame, result in self.predict_frames(frames):
            result = dict(result, source=frame.path or frame.name, notes=frame.notes)
            results.append(result)
            if out_dir:
                drawn = self.task.draw(frame.image, result)
                ext = getattr(self.task, 'image_ext', '.jpg')
                _write_atomic(osp.join(out_dir, f'{frame.name}{ext}'), lambda p: cv2.imwrite(p, drawn))
                _write_extra_images(self.task, result, out_dir, frame.name)
                _write_atomic(osp.join(out_dir, f'{frame.name}.json'),
                              lambda p: open(p, 'w').write(json.dumps(_public(result))))
            bar.update()
        bar.close()
        return results

    def _run_video(self, video: VideoSource, out_dir: str | None, progress: bool, frame_json: bool) -> list[dict]:
        stem = osp.splitext(osp.basename(video.path))[0]
        writer, tmp_video = None, None
        if out_dir:
            tmp_video = osp.join(out_dir, f'{stem}.part.mp4')
            size = getattr(self.task, 'output_size', lambda s: s)(video.size)
            writer = cv2.VideoWriter(tmp_video, cv2.VideoWriter_fourcc(*'mp4v'), video.fps, size)
        results = []
        bar = tqdm(total=len(video) or None, desc=f'video {stem}', unit='frame', disable=not progress)
        # decoding runs in a background thread, a few batches ahead of the model
        for frame, result in self.predict_frames(prefetch(video, 2 * self.batch_size)):
            entry = dict(_public(result), frame=frame.index)  # frames are not kept in memory
            if writer is not None:
                writer.write(self.task.draw(frame.image, result))
                if hasattr(self.task, 'extra_images') or frame_json:
                    os.makedirs(osp.join(out_dir, stem), exist_ok=True)
                _write_extra_images(self.task, result, osp.join(out_dir, stem), frame.name)
                if frame_json:
                    _write_atomic(osp.join(out_dir, stem, f'{frame.name}.json'),
                                  lambda p: open(p, 'w').write(json.dumps(entry)))
            results.append(entry)
            bar.update()
            if video.skipped:
                bar.set_postfix(skipped=video.skipped)
        bar.close()
        if video.skipped:
            print(f'[convzoo] {video.path}: {video.skipped} frame(s) could not be decoded and were skipped '
                  f'(frame indices {video.skipped_indices})')
        if not results:
            if writer is not None:
                writer.release()
                if osp.exists(tmp_video):
                    os.remove(tmp_video)
            raise SourceError(f'{video.path}: no frame could be decoded')
        if writer is not None:
            writer.release()
            # 'complete' only when every frame the container announces was decoded and drawn
            complete = video.skipped == 0 and len(results) >= len(video)
            summary = dict(source=video.path, fps=video.fps, size=video.size, frames=len(results),
                           expected_frames=len(video), skipped_frames=video.skipped,
                           skipped_frame_indices=video.skipped_indices, complete=complete, results=results)
            _write_atomic(osp.join(out_dir, f'{stem}.json'), lambda p: open(p, 'w').write(json.dumps(summary)))
            os.replace(tmp_video, osp.join(out_dir, f'{stem}.mp4'))
        return results
