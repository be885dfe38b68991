"""One inference entry point for every convzoo task: image, numpy array, folder, glob or video in.

    from convzoo.apis import Inferencer
    infer = Inferencer('configs/sepc/demo/sepc_lite_retinanet_demo.py', 'work_dirs/.../epoch_12.pth')
    results = infer('photo.jpg', out_dir='work_dirs/vis')        # list of per-input result dicts
    samples = infer('photo.jpg', return_datasamples=True)         # list of DetDataSample, as mmdet's DetInferencer

Results (keys per task), output names, skipped inputs, ``score_thr`` and thread safety: see :class:`Inferencer`.
The adapters' protocol is in :mod:`convzoo.apis.adapters`.
"""
from __future__ import annotations

import os
import os.path as osp
import threading
from collections.abc import Iterable

from mmengine.config import Config
from tqdm import tqdm

from convzoo.apis.adapters import task_for
from convzoo.apis.outputs import Outputs, temp_path
from convzoo.apis.sources import Frame, Source, VideoSource, check_out_dir, open_source, prefetch, read_image
from convzoo.apis.video import open_video_writer
from convzoo.core.errors import SourceError

COMMON_KEYS = ('source', 'frame', 'skipped', 'reason', 'notes')  # in every entry, whatever the task and source
FPS_DECIMALS = 3


def count_line(results: list) -> str:
    """'N processed, M skipped': how a run ends, for the API's report and ``convzoo infer`` alike."""
    skipped = sum(bool(_common(r)['skipped']) for r in results)
    return f'{len(results) - skipped} processed, {skipped} skipped'


def _common(entry) -> dict:
    """The common keys of a result dict or data sample (whose metainfo holds them)."""
    return entry if isinstance(entry, dict) else entry.metainfo


def processed_entry(result: dict, source: str, frame: int | None, notes: list[str]) -> dict:
    return dict(source=source, frame=frame, skipped=False, reason=None, notes=notes, **result)


def skipped_entry(source: str, frame: int | None, reason: str) -> dict:
    return dict(source=source, frame=frame, skipped=True, reason=reason, notes=[])


class _Run:
    """One call's entries by input index (returned in input order), their JSON form when outputs are written, and
    the summary built from them."""

    def __init__(self, source):
        self.source = 'array' if not isinstance(source, (str, os.PathLike)) else os.fspath(source)
        self.rows: dict[int, tuple[dict, str, str | None]] = {}
        self.json: dict[int, dict] = {}

    def add(self, index: int, entry: dict, label: str, output: str | None = None, json_entry: dict | None = None):
        self.rows[index] = (entry, label, output)
        self.json[index] = json_entry if json_entry is not None else {k: entry[k] for k in COMMON_KEYS}

    def results(self) -> list[dict]:
        return [self.rows[i][0] for i in sorted(self.rows)]

    def json_results(self) -> list[dict]:
        return [self.json[i] for i in sorted(self.json)]

    def summary(self) -> dict:
        rows = [self.rows[i] for i in sorted(self.rows)]
        processed = [dict(input=label, **({'output': out} if out else {}))
                     for entry, label, out in rows if not entry['skipped']]
        skipped = [dict(input=label, reason=entry['reason']) for entry, label, _ in rows if entry['skipped']]
        return dict(source=self.source, processed=processed, skipped=skipped)


