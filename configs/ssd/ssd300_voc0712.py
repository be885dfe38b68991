# SSD300 with VGG16 (Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016) on PASCAL VOC 07+12 trainval,
# tested on VOC2007 test with VOC mAP (11-point):
# mmdet's SSDVGG backbone, SSDNeck and SSDHead with the paper's schedule and test settings added from
# ./_base_/ssd_paper.py (what mmdet's config lacks is listed there).
_base_ = ['mmdet::pascal_voc/ssd300_voc0712.py', './_base_/ssd_paper.py']
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
model = dict(backbone=dict(init_cfg={{_base_.ssd_vgg16_init}}), test_cfg={{_base_.ssd_test_cfg}})
train_dataloader = dict(batch_size=8, sampler={{_base_.ssd_train_sampler}})  # x 4 GPUs = the paper's batch of 32
optim_wrapper = {{_base_.ssd_optim_wrapper}}
train_cfg = {{_base_.ssd_voc_train_cfg}}
param_scheduler = {{_base_.ssd_voc_param_scheduler}}
default_hooks = {{_base_.ssd_iteration_hooks}}
log_processor = {{_base_.ssd_log_processor}}
auto_scale_lr = dict(base_batch_size=32)
