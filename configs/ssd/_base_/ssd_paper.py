# Settings of the SSD paper (Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016, sec. 3) that mmdet's SSD
# configs do not have; the configs/ssd/ssd*.py files apply them on top of mmdet's configs. mmdet already has the rest of
# the paper: VGG16 with atrous fc6/fc7 and L2Norm(20) on conv4_3, default boxes with scales 0.2-0.9 (0.15 on COCO),
# 0.5-IoU best-match assignment, smooth L1 + softmax losses, hard negative mining at 3:1, and the data augmentation
# (photometric distortion, zoom-out canvas up to 4x side (16x area), min-IoU random crop, flip).
# Variables are prefixed so that this file can be a second base beside an mmdet config.
#
# Training: SGD lr 1e-3, momentum 0.9, weight decay 5e-4, batch 32 (4 GPUs x 8 images), iteration-based:
#   PASCAL VOC 07+12: 40k iterations at 1e-3, then 10k at 1e-4 and 10k at 1e-5;
#   COCO trainval35k: 160k iterations at 1e-3, then 40k at 1e-4 and 40k at 1e-5.
# mmdet's 500-iteration linear warm-up (not in the paper) is kept for stability.
# Testing: confidence threshold 0.01, per-class NMS at IoU 0.45, top 200 detections per image.
# Pretrained VGG16 (ILSVRC CLS-LOC, caffe): mmdet's vgg16_caffe file, saved locally (see docs/detection.md).
ssd_vgg16_init = dict(type='Pretrained', checkpoint='checkpoints/vgg16_caffe-292e1171.pth')
ssd_test_cfg = dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.45), max_per_img=200)
ssd_optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
ssd_train_sampler = dict(type='InfiniteSampler', shuffle=True)

ssd_iteration_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
ssd_log_processor = dict(by_epoch=False)
ssd_voc_train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=60000, val_interval=10000)
ssd_voc_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=60000, milestones=[40000, 50000], gamma=0.1)]
ssd_coco_train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=240000, val_interval=20000)
ssd_coco_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=240000, milestones=[160000, 200000], gamma=0.1)]
