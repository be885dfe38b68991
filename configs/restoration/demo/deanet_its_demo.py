# CPU demo of deanet_its.py: dehazing on the embedded haze set. Training: other photos with synthetic smooth depth;
# test: the stereo motorcycle photo hazed with depth from its real disparity map (never trained on). A narrow
# DEA-Net (base width 8, full topology), L1 loss only (CR needs VGG19 weights that cannot be downloaded here), Adam
# (lr 2e-3) with cosine decay, dihedral augmentation, 1200 iterations of 4 x 64x64 crops, global input residual.
# Reports RGB PSNR/SSIM of the output and of the hazy input (input/PSNR).
_base_ = ['../deanet_its.py']
data_root = 'data/embedded/dehaze_photos/'
max_iters = 1200

# global_residual: the output is the input plus the network's correction, so a few hundred CPU iterations start
# from the identity instead of learning to reproduce the image (the reference network has no such skip).
model = dict(generator=dict(base_dim=8, global_residual=True), contrast_loss=None, test_cfg=dict(tile=None))
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='train/gt', lq_folder='train/hazy',
                 match='prefix', pipeline=[dict(type='LoadImagePair', cache=True),
                                           dict(type='PairedRandomCrop', gt_size=64),
                                           dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='test/gt', lq_folder='test/hazy',
                 match='prefix', pipeline=[dict(type='LoadImagePair'), dict(type='PackRestorationInputs')],
                 test_mode=True))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=0, end=max_iters,
                        T_max=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='RestorationVisHook', max_images=3)]
