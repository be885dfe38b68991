"""The README's "Train on your own COCO-format dataset" example, run as written: its data script, its config and its
commands are read from the README (so the guide cannot drift from what works), in a scratch folder, through the
``convzoo`` command in subprocesses; only the epochs are cut to one."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks() -> dict[str, str]:
    """``<!-- own-dataset: NAME -->`` followed by a fenced block -> {NAME: the block's text}."""
    text = (ROOT / 'README.md').read_text()
    return dict(re.findall(r'<!-- own-dataset: (\S+) -->\n```\w+\n(.*?)```', text, flags=re.S))


def command_line(line: str) -> list[str]:
    """A README command as this interpreter runs it (``python x`` / ``convzoo x``)."""
    words = shlex.split(line.split('#')[0])
    head = [sys.executable] if words[0] == 'python' else [sys.executable, '-m', 'convzoo']
    return head + words[1:]


def run(words: list[str], folder: Path) -> str:
    proc = subprocess.run(words, cwd=folder, capture_output=True, text=True, timeout=900,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'})
    assert proc.returncode == 0, f'{words} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


@pytest.mark.e2e
def test_readme_own_dataset_example_trains_writes_a_checkpoint_and_reports_bbox_map(tmp_path):
    blocks = readme_blocks()
    assert set(blocks) == {'make_my_shapes.py', 'configs/my_shapes/retinanet_sepc-lite_my_shapes.py', 'commands'}
    (tmp_path / 'configs').mkdir()
    for shipped in ('sepc', '_base_'):  # the base configs the example inherits, as in a checkout
        (tmp_path / 'configs' / shipped).symlink_to(ROOT / 'configs' / shipped)
    for name, text in blocks.items():
        if name != 'commands':
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
    make_data, train, test = [line for line in blocks['commands'].splitlines() if line.strip()]
    run(command_line(make_data), tmp_path)
    val = json.loads((tmp_path / 'data/my_shapes/annotations/val.json').read_text())
    assert [c['name'] for c in val['categories']] == ['square', 'disc', 'cross'] and len(val['images']) == 16
    assert {a['category_id'] for a in val['annotations']} == {1, 2, 3}

    run(command_line(train) + ['--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'], tmp_path)
    checkpoint = tmp_path / 'work_dirs/retinanet_sepc-lite_my_shapes/epoch_1.pth'
    assert checkpoint.is_file()
    # after one epoch no score reaches the demo's 0.05 threshold: keep every box so that COCO evaluation runs
    printed = run(command_line(test.replace('epoch_12.pth', 'epoch_1.pth')) +
                  ['--cfg-options', 'model.test_cfg.score_thr=0.0'], tmp_path)
    assert re.search(r'coco/bbox_mAP: \d\.\d{4}', printed), printed[-2000:]
    metrics = json.loads((checkpoint.parent / 'test_metrics.json').read_text())['metrics']
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
