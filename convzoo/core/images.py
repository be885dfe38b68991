"""Image files: the extensions convzoo treats as images and videos, and one reader for every image it opens."""
from __future__ import annotations

import cv2
import numpy as np

from convzoo.core.errors import SourceError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


def read_unchanged(path: str, error: type[SourceError] = SourceError, what: str = 'an image') -> np.ndarray:
    """The file's pixels as stored (bit depth, channels and alpha kept; OpenCV's BGR order), or ``error``."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise error(f'{path}: cannot be read as {what} (missing, corrupt or unsupported format)')
    return image
