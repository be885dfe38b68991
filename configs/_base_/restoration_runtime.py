# Runtime shared by the restoration configs (registry scope convzoo: convzoo's modules first, then mmengine's).
default_scope = 'convzoo'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='RestorationVisHook', max_images=4)]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

train_pipeline_tail = [dict(type='PairedRandomDihedral'), dict(type='PackRestorationInputs')]
test_pipeline = [dict(type='LoadImagePair'), dict(type='PackRestorationInputs')]

