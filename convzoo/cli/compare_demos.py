"""Train and test demo configs beside their baselines, then tabulate the final COCO figures.

Each config is trained with ``convzoo train`` and its last checkpoint tested with ``convzoo test`` (subprocesses,
one torch thread each), in ``WORK_DIR/<config name>/``; the figures are read from the test's ``test_metrics.json``.
A pair's baseline and candidate use their configs as they are (plus the same ``--cfg-options``/``--epochs``),
so each comparison is trained the same way in the same run. Outputs: ``WORK_DIR/results.md`` and
``WORK_DIR/results.json``.

    convzoo compare-demos                          # the default pairs (see PAIRS), one job at a time
    convzoo compare-demos --jobs 2                 # two trainings at once (2 cores: one thread each)
    convzoo compare-demos --only rcnet_retinanet_demo --epochs 4
    convzoo compare-demos --pair configs/x/demo/a.py configs/y/demo/b.py   # any baseline/candidate pair
    convzoo compare-demos --resume                 # keep finished results, run the rest
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from convzoo.core.config import resolve_config_path

RETINANET = 'configs/sepc/demo/retinanet_baseline_demo.py'
DN_FPN = 'configs/dn_fpn/demo/'
# (baseline, candidate): the detection papers' comparisons; a config shared by two pairs is trained once
PAIRS = [
    (RETINANET, 'configs/rcnet/demo/rcnet_retinanet_demo.py'),
    (DN_FPN + 'faster_rcnn_baseline_tiny_demo.py', DN_FPN + 'dn_fpn_faster_rcnn_tiny_demo.py'),
    (RETINANET, 'configs/ssd/demo/ssdlite_mobilenetv2_demo.py'),
]
EXTRA_PAIRS = {  # selectable with --only
    'dn_fpn_faster_rcnn_demo': (DN_FPN + 'faster_rcnn_baseline_demo.py', DN_FPN + 'dn_fpn_faster_rcnn_demo.py'),
}
# rough relative training cost, to start the longest jobs first when several run at once (unknown: 1)
COST = {'dn_fpn_faster_rcnn_tiny_demo': 5, 'dn_fpn_faster_rcnn_demo': 5, 'faster_rcnn_baseline_tiny_demo': 4,
        'faster_rcnn_baseline_demo': 4, 'rcnet_retinanet_demo': 3, 'ssdlite_mobilenetv2_demo': 2}
COLUMNS = [('mAP', 'bbox_mAP'), ('mAP50', 'bbox_mAP_50'), ('AP_vt', 'bbox_mAP_vt'), ('AP_t', 'bbox_mAP_t')]


def name_of(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def parse_args(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description='Train/test demo configs beside their baselines and '
                                                            'tabulate the final bbox mAP (markdown + JSON)')
    parser.add_argument('--work-dir', default='work_dirs/compare_demos', help='outputs go here')
    parser.add_argument('--pair', nargs=2, action='append', metavar=('BASELINE', 'CANDIDATE'),
                        help='a baseline/candidate config pair (repeatable; replaces the default pairs)')
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help='keep the default pairs whose candidate config is named NAME (also: '
                             + ', '.join(EXTRA_PAIRS) + ')')
    parser.add_argument('--jobs', type=int, default=1, help='trainings run at once (each with one thread)')
    parser.add_argument('--threads', type=int, default=1, help='OMP_NUM_THREADS of each job')
    parser.add_argument('--epochs', nargs='+', default=[], metavar='[NAME=]N',
                        help="override the epochs (max_epochs, val_interval, the cosine schedule's end = "
                             'param_scheduler[1], checkpoint interval): N for every config, NAME=N for the config '
                             "named NAME; default: the configs' own schedules")
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every training (and test)')
    parser.add_argument('--resume', action='store_true',
                        help='reuse a config\'s result.json from an earlier run with the same options')
    parser.add_argument('--progress-every', type=float, default=60, help='seconds between progress lines')
    parser.add_argument('--dry-run', action='store_true', help='print the commands only')
    return parser.parse_args(argv)


def select_pairs(args) -> list[tuple[str, str]]:
    if args.pair:
        pairs = [tuple(p) for p in args.pair]
    elif args.only:
        pool = PAIRS + list(EXTRA_PAIRS.values())
        pairs = [p for p in pool if name_of(p[1]) in args.only or name_of(p[0]) in args.only]
        unknown = set(args.only) - {name_of(c) for p in pool for c in p}
        if unknown:
            sys.exit(f'compare_demos: --only {sorted(unknown)}: not a config of the known pairs '
                     f'({sorted({name_of(c) for p in pool for c in p})})')
    else:
        pairs = list(PAIRS)
    for config in {c for p in pairs for c in p}:
        resolve_config_path(config)  # a missing config stops here, by name
    return pairs


def epochs_of(args, name: str) -> int | None:
    epochs = None
    for item in args.epochs:
        key, _, value = item.rpartition('=')
        if not value.isdigit() or int(value) < 1:
            sys.exit(f'compare_demos: --epochs {item!r}: expected N or NAME=N with N >= 1')
        if key in ('', name):
            epochs = int(value)
    return epochs


def overrides(args, name: str) -> list[str]:
    options = list(args.cfg_options)
    e = epochs_of(args, name)
    if e:
        options = [f'train_cfg.max_epochs={e}', f'train_cfg.val_interval={e}', f'param_scheduler.1.end={e}',
                   f'default_hooks.checkpoint.interval={e}'] + options
    return options + ['train_dataloader.num_workers=1', 'val_dataloader.num_workers=1',
                      'test_dataloader.num_workers=1']


def describe(config: str, options: list[str]) -> tuple[str, int]:
    """The training data set's name and the number of epochs, from the config with the overrides."""
    from mmengine.config import Config
    cfg = Config.fromfile(resolve_config_path(config), import_custom_modules=False)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options if option.startswith('train_cfg.')))
    root = cfg.get('train_dataloader', {}).get('dataset', {}).get('data_root', '?')
    return osp.basename(str(root).rstrip('/')), int(cfg.train_cfg.max_epochs)


