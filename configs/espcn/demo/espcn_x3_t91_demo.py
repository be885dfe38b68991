# CPU demo of espcn_x3_t91.py on the embedded SR photos (scikit-image's bundled photographs; the test photos
# astronaut, chelsea and coffee are never trained on): same network, Y channel, MSE, 17r sub-images and the
# last layer at 1/10 of the lr (Adam, lr 0.01), but a fixed iteration budget with cosine decay instead of training
# to a plateau, and random flips/rotations (10 training photos only).
# Reports Y-PSNR/SSIM (border crop 3) of ESPCN and of bicubic upscaling (bicubic/PSNR_Y).
_base_ = ['../espcn_x3_t91.py']
scale = 3
data_root = 'data/embedded/sr_photos/'
max_iters = 5000

train_dataloader = dict(
    _delete_=True, batch_size=64, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='train/gt', lq_folder='train/lq_x3',
                 scale=scale, pipeline=[dict(type='LoadImagePair', cache=True),
                                        dict(type='PairedRandomCrop', gt_size=17 * scale),
                                        dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='test/gt', lq_folder='test/lq_x3',
                 scale=scale, pipeline=[dict(type='LoadImagePair'), dict(type='PackRestorationInputs')],
                 test_mode=True))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters, T_max=max_iters,
                        eta_min=1e-4)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=200),
                     checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False, interval=max_iters,
                                     max_keep_ckpts=1))
custom_hooks = [dict(type='RestorationVisHook', max_images=3)]
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=64)  # the demo's batch
