"""Imported first by the tools/ shims, before anything imports torch: convzoo's OpenMP defaults
(:mod:`convzoo.core.threads`, loaded from its file so that ``import convzoo``, which starts torch, does not run yet)
enter the environment while the OpenMP runtime can still read them. Values the user set are kept."""
import importlib.util
import os.path as osp

_THREADS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'convzoo', 'core', 'threads.py')
_spec = importlib.util.spec_from_file_location('convzoo_thread_defaults', _THREADS)
_threads = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_threads)
_threads.apply_env_defaults()
