"""End to end on the embedded data: tools/train.py and tools/test.py, the inference API on images and video
(super-resolution at the upscaled size), and the CLI's one-line errors."""
import json

import cv2
import numpy as np
import pytest
import torch

from convzoo.apis import Inferencer
from convzoo.core.safe_load import load_checkpoint_file
from convzoo.restorers.espcn import ESPCNInference

DEMO = 'configs/espcn/demo/espcn_x3_t91_demo.py'


@pytest.fixture(scope='module')
def trained(tmp_path_factory, run_tool):
    """A few ESPCN iterations through tools/train.py, then tools/test.py on the held-out photos."""
    work = tmp_path_factory.mktemp('espcn')
    run_tool('tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options', 'train_cfg.max_iters=20',
             'train_cfg.val_interval=100', 'train_dataloader.batch_size=8', 'default_hooks.checkpoint.interval=20',
             'default_hooks.logger.interval=5')
    ckpt = work / 'iter_20.pth'
    run_tool('tools/test.py', DEMO, str(ckpt), '--work-dir', str(work))
    return work, ckpt


def test_train_logs_falling_loss_and_test_writes_psnr_ssim(trained):
    work, _ = trained
    log = '\n'.join(p.read_text() for p in sorted(work.rglob('*.log')))  # the train and the test run
    losses = [float(line.split('loss: ')[1].split()[0]) for line in log.splitlines() if 'Iter(train)' in line]
    assert len(losses) >= 4 and losses[-1] < losses[0]
    metrics = json.loads((work / 'test_metrics.json').read_text())['metrics']
    assert {'PSNR_Y', 'SSIM_Y', 'bicubic/PSNR_Y', 'bicubic/SSIM_Y'} <= set(metrics)
    assert 20 < metrics['bicubic/PSNR_Y'] < 40 and 0 < metrics['SSIM_Y'] <= 1
    vis = list((work / 'vis' / 'test').glob('*.png'))
    assert len(vis) == 3
    panel = cv2.imread(str(vis[0]))
    assert panel.shape[1] > 3 * panel.shape[0] * 0.5  # LQ | output | GT side by side


def test_inference_on_image_array_and_video_gives_upscaled_outputs(trained, tmp_path):
    _, ckpt = trained
    infer = Inferencer(DEMO, str(ckpt))
    image = cv2.imread('data/embedded/sr_photos/test/lq_x3/chelsea.png')
    by_path = infer('data/embedded/sr_photos/test/lq_x3/chelsea.png', out_dir=str(tmp_path))[0]
    assert by_path['pred_img'].shape == (image.shape[0] * 3, image.shape[1] * 3, 3)
    assert cv2.imread(str(tmp_path / 'chelsea.png')).shape == by_path['pred_img'].shape
    assert json.loads((tmp_path / 'chelsea.json').read_text())['pred_img_file'] == 'chelsea.png'
    assert np.array_equal(infer(image)[0]['pred_img'], by_path['pred_img'])
    assert isinstance(infer.model.generator, ESPCNInference)  # the fast form, made once the weights are loaded
    video = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 4.0, (48, 32))
    for i in range(3):
        writer.write(np.ascontiguousarray(image[i * 8:i * 8 + 32, :48]))
    writer.release()
    results = infer(video, out_dir=str(tmp_path / 'video'))
    assert len(results) == 3 and all(r['pred_img'].shape == (96, 144, 3) for r in results)
    cap = cv2.VideoCapture(str(tmp_path / 'video/clip.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (144, 96)


def test_odd_gray_rgba_and_16_bit_inputs_are_restored_at_their_size(trained, tmp_path):
    _, ckpt = trained
    infer = Inferencer(DEMO, str(ckpt))
    gray = np.random.default_rng(0).integers(0, 256, (13, 17), dtype=np.uint8)
    for name, img in {'gray': gray, 'rgba': np.dstack([gray] * 4),
                      'deep': gray.astype(np.uint16)[..., None].repeat(3, 2) * 257}.items():
        cv2.imwrite(str(tmp_path / f'{name}.png'), img)
        result = infer(str(tmp_path / f'{name}.png'))[0]
        assert result['pred_img'].shape == (39, 51, 3) and result['notes'], name


def test_missing_pair_member_is_one_clear_error(run_tool, tmp_path):
    img = np.zeros((30, 30, 3), np.uint8)
    for sub in ('train/gt', 'train/lq_x3', 'test/gt', 'test/lq_x3'):
        (tmp_path / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / sub / 'a.png'), img if 'gt' in sub else img[:10, :10])
    cv2.imwrite(str(tmp_path / 'test/gt/b.png'), img)
    proc = run_tool('tools/test.py', DEMO, 'missing.pth', '--cfg-options',
                    f'test_dataloader.dataset.data_root={tmp_path}', check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ') and 'b.png' in proc.stderr


def test_contrast_regularisation_without_weights_fails_clearly():
    from convzoo.core.config import ConfigError
    from convzoo.restorers.losses import ContrastRegularization
    loss = ContrastRegularization(vgg_weights=None)
    with pytest.raises(ConfigError, match='needs ImageNet VGG19 weights'):
        loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(ConfigError, match='does not exist'):
        ContrastRegularization(vgg_weights='checkpoints/none.pth').init_weights()


def test_dehazing_demo_saves_and_scores_the_moving_average_of_the_weights(run_tool, tmp_path):
    """A few iterations of the DEA-Net demo (random-inverse-depth haze, EMA): the checkpoint's weights are the
    moving average, which differs from the raw weights and is what tools/test.py scores on the held-out photo."""
    demo = 'configs/dea_net/demo/deanet_its_demo.py'
    run_tool('tools/train.py', demo, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_iters=6',
             'train_cfg.val_interval=100', 'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=6',
             'custom_hooks.0.momentum=0.5')
    ckpt = load_checkpoint_file(str(tmp_path / 'iter_6.pth'), 'cpu')
    key = 'generator.up3.0.weight'
    averaged, raw = ckpt['state_dict'][key], ckpt['ema_state_dict'][f'module.{key}']
    assert ckpt['ema_state_dict']['steps'] == 6 and not torch.equal(averaged, raw)
    run_tool('tools/test.py', demo, str(tmp_path / 'iter_6.pth'), '--work-dir', str(tmp_path))
    metrics = json.loads((tmp_path / 'test_metrics.json').read_text())['metrics']
    assert 10 < metrics['input/PSNR'] < 20 and metrics['PSNR'] > 0