class Inferencer:
    """Run a trained model of any convzoo task on an image, numpy array, folder, glob or video.

    Results: one entry per input image (or per frame a video announces), in input order: a dict with mmdet's key
    names for the task and the same common keys for every source (image, array, folder, glob, video):

    * common: ``source`` (the input's path, the video's path for its frames, or 'array'), ``frame`` (the frame index
      in a video, else None), ``skipped``, ``reason`` (why it was skipped, else None), ``notes`` (conversions made,
      e.g. 'alpha channel dropped');
    * detection: ``bboxes`` (x1, y1, x2, y2), ``scores``, ``labels``, ``label_names``;
    * rotated detection: ``bboxes`` (cx, cy, w, h, angle: le90, angle in radians in [-pi/2, pi/2), clockwise as
      displayed), ``polygons`` (x1, y1, ..., x4, y4), ``scores``, ``labels``, ``label_names``;
    * segmentation: ``sem_seg`` (H x W uint8 label map, numpy) and ``class_fractions``;
    * restoration: ``pred_img`` (BGR uint8 numpy image) with ``input_size``, ``output_size`` and ``scale``.

    With ``return_datasamples=True`` each entry is the task's mmengine data sample instead (DetDataSample with
    ``pred_instances``, SegDataSample with ``pred_sem_seg``, a BaseDataElement with ``pred_img``), the common keys
    in its metainfo (and ``img_path`` for image files), like mmdet's ``DetInferencer(return_datasamples=True)``.

    ``score_thr`` applies to the drawing and the JSON only, as in mmdet's DetInferencer: the returned results hold
    every prediction the model keeps (its config's ``test_cfg``), the drawn outputs and JSON files those scoring at
    least ``score_thr`` (the JSON says which threshold). Large arrays (``sem_seg``, ``pred_img``) stay in the
    returned results, for videos too; JSON files name the file that holds them instead (``sem_seg_file``:
    ``<name>_labels.png``; ``pred_img_file``: the output image or video). JSON numbers are rounded: box coordinates
    to 0.01 px, scores to 1e-4, angles to 1e-4 rad.

    Skipped inputs: an image of a folder or glob that cannot be read (missing, corrupt, cut short, no pixels) or a
    video frame that cannot be decoded does not stop the run: its entry has ``skipped: True`` and the ``reason``,
    and no task keys. A single image or array that cannot be used is a SourceError, as is a video without any
    decodable frame.

    Outputs under ``out_dir``: a drawn image per input image, or a drawn video (H.264 MP4 that browsers play, same
    frame rate) per video, the results as JSON, and ``summary.json`` (the inputs processed with their output names,
    the inputs skipped with the reason). Output names keep the input's path relative to the folder read (or to a
    glob's folder before its first wildcard): ``photos/sub/x.jpg`` read as ``'photos/*/*.jpg'`` gives ``sub/x.jpg``
    and ``sub/x.json``; inputs that would share a name keep their extension in it (``x.jpg`` and ``x.png`` give
    ``x_jpg.*`` and ``x_png.*``), and a name still taken gets ``_2``, ``_3``; an array is ``array``. So no output of
    a call replaces another. An ``out_dir`` that is the folder read or lies inside it, or is the folder of an input
    file, is refused (OutputDirError, a SourceError), and no output ever replaces an input file. Files are written
    under a temporary name unique to the call and renamed when complete, so readers never see half a file and calls
    writing the same outputs at once do not collide.

    ``onnx='model.onnx'`` (a file written by ``convzoo export``) runs the network with onnxruntime instead of
    PyTorch, with the same pipeline, post-processing and results; the checkpoint is then not needed.

    An Inferencer may be called from several threads at once: the model runs one batch at a time (a lock), and
    everything else a call touches is its own.
    """

    def __init__(self, config: str | Config, checkpoint: str | None = None, device: str = 'cpu',
                 cfg_options: dict | None = None, batch_size: int = 4, score_thr: float = 0.3,
                 onnx: str | None = None):
        import convzoo  # noqa: F401  (registration, compatibility fixes)
        from convzoo.core.config import load_config
        cfg = load_config(config, cfg_options) if isinstance(config, str) else config
        self.cfg, self.batch_size = cfg, batch_size
        from convzoo.core.threads import warn_if_openmp_spins
        warn_if_openmp_spins()  # once: torch imported before convzoo spins its OpenMP threads on a busy machine
        self.task = task_for(cfg, score_thr=score_thr)
        self.model = self._load_onnx(onnx, device) if onnx else self._load_model(checkpoint, device)
        self._model_lock = threading.Lock()  # the model and the adapter's state are shared by calls in threads

    def _load_model(self, checkpoint: str | None, device: str):
        """The model the adapter runs: built from the config, the checkpoint's weights loaded weights-only and
        strictly, on ``device``, in eval mode; the checkpoint's class names go to the adapter. Another backend
        only has to return an object with the same ``test_step(data)``."""
        from convzoo.core.checkpoint import load_model_weights
        model = self.task.build_model()
        meta = load_model_weights(model, checkpoint, strict=True).get('meta') if checkpoint else None
        self.task.set_meta(meta)
        return model.to(device).eval()

    def _load_onnx(self, path: str, device: str):
        """A file written by ``convzoo export``, run by onnxruntime behind the same ``test_step``; class names and
        palette come from its metadata."""
        from convzoo.deploy.onnx_runtime import OnnxModel
        model = OnnxModel(path).to(device)
        self.task.set_meta({'dataset_meta': model.dataset_meta})
        return model

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

    def __call__(self, source, out_dir: str | None = None, progress: bool = True, frame_json: bool = False,
                 return_datasamples: bool = False) -> list:
        """Results per input image / video frame (see the class doc): dicts, or the task's data samples with
        ``return_datasamples``. With ``out_dir``: drawn outputs, JSON and summary.json; for a video
        ``frame_json`` also writes ``<video name>/<frame name>.json`` for every frame as it is processed. A folder,
        glob or video run ends with 'N processed, M skipped' when ``progress`` is on or anything was skipped."""
        src = open_source(source)
        outputs = None
        if out_dir:
            check_out_dir(src, out_dir)
            outputs = Outputs(out_dir, src.paths)
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
        return [self.datasample(r) for r in results] if return_datasamples else results

    def datasample(self, entry: dict):
        """The task's mmengine data sample for a result dict: predictions as tensors, common keys as metainfo."""
        meta = {key: entry[key] for key in COMMON_KEYS}
        if entry['frame'] is None and entry['source'] != 'array':
            meta['img_path'] = entry['source']
        sample = self.task.datasample_type(metainfo=meta)
        if not entry['skipped']:
            self.task.fill_datasample(sample, entry)
        return sample

    def json_entry(self, entry: dict, files: dict[str, str]) -> dict:
        """The JSON form of a processed entry: common keys, the adapter's rounded predictions at or above
        ``score_thr``, and the names of the files holding its arrays."""
        return dict({key: entry[key] for key in COMMON_KEYS}, **self.task.to_json(entry), **files)

    def write_arrays(self, outputs: Outputs, name: str, drawn: str, entry: dict) -> dict[str, str]:
        """Write the entry's large arrays beside the drawn output ``drawn``; ``{'<key>_file': name}`` for JSON."""
        files = {}
        for key, suffix in getattr(self.task, 'array_files', {}).items():
            files[f'{key}_file'] = drawn if suffix is None else outputs.image(name, suffix, entry[key])
        return files

    def _frames(self, src: Source, run: _Run, bar: tqdm):
        """The source's frames; an image of a folder or glob that cannot be read is recorded as skipped."""
        if src.kind != 'images':
            yield from src.frames
            return
        for index, (path, name) in enumerate(zip(src.paths, src.names)):
            try:
                frame = read_image(path, name, index)
            except SourceError as err:  # the message names the file; the entry's reason is the rest
                run.add(index, skipped_entry(path, None, str(err).removeprefix(f'{path}: ')), path)
                tqdm.write(f'[convzoo] skipped {err}')
                bar.update()
                continue
            yield frame

    def _run_images(self, src: Source, outputs: Outputs | None, run: _Run, progress: bool) -> None:
        ext = getattr(self.task, 'image_ext', '.jpg')
        bar = tqdm(total=len(src.names), desc='inference', unit='img', disable=not progress or len(src.names) < 2)
        for frame, result in self.predict_frames(self._frames(src, run, bar)):
            entry = processed_entry(result, frame.path or frame.name, None, frame.notes)
            json_entry = None
            if outputs:
                drawn = outputs.image(frame.name, ext, self.task.draw(frame.image, entry))
                json_entry = self.json_entry(entry, self.write_arrays(outputs, frame.name, drawn, entry))
                outputs.json(frame.name, json_entry)
            run.add(frame.index, entry, entry['source'], f'{frame.name}{ext}' if outputs else None, json_entry)
            bar.update()
        bar.close()

    def _run_video(self, src: Source, outputs: Outputs | None, run: _Run, progress: bool,
                   frame_json: bool) -> None:
        video, name = src.video, src.names[0]
        drawn = None
        if outputs:
            size = getattr(self.task, 'output_size', lambda s: s)(video.size)
            drawn = _DrawnVideo(self, outputs, name, video.fps, size, frame_json)
        try:
            self._predict_video(video, name, drawn, run, progress)
            if drawn:
                drawn.finish(_video_summary(video, run))
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
            entry = processed_entry(result, video.path, frame.index, frame.notes)
            run.add(frame.index, entry, frame.name, json_entry=drawn.add(frame, entry) if drawn else None)
            bar.update()
            if video.skipped:
                bar.set_postfix(skipped=video.skipped)
        bar.close()
        for index in video.skipped_indices:
            run.add(index, skipped_entry(video.path, index, 'frame could not be decoded'), f'frame_{index:06d}')
        if video.skipped:
            print(f'[convzoo] {video.path}: {video.skipped} frame(s) could not be decoded and were skipped '
                  f'(frame indices {video.skipped_indices})')
        if len(run.rows) == video.skipped:
            raise SourceError(f'{video.path}: no frame could be decoded')


