# MIRNet (Zamir et al., ECCV 2020) for real denoising on SIDD, the reference's recipe: the paper's network
# (3 RRGs x 2 MRBs, 64 features, 3 streams, 2 DAU columns, weight sharing as released), Charbonnier loss
# (eps 1e-3) on the output clamped to [0, 1], Adam (0.9, 0.999), eps 1e-8, weight decay 1e-8, lr 2e-4 with 3
# warm-up epochs then cosine to 1e-6, 60 epochs, batch 16 of 128x128 patches, random dihedral augmentation,
# mixup (Beta(1.2, 1.2)) from epoch 5.
# Data (docs/restoration.md): data/SIDD/train/{input,groundtruth}/*.png (the reference's 128x128 patches or
# any crops), data/SIDD/val/{input,groundtruth}/*.png (256x256 validation patches).
_base_ = ['../_base_/restoration_runtime.py']

model = dict(
    type='RestorationModel',
    generator=dict(type='MIRNet'),
    pixel_loss=dict(type='CharbonnierLoss', eps=1e-3),
    clamp_before_loss=True,
    data_preprocessor=dict(type='RestorationDataPreprocessor', pad_size_divisor=4),
    test_cfg=dict(tile=512, tile_overlap=32))

train_pipeline = [dict(type='LoadImagePair'), dict(type='PairedRandomCrop', gt_size=128),
                  dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]
eval_pipeline = [dict(type='LoadImagePair'), dict(type='PackRestorationInputs')]
train_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root='data/SIDD/train', gt_folder='groundtruth',
                 lq_folder='input', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root='data/SIDD/val', gt_folder='groundtruth',
                 lq_folder='input', pipeline=eval_pipeline, test_mode=True))
test_dataloader = val_dataloader

metrics = [dict(type='PSNR'), dict(type='SSIM')]
val_evaluator = metrics + [dict(m, pred_key='baseline_img', prefix='input') for m in metrics]
test_evaluator = val_evaluator

max_epochs = 60
warmup_epochs = 3
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='PSNR',
                                     rule='greater'))
custom_hooks = [dict(type='RestorationMixupHook', start_epoch=5, alpha=1.2),
                dict(type='RestorationVisHook', max_images=4)]
log_processor = dict(by_epoch=True)
auto_scale_lr = dict(enable=False, base_batch_size=16)  # the reference's batch
