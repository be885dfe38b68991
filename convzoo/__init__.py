"""convzoo: convolution designs from recent papers as plug-in modules for OpenMMLab 2.x.

``import convzoo`` applies the stack's compatibility fixes and registers every module: detection modules into
``mmdet.registry``, segmentation modules into ``mmseg.registry``, restoration modules into convzoo's own registry
tree (scope ``convzoo``).
"""
__version__ = '0.1.0'

from convzoo.utils import compat as _compat

_compat.apply()

from convzoo import backbones, engine, heads, layers, necks, tasks  # noqa: E402,F401  (registration)
