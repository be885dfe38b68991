# DN-FPN Faster R-CNN on the embedded dataset: faster_rcnn_baseline_demo.py plus the contrastive losses between
# C2-C5 and P2-P5 (weight 0.01, see faster_rcnn_baseline_demo.py for why). Inference is the baseline's network.
_base_ = './faster_rcnn_baseline_demo.py'
model = dict(type='DNFPNFasterRCNN', dn_fpn_loss={{_base_.dn_fpn}})
