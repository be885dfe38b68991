"""Input sources for inference: an image path, a numpy array, a folder, a glob pattern or a video file.

Every source yields :class:`Frame` objects holding 3-channel 8-bit BGR images (OpenCV's order, which the
OpenMMLab pipelines expect). Grayscale, 4-channel and 16-bit images are converted, and the conversion is noted.
Unreadable video frames are skipped and counted, never fatal.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import queue
import threading
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import cv2
import numpy as np

from convzoo.core.errors import SourceError
from convzoo.core.images import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, read_unchanged


@dataclass
class Frame:
    image: np.ndarray  # H x W x 3, uint8, BGR
    name: str  # file stem or 'frame_000123'
    index: int
    path: str | None = None
    notes: list[str] = field(default_factory=list)


def to_bgr8(image: np.ndarray, what: str = 'image') -> tuple[np.ndarray, list[str]]:
    """Convert gray / alpha / 16-bit / float images to 3-channel uint8 BGR; returns the notes of what changed."""
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


def read_image(path: str) -> Frame:
    image, notes = to_bgr8(read_unchanged(path), path)
    return Frame(image, osp.splitext(osp.basename(path))[0], 0, path, notes)


def is_video(path: str) -> bool:
    return osp.splitext(path)[1].lower() in VIDEO_EXTENSIONS


class VideoSource:
    """Frames of a video file decoded by OpenCV; ``skipped`` counts frames that could not be decoded."""

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

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        try:
            while True:
                if not self.capture.grab():
                    # A broken frame can end grab() early; keep going while frames are known to remain.
                    if index + self.skipped < self.frame_count - 1:
                        self._skip(index + self.skipped)
                        self.capture.set(cv2.CAP_PROP_POS_FRAMES, index + self.skipped)
                        continue
                    break
                ok, image = self.capture.retrieve()
                if not ok or image is None:
                    self._skip(index + self.skipped)
                    continue
                image, notes = to_bgr8(image, self.path)
                yield Frame(image, f'frame_{index + self.skipped:06d}', index + self.skipped, self.path, notes)
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


def open_source(source) -> tuple[str, object]:
    """Classify ``source``: ('array', [Frame]), ('image', [Frame]), ('images', paths) or ('video', VideoSource)."""
    if isinstance(source, np.ndarray):
        image, notes = to_bgr8(source, 'array input')
        return 'array', [Frame(image, 'array', 0, None, notes)]
    source = os.fspath(source)
    if osp.isfile(source):
        return ('video', VideoSource(source)) if is_video(source) else ('image', [read_image(source)])
    if osp.isdir(source) or any(c in source for c in '*?['):
        return 'images', list_images(source)
    raise SourceError(f'{source}: no such file or folder')
