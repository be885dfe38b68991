# DEA-Net (Chen et al., IEEE TIP 2024) trained on RESIDE ITS, evaluated on SOTS-indoor, the reference's recipe:
# base width 32, L1 + 0.1 x contrastive regularisation (VGG19 relu1_1..relu5_1), Adam (0.9, 0.999), lr 1e-4
# cosine-decayed per iteration to 1e-6 over 300 x 5000 = 1.5M iterations, batch 16 of 256x256 random crops with
# random 90-degree rotations and flips. Evaluation pads to a multiple of 4, clamps to [0, 1] and crops back.
# CR needs ImageNet VGG19 weights in torchvision's layout at checkpoints/vgg19-dcbb9e9d.pth (fetched once
# elsewhere; nothing is downloaded here). Without it, train with --cfg-options model.contrast_loss=None.
# Data (docs/restoration.md): data/RESIDE/ITS/{hazy,clear}, data/RESIDE/SOTS/indoor/{hazy,clear}
# (hazy/1_1_0.90179.png pairs with clear/1.png).
_base_ = ['../_base_/restoration_runtime.py']

model = dict(
    type='RestorationModel',
    generator=dict(type='DEANet', base_dim=32),
    pixel_loss=dict(type='PixelL1Loss'),
    contrast_loss=dict(type='ContrastRegularization', vgg_weights='checkpoints/vgg19-dcbb9e9d.pth', loss_weight=0.1),
    data_preprocessor=dict(type='RestorationDataPreprocessor', pad_size_divisor=4),
    test_cfg=dict(tile=1024, tile_overlap=64))

train_pipeline = [dict(type='LoadImagePair'), dict(type='PairedRandomCrop', gt_size=256),
                  dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]
eval_pipeline = [dict(type='LoadImagePair'), dict(type='PackRestorationInputs')]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root='data/RESIDE/ITS', gt_folder='clear', lq_folder='hazy',
                 match='prefix', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root='data/RESIDE/SOTS/indoor', gt_folder='clear',
                 lq_folder='hazy', match='prefix', pipeline=eval_pipeline, test_mode=True))
test_dataloader = val_dataloader

metrics = [dict(type='PSNR'), dict(type='SSIM')]
val_evaluator = metrics + [dict(m, pred_key='baseline_img', prefix='input') for m in metrics]
test_evaluator = val_evaluator

max_iters = 300 * 5000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False, begin=0, end=max_iters,
                        T_max=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2,
                                     save_best='PSNR', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=16)  # the reference's batch
