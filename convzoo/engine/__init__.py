"""Training/testing engine pieces: the runner and the command-line glue shared by tools/."""
from convzoo.engine.runner import ConvzooRunner

__all__ = ['ConvzooRunner']
