"""Every error convzoo reports to a user, in one small hierarchy.

The command-line tools catch :class:`ConvzooError` (by type, never by message text) and print its message as one
``error:`` line; anything else is a bug and keeps its traceback. Each subclass is also a ``ValueError`` or
``RuntimeError`` as before, so callers that caught those still do.
"""


class ConvzooError(Exception):
    """An input, file or setting the user can fix; the message names it and, where there is one, the fix."""


class ConfigError(ConvzooError, ValueError):
    """A config that cannot run as written; the message names the config key and the fix."""


class CheckpointError(ConvzooError, RuntimeError):
    """A checkpoint file that cannot be used: unsafe, unreadable or made for another model."""


class ConversionError(ConvzooError, ValueError):
    """An official checkpoint that cannot be converted to convzoo's layout."""


class AnnotationError(ConvzooError, ValueError):
    """An annotation file that does not follow its format."""


class LabelFileError(AnnotationError):
    """A DOTA label file that does not follow the format; the message names the file and line."""


class DegeneratePolygonError(ConvzooError, ValueError):
    """A polygon that encloses no area, so it has no rotated box."""


class SourceError(ConvzooError, ValueError):
    """An input (image, folder, glob, video) that cannot be read; the message names it."""


class PairError(SourceError):
    """A paired-image folder whose low- and high-quality images do not match up."""


class ImageReadError(SourceError):
    """An image file a data pipeline could not decode (missing, corrupt, truncated or not an image)."""


class OutputDirError(SourceError):
    """An output folder that would mix outputs with the inputs being read, or replace an input file."""
