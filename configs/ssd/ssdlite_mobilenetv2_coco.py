# SSDLite with MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018:
# SSD with depthwise-separable prediction layers on MobileNetV2, 320x320, trained from scratch) on COCO 2017:
# mmdet's config as it is (mmdet reports 21.3 box AP; the MobileNetV2 paper 22.1 on COCO test-dev).
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['convzoo'], allow_failed_imports=False)
runner_type = 'ConvzooRunner'  # convzoo's safe, strict checkpoint loading, also under mmdet's/mmseg's tools
