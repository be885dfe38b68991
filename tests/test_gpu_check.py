"""tools/gpu_check.py without a GPU: every row "no GPU", exit status 0; and its pieces on the CPU (the mmcv vs torch
deformable-conv comparison, the module sweep, the row bookkeeping, the table)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def gpu_check(tool_script):
    return tool_script('gpu_check')


def test_without_gpu_every_row_is_skipped_and_the_check_passes(gpu_check, tmp_path):
    out = tmp_path / 'table.json'
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', '--json', str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
    assert proc.returncode == 0, proc.stderr
    names = [name for names, _ in gpu_check.CHECKS for name in names]
    rows = json.loads(out.read_text())
    assert [r['row'] for r in rows] == names and {(r['result'], r['detail']) for r in rows} == {('no GPU', 'skipped')}
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split() == ['row', 'result', 'detail'] and len(lines) == len(names) + 2
    assert all('no GPU' in line for line in lines[2:])


def test_table_aligns_its_columns(gpu_check):
    table = gpu_check.format_table([gpu_check.Row('a', 'PASS', 'fine'), gpu_check.Row('longer row', 'FAIL', 'x')])
    assert table.splitlines() == ['row         result  detail',
                                  '-' * 26,
                                  'a           PASS    fine',
                                  'longer row  FAIL    x']


@pytest.mark.parametrize('version', ['v1', 'v2'])
@pytest.mark.parametrize('kind', ['random', 'integer'])
def test_dcn_comparison_of_mmcv_and_torch_on_the_cpu(gpu_check, version, kind):
    """The same comparison the GPU row makes, with mmcv's CPU kernel: within float32 rounding."""
    assert gpu_check.dcn_difference(version, kind, 'cpu') < 1e-5


def test_dcn_comparison_sees_a_wrong_gradient(gpu_check, monkeypatch):
    call = gpu_check.dcn_call

    def off_by_a_bit(version, impl, x, offset, weight, mask=None):  # output right, offset gradient 1 % off
        out = call(version, impl, x, offset, weight, mask)
        return out if impl == 'mmcv' else out + 0.01 * (offset - offset.detach()).sum()
    monkeypatch.setattr(gpu_check, 'dcn_call', off_by_a_bit)
    assert gpu_check.dcn_difference('v1', 'random', 'cpu') > gpu_check.DCN_TOLERANCE


def test_module_sweep_runs_registered_samples_and_reports_failures(gpu_check):
    count, failures = gpu_check.sweep_modules('cpu', amp=False, names=['SEPC', 'SEPCRetinaHead', 'NoSuchModule'])
    assert count == 3 and failures == ["NoSuchModule: KeyError: 'NoSuchModule'"]


def test_tensors_move_through_nested_arguments(gpu_check):
    from mmengine.structures import InstanceData
    data = InstanceData(boxes=torch.zeros(1, 4))
    moved = gpu_check.to_device(([torch.zeros(1)], {'a': (torch.zeros(1), 3)}, data), 'meta')
    assert moved[0][0].is_meta and moved[1]['a'][0].is_meta and moved[1]['a'][1] == 3 and moved[2].boxes.is_meta


def test_a_failing_check_fails_its_rows_and_the_budget_skips_the_rest(gpu_check, tmp_path):
    def broken(ctx):
        raise RuntimeError('CUDA error: no kernel image is available\nmore lines')
    checks = [(('one', 'two'), lambda ctx: [('PASS', ctx['device']), ('PASS', 'b')]), (('three',), broken)]
    rows = gpu_check.run_checks(str(tmp_path), checks, device='cpu')
    assert [(r.row, r.result, r.detail) for r in rows] == [
        ('one', 'PASS', 'cpu'), ('two', 'PASS', 'b'),
        ('three', 'FAIL', 'RuntimeError: CUDA error: no kernel image is available')]
    rows = gpu_check.run_checks(str(tmp_path), checks, budget_s=-1, device='cpu')
    assert {r.result for r in rows} == {'SKIP'}


def test_latency_detail_gives_ratios_to_the_baseline(gpu_check):
    detail = gpu_check.ratios_detail({'FPN': [0.1, 0.1, 0.3], 'SEPC': [0.12, 0.11, 0.13]}, 'FPN')
    assert detail == 'FPN 100.0 ms; SEPC 120.0 ms (1.20x)'
