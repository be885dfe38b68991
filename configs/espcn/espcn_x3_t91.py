# ESPCN x3, the paper's recipe (Shi et al., CVPR 2016): 3 convs with tanh + sub-pixel layer on the Y channel,
# Cb/Cr bicubic; HR sub-images of 17r x 17r from the 91-image set, pixel-wise MSE, lr 0.01 decaying to 1e-4
# when the validation PSNR stalls, last layer at 1/10 of the lr, stop after 100 epochs without improvement.
# Evaluation: Y-channel PSNR/SSIM with a border crop of r pixels, HR cropped to a multiple of r (BasicSR).
# Data (docs/restoration.md): data/sr/T91/*.png, data/sr/Set5/*.png (also Set14, BSD100 for testing).
_base_ = ['../_base_/restoration_runtime.py']
scale = 3

model = dict(
    type='RestorationModel',
    generator=dict(type='ESPCN', in_channels=1, scale=scale),
    pixel_loss=dict(type='PixelMSELoss'),
    channel_mode='y',
    data_preprocessor=dict(type='RestorationDataPreprocessor'))

# GT-only folders: the LR image is made on the fly by bicubic downscaling (BlurDownscale: the paper's blur).
degrade = dict(type='BicubicDownscale', scale=scale)
train_pipeline = [dict(type='LoadImagePair', cache=True), degrade,
                  dict(type='PairedRandomCrop', gt_size=17 * scale), dict(type='PackRestorationInputs')]
eval_pipeline = [dict(type='LoadImagePair'), degrade, dict(type='PackRestorationInputs')]

# The paper tiles each image into non-overlapping 17r sub-images (about 20 per T91 image); an epoch here draws
# 20 random 17r crops per image, the same amount of data.
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='RepeatDataset', times=20,
                 dataset=dict(type='PairedImageDataset', data_root='data/sr/T91', gt_folder='.', scale=scale,
                              pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root='data/sr/Set5', gt_folder='.', scale=scale,
                 pipeline=eval_pipeline, test_mode=True))
# Set14 / BSD100: --cfg-options test_dataloader.dataset.data_root=data/sr/Set14
test_dataloader = val_dataloader

sr_metrics = [dict(type='PSNR', crop_border=scale, convert_to='y'), dict(type='SSIM', crop_border=scale, convert_to='y')]
bicubic_metrics = [dict(m, pred_key='baseline_img', prefix='bicubic') for m in sr_metrics]
val_evaluator = sr_metrics + bicubic_metrics
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=0.01),
    paramwise_cfg=dict(custom_keys={'generator.last_conv': dict(lr_mult=0.1)}))
param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='PSNR_Y', rule='greater', factor=0.1, patience=10,
                        min_value=1e-4, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100000, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2, save_best='PSNR_Y',
                                     rule='greater'))
custom_hooks = [dict(type='EarlyStoppingHook', monitor='PSNR_Y', rule='greater', patience=100, min_delta=0.0),
                dict(type='RestorationVisHook', max_images=4, interval=50)]
log_processor = dict(by_epoch=True)
auto_scale_lr = dict(enable=False, base_batch_size=16)  # the recipe's batch
