"""convzoo: convolution designs from recent papers as plug-in modules for OpenMMLab 2.x.

``import convzoo`` applies the stack's compatibility fixes and registers every module: detection modules into
``mmdet.registry``, segmentation modules into ``mmseg.registry``, restoration modules into convzoo's own registry
tree (scope ``convzoo``). The rooms, lowest first (imports only point down; ``lint-imports`` checks it):
``core`` <- ``layers``/``engine`` <- ``structures`` <- ``backbones``/``necks``/``heads``/``detectors``/
``segmentors``/``restorers`` <- ``converters``/``deploy`` <- ``tasks`` <- ``apis`` <- ``cli``.
"""
__version__ = '0.1.0'

from convzoo.core import threads as _threads

_threads.prepare_process()  # OpenMP wait defaults, before torch starts its runtime (see convzoo.core.threads)

from convzoo.core import compat as _compat  # noqa: E402

_compat.apply()

from convzoo import backbones, detectors, engine, heads, necks, restorers, segmentors, structures, tasks  # noqa: E402,F401