RUNNING: set[subprocess.Popen] = set()


def stop_children(signum, frame):
    for proc in list(RUNNING):
        proc.terminate()
    sys.exit(f'compare_demos: stopped by signal {signum}')


class Job:
    def __init__(self, config: str, args, options: list[str]):
        self.config, self.name = config, name_of(config)
        self.work_dir = osp.join(args.work_dir, self.name)
        self.options, self.args = options, args
        self.result_file = osp.join(self.work_dir, 'result.json')
        self.reused = False

    def commands(self) -> tuple[list[str], list[str]]:
        convzoo = [sys.executable, '-m', 'convzoo']
        opts = ['--cfg-options', *self.options] if self.options else []
        train = [*convzoo, 'train', self.config, '--work-dir', self.work_dir, *opts]
        test = [*convzoo, 'test', self.config, '{checkpoint}', '--work-dir', self.work_dir, *opts]
        return train, test

    def cached(self) -> dict | None:
        if not (self.args.resume and osp.isfile(self.result_file)):
            return None
        with open(self.result_file) as f:
            result = json.load(f)
        return result if result.get('options') == self.options else None

    def _run(self, cmd: list[str], log: str, what: str) -> float:
        env = dict(os.environ, OMP_NUM_THREADS=str(self.args.threads), MKL_NUM_THREADS=str(self.args.threads),
                   PYTHONWARNINGS='ignore')
        start = last = time.time()
        with open(log, 'w') as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            RUNNING.add(proc)
            while proc.poll() is None:
                time.sleep(2)
                if time.time() - last >= self.args.progress_every:
                    last = time.time()
                    print(f'  [{self.name}] {what} {time.time() - start:6.0f} s  {last_progress(log)}', flush=True)
        RUNNING.discard(proc)
        if proc.returncode:
            raise RuntimeError(f'{self.name}: {what} failed (exit {proc.returncode}); see {log}')
        return time.time() - start

    def run(self) -> dict:
        cached = self.cached()
        if cached:
            print(f'[{self.name}] reusing {self.result_file}', flush=True)
            self.reused = True
            return cached
        os.makedirs(osp.join(self.work_dir), exist_ok=True)
        train, test = self.commands()
        print(f'[{self.name}] training: {" ".join(train[1:])}', flush=True)
        train_s = self._run(train, osp.join(self.work_dir, 'train.log'), 'train')
        with open(osp.join(self.work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        test = [checkpoint if a == '{checkpoint}' else a for a in test]
        print(f'[{self.name}] trained in {train_s:.0f} s; testing {checkpoint}', flush=True)
        test_s = self._run(test, osp.join(self.work_dir, 'test.log'), 'test')
        with open(osp.join(self.work_dir, 'test_metrics.json')) as f:
            metrics = json.load(f)['metrics']
        if not any(key.endswith('bbox_mAP') for key in metrics):  # mmdet's CocoMetric returns {} without detections
            raise RuntimeError(f'{self.name}: the test reported no bbox mAP (no detection above the score '
                               f'threshold?); see {osp.join(self.work_dir, "test.log")}')
        data, epochs = describe(self.config, self.options)
        result = dict(config=self.config, data=data, epochs=epochs, options=self.options, checkpoint=checkpoint,
                      train_wall_s=round(train_s, 1), test_wall_s=round(test_s, 1),
                      metrics={key.split('/')[-1]: value for key, value in metrics.items()})
        with open(self.result_file, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'[{self.name}] done: mAP {result["metrics"].get("bbox_mAP")} (train {train_s:.0f} s, '
              f'test {test_s:.0f} s)', flush=True)
        return result


def last_progress(log: str) -> str:
    """The latest 'Epoch(train) [e][i/n] ... loss: x' of a training log, shortened."""
    try:
        with open(log, errors='replace') as f:
            lines = [line for line in f.readlines()[-50:] if 'Epoch(' in line]
    except OSError:
        return ''
    if not lines:
        return 'starting'
    line = lines[-1]
    found = re.search(r'Epoch\((\w+)\)\s*((?:\[[^\]]*\])+)', line)
    extra = re.findall(r'(eta: \S+|\bloss: \S+)', line)
    return ' '.join(([found.group(1), found.group(2)] if found else []) + extra)


def fmt(value) -> str:
    if value is None:
        return ''
    return '-' if value == -1 else f'{value:.3f}'


def table(pairs, results: dict) -> str:
    lines = ['| pair | config | data | epochs | ' + ' | '.join(c for c, _ in COLUMNS) + ' | train wall s |',
             '|---|---|---|---|' + '---|' * len(COLUMNS) + '---|']
    for i, (baseline, candidate) in enumerate(pairs, 1):
        for role, config in (('baseline', baseline), ('candidate', candidate)):
            r = results.get(config)
            if r is None:
                lines.append(f'| {i} | {name_of(config)} ({role}) | | | failed |' + ' |' * len(COLUMNS))
                continue
            m = r['metrics']
            lines.append(f'| {i} | {name_of(config)} ({role}) | {r["data"]} | {r["epochs"]} | '
                         + ' | '.join(fmt(m.get(k)) for _, k in COLUMNS) + f' | {r["train_wall_s"]:.0f} |')
    return '\n'.join(lines)


def main(argv=None, prog=None) -> int:
    args = parse_args(argv, prog)
    pairs = select_pairs(args)
    configs = list(dict.fromkeys(c for p in pairs for c in p))
    jobs = sorted((Job(c, args, overrides(args, name_of(c))) for c in configs), key=lambda job: -COST.get(job.name, 1))
    if args.dry_run:
        for job in jobs:
            train, test = job.commands()
            print(' '.join(train[1:]), '\n', ' '.join(test[1:]))
        return 0
    os.makedirs(args.work_dir, exist_ok=True)
    signal.signal(signal.SIGTERM, stop_children)
    print(f'compare_demos: {len(jobs)} configs, {args.jobs} at a time, OMP_NUM_THREADS={args.threads}, '
          f'outputs under {args.work_dir}/', flush=True)
    start, results, failures = time.time(), {}, []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(job.run): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                results[job.config] = future.result()
            except Exception as err:  # keep the other jobs' results
                failures.append(str(err))
                print(f'[{job.name}] FAILED: {err}', flush=True)
            print(f'compare_demos: {len(results) + len(failures)}/{len(jobs)} configs done, '
                  f'{time.time() - start:.0f} s elapsed', flush=True)
    text = table(pairs, results)
    reused = sum(1 for job in jobs if job.reused)
    header = (f'Demo comparison ({time.strftime("%Y-%m-%d %H:%M")}, {args.jobs} job(s) at a time, '
              f'OMP_NUM_THREADS={args.threads}); total wall {time.time() - start:.0f} s'
              + (f'; {reused} result(s) reused from earlier runs (--resume)' if reused else '') + '\n\n')
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(header + text + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(pairs=pairs, jobs=args.jobs, results=results, failures=failures), f,
                  indent=2)
    print('\n' + header + text)
    print(f'\nwritten: {args.work_dir}/results.md, {args.work_dir}/results.json')
    return 1 if failures else 0

