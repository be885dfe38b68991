# dn_fpn_faster_rcnn_demo.py on the tiny-object split 'coco_shapes_tiny' (every object 4-16 px), to check DN-FPN's
# tiny-object claim with AI-TOD's size bins against faster_rcnn_baseline_tiny_demo.py.
_base_ = './faster_rcnn_baseline_tiny_demo.py'
model = dict(type='DNFPNFasterRCNN', dn_fpn_loss={{_base_.dn_fpn}})
