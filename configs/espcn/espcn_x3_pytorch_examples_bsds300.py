# The pytorch/examples super_resolution network, for comparison with ESPCN (not the paper's model): 4 convs
# (5x5 1->64, 3x3 64->64, 3x3 64->32, 3x3 32->r^2) with ReLU and orthogonal init, Adam lr 0.01, MSE on
# BSDS300 Y crops. Data: data/sr/BSDS300/images/train/*.jpg and .../test/*.jpg.
_base_ = ['./espcn_x3_t91.py']
scale = 3
model = dict(generator=dict(variant='pytorch_examples'))
train_dataloader = dict(
    batch_size=4,
    dataset=dict(_delete_=True, type='PairedImageDataset', data_root='data/sr/BSDS300/images', gt_folder='train',
                 scale=scale, pipeline=[dict(type='LoadImagePair', cache=True),
                                        dict(type='BicubicDownscale', scale=scale),
                                        dict(type='PairedRandomCrop', gt_size=255), dict(type='PackRestorationInputs')]))
val_dataloader = dict(dataset=dict(data_root='data/sr/BSDS300/images', gt_folder='test'))
test_dataloader = val_dataloader
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=0.01))
param_scheduler = []
train_cfg = dict(max_epochs=30)
custom_hooks = [dict(type='RestorationVisHook', max_images=4, interval=10)]
auto_scale_lr = dict(enable=False, base_batch_size=4)  # pytorch/examples' --batchSize 4
