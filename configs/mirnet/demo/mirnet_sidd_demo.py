# CPU demo of mirnet_sidd.py: Gaussian denoising at sigma = 25 on the embedded photos (training noise drawn on the
# fly; the held-out test photos carry fixed-seed noise), with a small MIRNet (16 features, 1 RRG of 1 MRB, 3
# streams, 2 DAU columns, weight sharing as the reference). Charbonnier loss on the clamped output, Adam (lr 2e-3,
# short warm-up, cosine), dihedral augmentation, 400 iterations of 4 x 48x48 patches. Reports RGB PSNR/SSIM of the
# output and of the noisy input (input/PSNR).
_base_ = ['../mirnet_sidd.py']
data_root = 'data/embedded/denoise_photos/'
max_iters = 400

model = dict(generator=dict(n_feat=16, n_rrg=1, n_mrb=1), test_cfg=dict(tile=None))
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='train/gt',
                 pipeline=[dict(type='LoadImagePair', cache=True), dict(type='AddGaussianNoise', sigma=25),
                           dict(type='PairedRandomCrop', gt_size=48), dict(type='PairedRandomDihedral'),
                           dict(type='PackRestorationInputs')]))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='test/gt', lq_folder='test/noisy_s25',
                 pipeline=[dict(type='LoadImagePair'), dict(type='PackRestorationInputs')], test_mode=True))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
                   dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=20, end=max_iters,
                        T_max=max_iters - 20)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False, interval=max_iters,
                                     max_keep_ckpts=1))
custom_hooks = [dict(type='RestorationVisHook', max_images=3)]
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)  # the demo's batch
