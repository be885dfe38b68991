"""Thread defaults for a busy machine (convzoo.core.threads), the busy benchmark suite's bookkeeping, and the
benchmark printing its tables without mmengine's initialisation log."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convzoo.cli.benchmarks import busy
from convzoo.core import threads

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_fill_only_what_the_user_left_unset():
    env = {'OMP_NUM_THREADS': '3'}
    assert threads.apply_env_defaults(env) == {'GOMP_SPINCOUNT': '1000', 'OMP_WAIT_POLICY': 'PASSIVE'}
    assert env == {'OMP_NUM_THREADS': '3', 'GOMP_SPINCOUNT': '1000', 'OMP_WAIT_POLICY': 'PASSIVE'}
    assert threads.apply_env_defaults(env) == {}  # idempotent
    for user_choice in ({'OMP_WAIT_POLICY': 'ACTIVE'}, {'GOMP_SPINCOUNT': '10000'}, {'KMP_BLOCKTIME': '200'}):
        env = dict(user_choice)
        assert threads.apply_env_defaults(env) == {} and env == user_choice  # never replaced or contradicted


def test_the_inferencer_hears_once_that_openmp_spins(monkeypatch, recwarn):
    import warnings
    warnings.simplefilter('always')  # only convzoo's once-per-process rule may hold a repeat back
    monkeypatch.setattr(threads, '_warned', False)
    monkeypatch.setattr(threads, '_spins', False)  # convzoo was imported first: the defaults took effect
    threads.warn_if_openmp_spins()
    assert not recwarn.list
    monkeypatch.setattr(threads, '_spins', True)  # torch came first, with no wait policy
    threads.warn_if_openmp_spins()
    threads.warn_if_openmp_spins()
    assert len(recwarn.list) == 1 and 'OMP_WAIT_POLICY=PASSIVE' in str(recwarn.list[0].message)


def test_prepare_process_records_whether_openmp_already_spins(monkeypatch):
    environ = {k: v for k, v in os.environ.items() if k not in threads.USER_WAIT_SETTINGS}
    monkeypatch.setattr(os, 'environ', environ)
    monkeypatch.setattr(threads, '_spins', None)
    threads.prepare_process()  # torch is loaded here, and was started without a wait setting
    assert threads.openmp_spins() and environ['GOMP_SPINCOUNT'] == '1000'  # children will spin briefly


def _env_at_torch_start(env: dict) -> str:
    """The wait settings as a convzoo process (a tool, the command, a script importing convzoo first) has them when
    torch starts: ``import convzoo`` sets them before it loads torch."""
    code = ('import os, convzoo; from convzoo.core import threads; '
            'assert threads._spins is False, "torch was loaded before the defaults"; '
            'print(os.environ.get("GOMP_SPINCOUNT"), os.environ.get("OMP_WAIT_POLICY"))')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_convzoo_puts_short_spinning_in_place_before_torch_starts():
    plain = {k: v for k, v in os.environ.items() if k not in threads.USER_WAIT_SETTINGS}
    assert _env_at_torch_start(plain) == '1000 PASSIVE'
    assert _env_at_torch_start({**plain, 'OMP_WAIT_POLICY': 'ACTIVE'}) == 'None ACTIVE'


SPIN_PROBE = '''
import time, torch
torch.set_num_threads(2)
x = torch.ones(1 << 20)
time.sleep(0.2)
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(150):
    x.mul_(1.0)           # a parallel region on 2 threads
    time.sleep(0.002)     # the pool's helper thread waits meanwhile: spinning costs CPU, sleeping does not
print((time.process_time() - cpu) / (time.perf_counter() - wall))
'''


@pytest.mark.e2e
def test_the_defaults_stop_idle_threads_from_burning_cpu():
    """The effect itself: between parallel regions, libgomp's helper thread spins by default (about a core's worth
    of CPU time per second of waiting) and sleeps after a few microseconds with convzoo's defaults."""
    def cpu_per_wall(env):
        proc = subprocess.run([sys.executable, '-c', SPIN_PROBE], env=env, capture_output=True, text=True,
                              check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return float(proc.stdout)
    old = cpu_per_wall(busy.old_env(os.environ))
    new = cpu_per_wall(busy.new_env(os.environ))
    assert new < 0.5 * old, (old, new)


class _ThreadsSeen(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return torch.get_num_threads()


def test_data_loader_workers_run_one_intra_op_thread():
    """torch's worker loop sets one thread per worker (convzoo relies on it rather than setting it again)."""
    loader = torch.utils.data.DataLoader(_ThreadsSeen(), num_workers=1, batch_size=None,
                                         multiprocessing_context='fork')
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # what a forked worker would inherit
    try:
        assert list(loader) == [1, 1]
    finally:
        torch.set_num_threads(before)


def test_busy_suite_compares_the_old_environment_with_convzoo_defaults():
    user = {'OMP_WAIT_POLICY': 'PASSIVE', 'GOMP_SPINCOUNT': '5', 'OMP_NUM_THREADS': '2', 'PATH': '/bin'}
    assert busy.old_env(user) == {'OMP_NUM_THREADS': '2', 'PATH': '/bin'}  # libgomp's own defaults: spinning
    assert busy.new_env(user) == {'OMP_NUM_THREADS': '2', 'PATH': '/bin', **threads.ENV_DEFAULTS}


@pytest.mark.parametrize('threads_, cores, fair', [(2, 2, 2.0), (1, 2, 1.5), (4, 4, 1.5), (1, 8, 1.0)])
def test_fair_share_slowdown(threads_, cores, fair):
    """Beside a 2-thread process: 2 threads on 2 cores get one core (2x), 1 thread gets 2/3 of one (1.5x)."""
    assert busy.fair_slowdown(threads_, cores) == pytest.approx(fair)


def _init_log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if 'init_weights' in line or 'Initialized by' in line]


def test_benchmark_prints_tables_not_the_initialisation_log(capfd):
    from mmengine.logging import MMLogger

    from convzoo.cli.benchmark import main
    from convzoo.core.benchmark import build_for_timing, tables_only
    MMLogger.get_instance('init_log_test', log_level='INFO')  # current logger: earlier tests may leave a quiet one
    build_for_timing('configs/sepc/demo/sepc_lite_retinanet_demo.py')  # init_weights logs, e.g. '... Initialized by'
    assert _init_log_lines(capfd.readouterr().out)  # (or the check below would prove nothing)
    with tables_only():
        build_for_timing('configs/sepc/demo/sepc_lite_retinanet_demo.py')
    assert not _init_log_lines(capfd.readouterr().out)
    assert main(['--suite', 'sepc_demo', '--repeats', '1']) == 0  # builds 4 detectors with init_weights
    out = capfd.readouterr().out
    assert 'Demo detectors' in out and 'RCNet demo' in out
    assert not _init_log_lines(out) and len(out.splitlines()) < 12
    build_for_timing('configs/sepc/demo/sepc_lite_retinanet_demo.py')
    assert _init_log_lines(capfd.readouterr().out)  # logging is back afterwards


def test_an_unknown_busy_workload_is_one_error_line(capsys):
    from convzoo.cli.benchmark import main
    with pytest.raises(SystemExit) as exit_:
        main(['--suite', 'busy', '--busy-workloads', 'crf,nosuch'])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and 'error: argument --busy-workloads: unknown workload(s) nosuch' in err
