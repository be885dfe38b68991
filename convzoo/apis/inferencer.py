"""One inference entry point for every convzoo task: image, numpy array, folder, glob or video in.

    from convzoo.apis import Inferencer
    infer = Inferencer('configs/sepc/demo/sepc_lite_retinanet_demo.py', 'work_dirs/.../epoch_12.pth')
    results = infer('photo.jpg', out_dir='work_dirs/vis')        # list of per-input result dicts

Results, output names, skipped inputs and thread safety: see :class:`Inferencer`.

Adapters may declare ``image_ext`` (default '.jpg') and ``output_size((w, h)) -> (w, h)`` when their output image is
not the input's size (super-resolution); result entries whose key starts with '_' (e.g. a restored image) stay out
of the JSON. An adapter's optional ``extra_images(result) -> {suffix: image}`` adds files beside the drawn output,
e.g. a segmentation label map as ``<name>_labels.png`` (for a video: ``<video name>/<frame name>_labels.png``).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import threading
import uuid
from typing import Iterable

import cv2
from mmengine.config import Config
from tqdm import tqdm

from convzoo.apis.adapters import task_for
from convzoo.apis.sources import Frame, Source, VideoSource, check_out_dir, open_source, prefetch, read_image
from convzoo.core.errors import OutputDirError, SourceError


def _public(result: dict) -> dict:
    """The JSON-able part of a result: '_'-prefixed entries are in-memory payloads such as a restored image."""
    return {k: v for k, v in result.items() if not k.startswith('_')}


def count_line(results: list[dict]) -> str:
    """'N processed, M skipped': how a run ends, for the API's report and ``convzoo infer`` alike."""
    skipped = sum(bool(r.get('skipped')) for r in results)
    return f'{len(results) - skipped} processed, {skipped} skipped'


def _temp_path(path: str) -> str:
    """A temporary name beside ``path``, unique to this call (same folder: the rename is atomic; same extension:
    OpenCV picks the encoder by it)."""
    folder, base = osp.split(path)
    return osp.join(folder, f'.{base}.{uuid.uuid4().hex}.part{osp.splitext(base)[1]}')


def _write_atomic(path: str, write) -> None:
    """``write(tmp)`` then rename to ``path``: a reader never sees half a file, and calls writing the same path at
    once each rename a complete file of their own. ``write`` returning False (cv2.imwrite) is a failure."""
    tmp = _temp_path(path)
    try:
        if write(tmp) is False:
            raise OSError(f'{path}: could not be written')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _dump_json(path: str, data) -> None:
    with open(path, 'w') as f:
        json.dump(data, f)


class _Outputs:
    """Where one call writes under ``out_dir``; a path that resolves to an input file is refused, whatever the
    names (the last guard: inputs are never overwritten)."""

    def __init__(self, out_dir: str, inputs: list[str]):
        self.out_dir = out_dir
        self.inputs = {osp.realpath(p) for p in inputs}

    def path(self, name: str, suffix: str) -> str:
        path = osp.join(self.out_dir, f'{name}{suffix}')
        if osp.realpath(path) in self.inputs:
            raise OutputDirError(f'{path} is an input file; outputs never replace inputs, choose another out_dir')
        os.makedirs(osp.dirname(path), exist_ok=True)
        return path

    def image(self, name: str, suffix: str, image) -> None:
        _write_atomic(self.path(name, suffix), lambda p: cv2.imwrite(p, image))

    def json(self, name: str, data) -> None:
        _write_atomic(self.path(name, '.json'), lambda p: _dump_json(p, data))


class _Run:
    """One call's entries by input index (returned in input order) and the summary built from them."""

    def __init__(self, source):
        self.source = 'array' if not isinstance(source, (str, os.PathLike)) else os.fspath(source)
        self.rows: dict[int, tuple[dict, str, str | None]] = {}

    def add(self, index: int, entry: dict, label: str, output: str | None = None) -> None:
        self.rows[index] = (entry, label, output)

    def skip(self, index: int, label: str, reason: str, **keys) -> None:
        self.add(index, dict(keys, skipped=True, reason=reason), label)

    def results(self) -> list[dict]:
        return [self.rows[i][0] for i in sorted(self.rows)]

    def summary(self) -> dict:
        rows = [self.rows[i] for i in sorted(self.rows)]
        processed = [dict(input=label, **({'output': out} if out else {}))
                     for entry, label, out in rows if not entry['skipped']]
        skipped = [dict(input=label, reason=entry['reason']) for entry, label, _ in rows if entry['skipped']]
        return dict(source=self.source, processed=processed, skipped=skipped)


