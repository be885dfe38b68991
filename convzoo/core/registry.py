"""convzoo's registry tree (scope ``convzoo``) for the tasks mmdet/mmseg do not host (restoration, SR).

Each node is a child of mmengine's root registry, so configs with ``default_scope='convzoo'`` find convzoo's
modules first and fall back to mmengine's. Detection modules register in ``mmdet.registry`` and segmentation
modules in ``mmseg.registry`` instead, because configs inheriting ``mmdet::``/``mmseg::`` bases carry those scopes.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

_TASKS = 'convzoo.tasks'  # names, not imports: mmengine imports a location when a scope's build first needs it

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='convzoo', locations=['convzoo.restorers'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='convzoo', locations=[_TASKS])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='convzoo', locations=[_TASKS])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='convzoo', locations=[_TASKS])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='convzoo', locations=[_TASKS])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='convzoo', locations=[_TASKS])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='convzoo', locations=[_TASKS, 'convzoo.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='convzoo', locations=[_TASKS, 'convzoo.engine'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='convzoo')
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='convzoo')
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='convzoo')
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope='convzoo')
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='convzoo', locations=[_TASKS])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='convzoo')


def import_room(package: str, path) -> None:
    """Import every module of a room (``backbones``, ``necks``, ...), so that a new file registers its modules
    without an edit anywhere else. Called from the room's ``__init__`` with its ``__name__`` and ``__path__``."""
    import importlib
    import pkgutil
    for info in pkgutil.iter_modules(path):
        importlib.import_module(f'{package}.{info.name}')
