"""Image files: the extensions convzoo treats as images and videos, and one reader for every image it opens."""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from convzoo.core.errors import SourceError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')
CHECKED_FORMATS = ('JPEG', 'PNG')  # formats whose cut-off files OpenCV decodes without an error


def read_unchanged(path: str, error: type[SourceError] = SourceError, what: str = 'an image') -> np.ndarray:
    """The file's pixels as stored (bit depth, channels and alpha kept; OpenCV's BGR order), or ``error``."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise error(f'{path}: cannot be read as {what} (missing, corrupt or unsupported format)')
    return image


def check_complete(path: str, error: type[SourceError] = SourceError) -> None:
    """Raise ``error`` when a JPEG or PNG file is cut short or its data is corrupt.

    OpenCV decodes a JPEG cut in half into a full-size image whose lower part is grey and only prints "Premature
    end of JPEG file" to stderr; nothing reaches Python. Pillow's decoder raises instead (``image file is
    truncated``), so it decides, as long as ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` keeps its default (False;
    convzoo never sets it). Files Pillow cannot identify, and other formats, are left to OpenCV's reader.
    """
    try:
        image = Image.open(path)
    except (OSError, Image.DecompressionBombError):
        return  # missing, unidentified or too large to decode twice: OpenCV's reader decides and reports
    with image:
        if image.format not in CHECKED_FORMATS:
            return
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as err:  # what Pillow's decoders raise for broken data
            raise error(f'{path}: truncated or corrupt {image.format} data ({err})') from None