class Inferencer:
    """Run a trained model of any convzoo task on an image, numpy array, folder, glob or video.

    Results: one entry per input image (or per frame a video announces), in input order, each with ``skipped``. An
    image of a folder or glob that cannot be read (missing, corrupt, cut short, no pixels) or a video frame that cannot
    be decoded does not stop the run: its entry is ``{'source' (or 'frame'), 'skipped': True, 'reason'}`` and the run
    goes on. A single image or array that cannot be used is a SourceError, as is a video without any decodable frame.

    Outputs under ``out_dir``: a drawn image per input image, or a drawn video (same frame rate) per video, the results
    as JSON, and ``summary.json`` (the inputs processed with their output names, the inputs skipped with the reason).
    Output names keep the input's path relative to the folder read (or to a glob's folder before its first wildcard):
    ``photos/sub/x.jpg`` read as ``'photos/*/*.jpg'`` gives ``sub/x.jpg`` and ``sub/x.json``; inputs that would share a
    name keep their extension in it (``x.jpg`` and ``x.png`` give ``x_jpg.*`` and ``x_png.*``), and a name still taken
    gets ``_2``, ``_3``; an array is ``array``. So no output of a call replaces another. An ``out_dir`` that is the
    folder read or lies inside it, or is the folder of an input file, is refused (OutputDirError, a SourceError), and
    no output ever replaces an input file. Files are written under a temporary name unique to the call and renamed
    when complete, so readers never see half a file and calls writing the same outputs at once do not collide.

    An Inferencer may be called from several threads at once: the model runs one batch at a time (a lock), and
    everything else a call touches is its own.
    """

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
        self._model_lock = threading.Lock()  # the model and the adapter's state are shared by calls in threads

    def _predict(self, batch: list[Frame]):
        with self._model_lock:
            return zip(batch, self.task.predict(self.model, [f.image for f in batch]))

    def predict_frames(self, frames: Iterable[Frame]):
        """Yield (frame, result) for frames, run in batches."""
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == self.batch_size:
                yield from self._predict(batch)
                batch = []
        if batch:
            yield from self._predict(batch)

    def __call__(self, source, out_dir: str | None = None, progress: bool = True,
                 frame_json: bool = False) -> list[dict]:
        """Results per input image / video frame (see the module doc). With ``out_dir``: drawn outputs, JSON and
        summary.json; for a video ``frame_json`` also writes ``<video name>/<frame name>.json`` for every frame as
        it is processed. A folder, glob or video run ends with 'N processed, M skipped' when ``progress`` is on or
        anything was skipped."""
        src = open_source(source)
        outputs = None
        if out_dir:
            check_out_dir(src, out_dir)
            outputs = _Outputs(out_dir, src.paths)
        run = _Run(source)
        if src.kind == 'video':
            self._run_video(src, outputs, run, progress, frame_json)
        else:
            self._run_images(src, outputs, run, progress)
        if outputs:
            outputs.json('summary', run.summary())
        results = run.results()
        if src.kind in ('images', 'video') and (progress or any(r['skipped'] for r in results)):
            print(f'[convzoo] {run.source}: {count_line(results)}')
        return results

    def _frames(self, src: Source, run: _Run, bar: tqdm):
        """The source's frames; an image of a folder or glob that cannot be read is recorded as skipped."""
        if src.kind != 'images':
            yield from src.frames
            return
        for index, (path, name) in enumerate(zip(src.paths, src.names)):
            try:
                frame = read_image(path, name, index)
            except SourceError as err:  # the message names the file; the entry's reason is the rest
                run.skip(index, path, str(err).removeprefix(f'{path}: '), source=path)
                tqdm.write(f'[convzoo] skipped {err}')
                bar.update()
                continue
            yield frame

    def _run_images(self, src: Source, outputs: _Outputs | None, run: _Run, progress: bool) -> None:
        ext = getattr(self.task, 'image_ext', '.jpg')
        bar = tqdm(total=len(src.names), desc='inference', unit='img', disable=not progress or len(src.names) < 2)
        for frame, result in self.predict_frames(self._frames(src, run, bar)):
            entry = dict(result, source=frame.path or frame.name, notes=frame.notes, skipped=False)
            if outputs:
                outputs.image(frame.name, ext, self.task.draw(frame.image, entry))
                _write_extras(self.task, outputs, frame.name, entry)
                outputs.json(frame.name, _public(entry))
            run.add(frame.index, entry, entry['source'], f'{frame.name}{ext}' if outputs else None)
            bar.update()
        bar.close()

    def _run_video(self, src: Source, outputs: _Outputs | None, run: _Run, progress: bool,
                   frame_json: bool) -> None:
        video, name = src.video, src.names[0]
        drawn = None
        if outputs:
            size = getattr(self.task, 'output_size', lambda s: s)(video.size)
            drawn = _DrawnVideo(self.task, outputs, name, video.fps, size, frame_json)
        try:
            self._predict_video(video, name, drawn, run, progress)
            if drawn:
                drawn.finish(_video_summary(video, run.results()))
        finally:
            if drawn:
                drawn.close()

    def _predict_video(self, video: VideoSource, name: str, drawn: _DrawnVideo | None, run: _Run,
                       progress: bool) -> None:
        """Run the decoded frames, then record the frames that could not be decoded (known once decoding ended,
        lost frames at the end included)."""
        bar = tqdm(total=len(video) or None, desc=f'video {name}', unit='frame', disable=not progress)
        # decoding runs in a background thread, a few batches ahead of the model
        for frame, result in self.predict_frames(prefetch(video, 2 * self.batch_size)):
            entry = dict(_public(result), frame=frame.index, skipped=False)  # frames are not kept in memory
            if drawn:
                drawn.add(frame, result, entry)
            run.add(frame.index, entry, frame.name)
            bar.update()
            if video.skipped:
                bar.set_postfix(skipped=video.skipped)
        bar.close()
        for index in video.skipped_indices:
            run.skip(index, f'frame_{index:06d}', 'frame could not be decoded', frame=index)
        if video.skipped:
            print(f'[convzoo] {video.path}: {video.skipped} frame(s) could not be decoded and were skipped '
                  f'(frame indices {video.skipped_indices})')
        if len(run.rows) == video.skipped:
            raise SourceError(f'{video.path}: no frame could be decoded')


