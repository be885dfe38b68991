"""CPU thread defaults that keep a convzoo run within its fair share of a machine other jobs also use.

Why runs slowed down 12-19x on a loaded 2-core machine: torch runs its intra-op parallel regions on GNU OpenMP
(libgomp). A thread that has finished its part of a region does not sleep at once: it spins, by default for up to
300,000 polls (``GOMP_SPINCOUNT``; about a millisecond), waiting for the next region. On an idle machine that saves
a wake-up; on a busy one the spinning threads burn the time slices that the thread everyone waits for (descheduled
by the other jobs) needs, and every region ends late: the dense CRF (thousands of short regions) ran 3x slower
beside a 2-thread process than alone, one Inferencer call 44x (convzoo benchmark --suite busy).

Defaults, set only where the user chose no wait setting of their own: ``GOMP_SPINCOUNT=1000`` (libgomp spins a few
microseconds, then sleeps: within 10-25 % of the spinning default on an idle machine, where waiting passively at
once costs 35 %) and ``OMP_WAIT_POLICY=PASSIVE`` (the portable form, for other OpenMP runtimes; in libgomp
``GOMP_SPINCOUNT`` takes precedence). OpenMP reads them once, when torch is imported, so they have to be in the
environment before: ``import convzoo`` puts them there before it loads torch (:func:`prepare_process`; the tools,
the ``convzoo`` command and scripts that import convzoo first), and child processes inherit them.

Thread counts stay torch's (the physical cores) unless the user sets ``OMP_NUM_THREADS``: with short spinning a
2-thread run beside another busy process gets about its fair share. Data-loader worker processes already run one
intra-op thread each (torch's worker loop sets it, and mmengine's ``env_cfg`` runs OpenCV in the calling thread), so
several workers do not each bring an OpenMP team of their own.
"""
from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

# set only where the user has not: libgomp reads these once, when torch starts it
ENV_DEFAULTS = {'GOMP_SPINCOUNT': '1000', 'OMP_WAIT_POLICY': 'PASSIVE'}
# a user's explicit choice of how OpenMP waits, in any of the variables libgomp (or Intel's runtime) reads
USER_WAIT_SETTINGS = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME')


def wait_setting_chosen(environ: MutableMapping[str, str] | None = None) -> bool:
    """Whether ``environ`` (default: ``os.environ``) says how OpenMP threads wait (the user's, or convzoo's)."""
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in USER_WAIT_SETTINGS)


def env_with_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The variables of :data:`ENV_DEFAULTS` that ``environ`` (default: ``os.environ``) lacks, with their values;
    none when the user chose a wait setting of their own."""
    environ = os.environ if environ is None else environ
    if wait_setting_chosen(environ):
        return {}
    return {name: value for name, value in ENV_DEFAULTS.items() if not environ.get(name)}


def apply_env_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put convzoo's OpenMP defaults into ``environ`` (default: ``os.environ``) where the user set nothing; returns
    what was set. Takes effect in this process only if torch is not imported yet (:func:`openmp_started`), and in
    every child process started afterwards."""
    environ = os.environ if environ is None else environ
    added = env_with_defaults(environ)
    environ.update(added)
    return added


def openmp_started() -> bool:
    """Whether torch, hence its OpenMP runtime, is already loaded (and has read its environment)."""
    return 'torch' in sys.modules


_spins: bool | None = None  # whether this process's OpenMP started spin-waiting (None: not recorded)
_warned = False


def prepare_process() -> None:
    """For ``import convzoo``, before it imports torch: record whether torch's OpenMP already runs with libgomp's
    spinning default (torch imported first, no wait setting), then put the defaults into the environment (for
    this process when OpenMP has not started yet, and for every child process)."""
    global _spins
    _spins = openmp_started() and not wait_setting_chosen()
    apply_env_defaults()


def openmp_spins() -> bool:
    """Whether this process's OpenMP threads spin-wait (recorded by :func:`prepare_process`, else judged from the
    environment as it is now)."""
    return _spins if _spins is not None else not wait_setting_chosen()


def warn_if_openmp_spins() -> None:
    """Once per process, for the Inferencer: say so when torch's OpenMP threads spin-wait, which makes inference on
    a busy machine several times slower than its fair share (torch was imported before convzoo and nothing set a
    wait policy); it cannot be changed once OpenMP runs."""
    global _warned
    if _warned or not openmp_spins():
        return
    _warned = True
    import warnings
    warnings.warn('torch\'s OpenMP threads spin-wait (torch was imported before convzoo, with no OpenMP wait '
                  'setting): on a machine other jobs also use this makes inference several times slower than its '
                  'fair share. Set GOMP_SPINCOUNT=1000 OMP_WAIT_POLICY=PASSIVE in the environment, or import convzoo '
                  'before torch (convzoo\'s commands do)', RuntimeWarning, stacklevel=3)
