"""tools/train.py end to end on the embedded dataset: stop, --resume, continue == uninterrupted (within 1e-6)."""
import torch

from convzoo.core.safe_load import load_checkpoint_file

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
# 16 images, 4 per batch, no random augmentation, no validation: 4 deterministic iterations per epoch.
OPTIONS = ['train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=4',
           'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           'train_dataloader.dataset.pipeline.3.prob=0.0', 'train_cfg.val_interval=100',
           'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=3',
           'default_hooks.logger.interval=1', 'randomness.seed=0']


def _train(run_tool, work_dir, epochs, *extra):
    return run_tool('tools/train.py', CONFIG, '--work-dir', str(work_dir), *extra,
                    '--cfg-options', *OPTIONS, f'train_cfg.max_epochs={epochs}')


def test_resume_restores_state_and_matches_an_uninterrupted_run(run_tool, shapes_root, tmp_path):
    _train(run_tool, tmp_path / 'straight', 2)
    _train(run_tool, tmp_path / 'resumed', 1)
    proc = _train(run_tool, tmp_path / 'resumed', 2, '--resume')
    assert 'resumed epoch: 1, iter: 4' in (proc.stdout + proc.stderr)

    straight = load_checkpoint_file(str(tmp_path / 'straight/epoch_2.pth'))
    resumed = load_checkpoint_file(str(tmp_path / 'resumed/epoch_2.pth'))
    first = load_checkpoint_file(str(tmp_path / 'resumed/epoch_1.pth'))
    assert first['meta']['iter'] == 4 and resumed['meta']['iter'] == straight['meta']['iter'] == 8
    # weights were trained (not a no-op) and the two runs agree
    moved = [(straight['state_dict'][k] - first['state_dict'][k]).abs().max() for k in first['state_dict']
             if first['state_dict'][k].is_floating_point()]
    assert max(moved) > 1e-4
    for k, v in straight['state_dict'].items():
        assert torch.allclose(v.float(), resumed['state_dict'][k].float(), atol=1e-6, rtol=0), k
    # optimizer state (AdamW moments, step counts) and learning rate continue exactly
    opt_a, opt_b = straight['optimizer'], resumed['optimizer']
    assert [g['lr'] for g in opt_a['param_groups']] == [g['lr'] for g in opt_b['param_groups']]
    for pid, state in opt_a['state'].items():
        for key, value in state.items():
            assert torch.allclose(value.float(), opt_b['state'][pid][key].float(), atol=1e-6, rtol=0)
    assert straight['param_schedulers'] == resumed['param_schedulers']
    # the loss went down over the 8 iterations
    hub = straight['message_hub']['log_scalars']['train/loss']
    losses = hub.data[0]
    assert losses[-1] < losses[0]
