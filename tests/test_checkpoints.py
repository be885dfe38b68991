"""Checkpoint safety and compatibility: weights-only loading, convzoo's plain-data log buffers, clear refusals."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from convzoo.core.checkpoint import load_model_weights
from convzoo.core.errors import CheckpointError
from convzoo.core.safe_load import load_checkpoint_file


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'payload': _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match=r'evil\.pth: refused to load.*system'):
        load_checkpoint_file(str(path))
    with pytest.raises(CheckpointError):  # mmengine's own loader goes through the same check
        CheckpointLoader.load_checkpoint(str(path))
    assert not marker.exists()


def test_history_buffer_pickles_as_plain_data_and_round_trips(tmp_path):
    buf = HistoryBuffer(max_length=5)
    for v in [1.0, 2.5, 4.0]:
        buf.update(v, count=2)
    data = pickle.dumps(buf)
    assert b'getattr' not in data and b'statistics' not in data
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': {'log_scalars': {'train/loss': buf}}, 'x': np.float64(2.0),
                'arr': np.arange(3)}, path)
    loaded = load_checkpoint_file(str(path))
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer) and restored.max_length == 5
    assert np.array_equal(restored.data[0], buf.data[0]) and np.array_equal(restored.data[1], buf.data[1])
    assert restored.mean() == buf.mean() and loaded['x'] == 2.0


def test_builtins_getattr_is_not_allowed(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'f': getattr(HistoryBuffer, 'mean')}, path)  # what plain mmengine buffers pickle
    with pytest.raises(CheckpointError, match='refused'):
        load_checkpoint_file(str(path))


def test_torchvision_urls_fail_with_the_fix():
    with pytest.raises(CheckpointError, match=r"init_cfg=dict\(type='Pretrained'"):
        CheckpointLoader.load_checkpoint('torchvision://resnet50')


def test_checkpoint_for_another_model_is_refused(tmp_path):
    a, b = torch.nn.Linear(3, 4), torch.nn.Conv2d(3, 4, 3)
    path = tmp_path / 'linear.pth'
    torch.save({'state_dict': a.state_dict()}, path)
    with pytest.raises(CheckpointError, match=r'linear\.pth: made for another model'):
        load_model_weights(b, str(path))
    torch.save({'state_dict': {'foo.weight': torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match='none of its 1 weights belong'):
        load_model_weights(b, str(path), strict=False)


def test_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'text.pth'
    path.write_text('hello')
    with pytest.raises(CheckpointError, match=r'text\.pth'):
        load_checkpoint_file(str(path))