def _video_summary(video: VideoSource, run: _Run) -> dict:
    frames = len(run.rows) - video.skipped
    # 'complete' only when every frame the container announces was decoded and drawn
    complete = video.skipped == 0 and frames >= len(video)
    return dict(source=video.path, fps=round(video.fps, FPS_DECIMALS), size=video.size, frames=frames,
                expected_frames=len(video), skipped_frames=video.skipped,
                skipped_frame_indices=video.skipped_indices, complete=complete, results=run.json_results())


class _DrawnVideo:
    """The drawn ``<name>.mp4`` of one call (H.264, see :mod:`convzoo.apis.video`), written to a temporary file that
    is renamed when the run completes (and removed if it fails), with the per-frame files beside it in ``<name>/``."""

    def __init__(self, inferencer: Inferencer, outputs: Outputs, name: str, fps: float, size: tuple[int, int],
                 frame_json: bool):
        self.inferencer, self.outputs, self.name, self.frame_json = inferencer, outputs, name, frame_json
        self.final = outputs.path(name, '.mp4')
        self.tmp = temp_path(self.final)
        self.writer = open_video_writer(self.tmp, fps, size)

    def add(self, frame: Frame, entry: dict) -> dict:
        """Draw the frame into the video, write its arrays (and JSON); returns its JSON form."""
        self.writer.write(self.inferencer.task.draw(frame.image, entry))
        frame_name = f'{self.name}/{frame.name}'
        json_entry = self.inferencer.json_entry(
            entry, self.inferencer.write_arrays(self.outputs, frame_name, f'{self.name}.mp4', entry))
        if self.frame_json:
            self.outputs.json(frame_name, json_entry)
        return json_entry

    def finish(self, summary: dict) -> None:
        self.writer.release()
        self.outputs.json(self.name, summary)
        os.replace(self.tmp, self.final)

    def close(self) -> None:
        try:
            self.writer.release()
        except OSError:  # the run failed already; that error is the one to report
            pass
        if osp.exists(self.tmp):
            os.remove(self.tmp)