def _write_extras(task, outputs: _Outputs, name: str, result: dict) -> None:
    for suffix, image in getattr(task, 'extra_images', lambda r: {})(result).items():
        outputs.image(name, suffix, image)


def _video_summary(video: VideoSource, results: list[dict]) -> dict:
    frames = len(results) - video.skipped
    # 'complete' only when every frame the container announces was decoded and drawn
    complete = video.skipped == 0 and frames >= len(video)
    return dict(source=video.path, fps=video.fps, size=video.size, frames=frames, expected_frames=len(video),
                skipped_frames=video.skipped, skipped_frame_indices=video.skipped_indices, complete=complete,
                results=results)


class _DrawnVideo:
    """The drawn ``<name>.mp4`` of one call, written to a temporary file that is renamed when the run completes
    (and removed if it fails), with the per-frame files beside it in ``<name>/``."""

    def __init__(self, task, outputs: _Outputs, name: str, fps: float, size: tuple[int, int], frame_json: bool):
        self.task, self.outputs, self.name, self.frame_json = task, outputs, name, frame_json
        self.final = outputs.path(name, '.mp4')
        self.tmp = _temp_path(self.final)
        self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)

    def add(self, frame: Frame, result: dict, entry: dict) -> None:
        self.writer.write(self.task.draw(frame.image, result))
        _write_extras(self.task, self.outputs, f'{self.name}/{frame.name}', result)
        if self.frame_json:
            self.outputs.json(f'{self.name}/{frame.name}', entry)

    def finish(self, summary: dict) -> None:
        self.writer.release()
        self.outputs.json(self.name, summary)
        os.replace(self.tmp, self.final)

    def close(self) -> None:
        self.writer.release()
        if osp.exists(self.tmp):
            os.remove(self.tmp)
