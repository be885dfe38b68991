"""The full configs carry the papers' recipes; the demo configs point at embedded data."""
from convzoo.core.config import load_config


def _types(items):
    return [item['type'] for item in items]


def test_espcn_config_is_the_papers_recipe():
    cfg = load_config('configs/espcn/espcn_x3_t91.py')
    gen = cfg.model.generator
    assert (gen.type, gen.in_channels, gen.scale, cfg.model.channel_mode) == ('ESPCN', 1, 3, 'y')
    assert cfg.model.pixel_loss.type == 'PixelMSELoss'
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['generator.last_conv'].lr_mult == 0.1
    pipeline = cfg.train_dataloader.dataset.dataset.pipeline
    assert {'type': 'PairedRandomCrop', 'gt_size': 51} in pipeline and 'PairedRandomDihedral' not in _types(pipeline)
    plateau = cfg.param_scheduler[0]
    assert (plateau.type, plateau.monitor, plateau.min_value) == ('ReduceOnPlateauLR', 'PSNR_Y', 1e-4)
    stop = next(h for h in cfg.custom_hooks if h.type == 'EarlyStoppingHook')
    assert stop.patience == 100 and stop.monitor == 'PSNR_Y'
    assert all(m.crop_border == 3 and m.convert_to == 'y' for m in cfg.val_evaluator)


def test_mirnet_config_is_the_references_recipe():
    cfg = load_config('configs/mirnet/mirnet_sidd.py')
    assert cfg.model.generator == dict(type='MIRNet')
    assert cfg.model.pixel_loss == dict(type='CharbonnierLoss', eps=1e-3) and cfg.model.clamp_before_loss
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, tuple(opt.betas), opt.eps, opt.weight_decay) == ('Adam', 2e-4, (0.9, 0.999), 1e-8, 1e-8)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.eta_min) == ('LinearLR', 3, 'CosineAnnealingLR', 1e-6)
    assert cfg.train_cfg.max_epochs == 60 and cfg.train_dataloader.batch_size == 16
    assert {'type': 'PairedRandomCrop', 'gt_size': 128} in cfg.train_dataloader.dataset.pipeline
    mixup = next(h for h in cfg.custom_hooks if h.type == 'RestorationMixupHook')
    assert (mixup.start_epoch, mixup.alpha) == (5, 1.2)


def test_deanet_config_is_the_references_recipe():
    cfg = load_config('configs/dea_net/deanet_its.py')
    assert cfg.model.generator == dict(type='DEANet', base_dim=32)
    assert cfg.model.pixel_loss.type == 'PixelL1Loss' and cfg.model.contrast_loss.loss_weight == 0.1
    assert cfg.optim_wrapper.optimizer.lr == 1e-4 and cfg.train_cfg.max_iters == 1_500_000
    sched = cfg.param_scheduler[0]
    assert (sched.type, sched.eta_min, sched.by_epoch) == ('CosineAnnealingLR', 1e-6, False)
    assert cfg.train_dataloader.batch_size == 16
    assert {'type': 'PairedRandomCrop', 'gt_size': 256} in cfg.train_dataloader.dataset.pipeline
    assert cfg.train_dataloader.dataset.match == 'prefix'


def test_demo_configs_train_on_embedded_data_and_score_the_input_too():
    for paper, name, metric in (('espcn', 'espcn_x3_t91', 'PSNR'), ('mirnet', 'mirnet_sidd', 'PSNR'),
                                ('dea_net', 'deanet_its', 'PSNR')):
        cfg = load_config(f'configs/{paper}/demo/{name}_demo.py')
        assert cfg.train_dataloader.dataset.data_root.startswith('data/embedded/')
        assert cfg.test_dataloader.dataset.gt_folder == 'test/gt'
        assert any(m.type == metric and m.get('pred_key') == 'baseline_img' for m in cfg.test_evaluator)
