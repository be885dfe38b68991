"""Input sources for inference: an image path, a numpy array, a folder, a glob pattern or a video file.

Every source yields :class:`Frame` objects holding 3-channel 8-bit BGR images (OpenCV's order, which the
OpenMMLab pipelines expect). Grayscale, 4-channel and 16-bit images are converted, and the conversion is noted;
an image without pixels (0 x 0, 0 x N) is refused. Unreadable video frames are skipped and counted, never fatal;
the images of a folder or glob are read one by one, so that the Inferencer can skip an unreadable one.

Each input has an output name that no other input of the same source shares (:func:`output_names`), and
:func:`check_out_dir` refuses an output folder that would mix outputs with the inputs.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

import cv2
import numpy as np

from convzoo.core.errors import OutputDirError, SourceError
from convzoo.core.images import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, check_complete, read_unchanged

RESERVED_NAMES = frozenset({'summary'})  # out_dir/summary.json is the run's own report


@dataclass
class Frame:
    image: np.ndarray  # H x W x 3, uint8, BGR
    name: str  # output name (see output_names) or 'frame_000123'
    index: int  # position among the source's inputs: image of a folder or glob, frame of a video
    path: str | None = None
    notes: list[str] = field(default_factory=list)


def to_bgr8(image: np.ndarray, what: str = 'image') -> tuple[np.ndarray, list[str]]:
    """Convert gray / alpha / 16-bit / float images to 3-channel uint8 BGR; returns the notes of what changed."""
    if image.size == 0:  # caught here, not as a division by zero deep in a pipeline
        raise SourceError(f'{what}: empty image of shape {image.shape}, no pixels to run on')
    notes = []
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype == np.uint16:
        image, notes = (image >> 8).astype(np.uint8), notes + ['16-bit scaled to 8-bit']
    elif image.dtype in (np.float32, np.float64):
        image, notes = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), notes + ['float [0, 1] to 8-bit']
    elif image.dtype != np.uint8:
        raise SourceError(f'{what}: unsupported pixel type {image.dtype}')
    if image.ndim == 2:
        image, notes = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), notes + ['grayscale replicated to 3 channels']
    elif image.ndim == 3 and image.shape[2] == 4:
        image, notes = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), notes + ['alpha channel dropped']
    elif not (image.ndim == 3 and image.shape[2] == 3):
        raise SourceError(f'{what}: expected an H x W (x 1, 3 or 4) image, got shape {image.shape}')
    return np.ascontiguousarray(image), notes


def read_image(path: str, name: str | None = None, index: int = 0) -> Frame:
    """The image file as a Frame; a cut-off or corrupt file is a SourceError, never an image with a grey part."""
    check_complete(path)
    image, notes = to_bgr8(read_unchanged(path), path)
    return Frame(image, name or osp.splitext(osp.basename(path))[0], index, path, notes)


def is_video(path: str) -> bool:
    return osp.splitext(path)[1].lower() in VIDEO_EXTENSIONS


class VideoSource:
    """Frames of a video file decoded by OpenCV; ``skipped`` counts frames that could not be decoded.

    After a frame that cannot be decoded, the next ``grab()`` goes on with the frames after it, so reading never
    seeks: seeking onto a broken frame lands OpenCV's FFmpeg reader on earlier frames, which came out twice. Each
    failed ``grab()`` while the container announces more frames counts one lost frame, so frames missing at the end
    count too, and announced = decoded + skipped. One limit of OpenCV's reader: of several consecutive broken
    frames in the middle it reports only the first (it skips the rest inside the next ``grab()``), so the frames
    after such a run are numbered that many too low and the loss is listed at the end; the count stays exact.
    A container that announces no frame count ends at its first undecodable frame.
    """

    def __init__(self, path: str):
        self.path = path
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise SourceError(f'{path}: cannot be opened as a video')
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.size = (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.skipped = 0
        self.skipped_indices: list[int] = []

    def _skip(self, index: int) -> None:
        self.skipped += 1
        self.skipped_indices.append(index)

    def __len__(self) -> int:
        return self.frame_count

    def _read(self):
        """The next decoded image, or None for a frame that cannot be decoded (or the end)."""
        if not self.capture.grab():
            return None
        ok, image = self.capture.retrieve()
        return image if ok else None

    def __iter__(self) -> Iterator[Frame]:
        index = 0  # of the next frame
        try:
            while True:
                image = self._read()
                if image is None:
                    if index >= self.frame_count:
                        break
                    self._skip(index)
                else:
                    image, notes = to_bgr8(image, self.path)
                    yield Frame(image, f'frame_{index:06d}', index, self.path, notes)
                index += 1
        finally:
            self.capture.release()


def prefetch(items: Iterable, depth: int) -> Iterator:
    """Yield ``items`` produced by a background thread up to ``depth`` ahead: video decoding (OpenCV releases the
    GIL) overlaps the model. An exception in the producer is raised here; stopping early stops the producer."""
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop, end = threading.Event(), object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(end)
        except BaseException as err:  # noqa: BLE001  (handed to the consumer, which raises it)
            put(err)
        finally:
            getattr(iterator, 'close', lambda: None)()  # e.g. releases a VideoCapture when stopped early

    worker = threading.Thread(target=produce, name='convzoo-prefetch', daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def is_pattern(source: str) -> bool:
    return any(c in source for c in '*?[')


def pattern_root(pattern: str) -> str:
    """The folder of a glob pattern before its first wildcard, which every match lies in."""
    parts = PurePath(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if is_pattern(part)), len(parts))
    return str(PurePath(*parts[:fixed])) if fixed else '.'


def list_images(source: str) -> list[str]:
    if osp.isdir(source):
        paths = sorted(osp.join(source, f) for f in os.listdir(source)
                       if osp.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise SourceError(f'{source}: folder contains no images ({", ".join(IMAGE_EXTENSIONS)})')
        return paths
    paths = sorted(p for p in glob.glob(source) if osp.splitext(p)[1].lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise SourceError(f'{source}: pattern matches no image files')
    return paths


def output_names(paths: list[str], root: str) -> list[str]:
    """One output name per input, never shared, so that no output replaces another: the input's path relative to
    ``root`` without its extension (``sub/x`` for ``root/sub/x.jpg``); inputs that would share that name keep their
    extension in it (``x_jpg``, ``x_png``), and a name still taken gets ``_2``, ``_3``, ... (as ``summary`` does:
    summary.json is the run's report)."""
    stems = [osp.splitext(osp.relpath(p, root))[0] for p in paths]
    shared = {stem for stem, count in Counter(stems).items() if count > 1}
    names = [f'{stem}_{osp.splitext(p)[1][1:]}' if stem in shared else stem for stem, p in zip(stems, paths)]
    return numbered(names, RESERVED_NAMES)


def numbered(names: list[str], taken: Iterable[str] = ()) -> list[str]:
    """``names`` with ``_2``, ``_3``, ... added to each one already taken (by ``taken`` or an earlier name)."""
    seen, unique = set(taken), []
    for name in names:
        candidate, number = name, 1
        while candidate in seen:
            number += 1
            candidate = f'{name}_{number}'
        seen.add(candidate)
        unique.append(candidate)
    return unique


@dataclass
class Source:
    """What :func:`open_source` found: the input files (none for an array) with their output names, the folder
    read for a folder source, and what is decoded at once (an array or a single image) or streamed (a video)."""
    kind: str  # 'array', 'image', 'images' (folder or glob) or 'video'
    paths: list[str]
    names: list[str]
    folder: str | None = None
    frames: list[Frame] = field(default_factory=list)
    video: VideoSource | None = None


def open_source(source) -> Source:
    """Classify ``source``. An array or a single image is decoded now (unusable: SourceError); the images of a
    folder or glob are read one by one later (see :func:`read_image`), so one bad file need not stop the rest."""
    if isinstance(source, np.ndarray):
        image, notes = to_bgr8(source, 'array input')
        return Source('array', [], ['array'], frames=[Frame(image, 'array', 0, None, notes)])
    source = os.fspath(source)
    if osp.isfile(source):
        name = output_names([source], osp.dirname(source) or '.')[0]
        if is_video(source):
            return Source('video', [source], [name], video=VideoSource(source))
        return Source('image', [source], [name], frames=[read_image(source, name)])
    if osp.isdir(source):
        paths = list_images(source)
        return Source('images', paths, output_names(paths, source), folder=source)
    if is_pattern(source):
        paths = list_images(source)
        return Source('images', paths, output_names(paths, pattern_root(source)))
    raise SourceError(f'{source}: no such file or folder')


def check_out_dir(source: Source, out_dir: str) -> None:
    """Refuse an ``out_dir`` that is the folder read (or lies inside it), or is the folder of an input file: the
    outputs would mix with the inputs (a later run reads them as inputs) and, named like an input, replace it.
    Paths are compared resolved (symbolic links, '..')."""
    out = osp.realpath(out_dir)
    if source.folder and is_within(out, osp.realpath(source.folder)):
        where = 'the input folder' if out == osp.realpath(source.folder) else 'inside the input folder'
        raise _mixed(out_dir, where, source.folder)
    for path in source.paths:
        if out == osp.realpath(osp.dirname(path) or '.'):
            raise _mixed(out_dir, 'the folder of the input', path)


def is_within(path: str, folder: str) -> bool:
    return osp.commonpath([path, folder]) == folder


def _mixed(out_dir: str, where: str, what: str) -> OutputDirError:
    return OutputDirError(f'out_dir {out_dir} is {where} {what}: outputs would mix with the inputs and could '
                          'replace them; choose an out_dir outside the inputs\' folders')
