"""Files an inference call writes under its ``out_dir``: every file goes to a temporary name unique to the call and
is renamed when complete, so readers never see half a file and calls writing the same outputs at once do not
collide; a path that resolves to an input file is refused, whatever the names (inputs are never overwritten).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import uuid

import cv2

from convzoo.core.errors import OutputDirError


def temp_path(path: str) -> str:
    """A temporary name beside ``path``, unique to this call (same folder: the rename is atomic; same extension:
    encoders pick the format by it)."""
    folder, base = osp.split(path)
    return osp.join(folder, f'.{base}.{uuid.uuid4().hex}.part{osp.splitext(base)[1]}')


def write_atomic(path: str, write) -> None:
    """``write(tmp)`` then rename to ``path``: a reader never sees half a file, and calls writing the same path at
    once each rename a complete file of their own. ``write`` returning False (cv2.imwrite) is a failure."""
    tmp = temp_path(path)
    try:
        if write(tmp) is False:
            raise OSError(f'{path}: could not be written')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def dump_json(path: str, data) -> None:
    with open(path, 'w') as f:
        f.write(json.dumps(data))  # (json.dump would take the pure-Python encoder: ~5x slower on a video's JSON)


class Outputs:
    """Where one call writes under ``out_dir``, by output name (``sub/x``) and suffix (``.jpg``)."""

    def __init__(self, out_dir: str, inputs: list[str]):
        self.out_dir = out_dir
        self.inputs = {osp.realpath(p) for p in inputs}

    def path(self, name: str, suffix: str) -> str:
        path = osp.join(self.out_dir, f'{name}{suffix}')
        if osp.realpath(path) in self.inputs:
            raise OutputDirError(f'{path} is an input file; outputs never replace inputs, choose another out_dir')
        os.makedirs(osp.dirname(path), exist_ok=True)
        return path

    def image(self, name: str, suffix: str, image) -> str:
        """Write ``image`` as ``<name><suffix>``; returns that name, relative to ``out_dir``."""
        write_atomic(self.path(name, suffix), lambda p: cv2.imwrite(p, image))
        return f'{name}{suffix}'

    def json(self, name: str, data) -> None:
        write_atomic(self.path(name, '.json'), lambda p: dump_json(p, data))
