# faster_rcnn_baseline_demo.py on the tiny-object split 'coco_shapes_tiny' (every object 4-16 px).
_base_ = './faster_rcnn_baseline_demo.py'
data_root = 'data/embedded/coco_shapes_tiny/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
