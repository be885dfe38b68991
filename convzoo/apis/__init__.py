"""Inference API: one entry point for images, arrays, folders, globs and videos across tasks."""
from convzoo.apis.inferencer import Inferencer
from convzoo.core.errors import OutputDirError, SourceError

__all__ = ['Inferencer', 'OutputDirError', 'SourceError']
