"""SSD on this stack: mmdet's SSD head predicts (with convzoo's fix), the paper settings are applied."""
import torch


def test_ssd_head_predicts_on_this_stack():
    """mmdet 3.3.0's SSDHead lacks ``loss_cls`` that prediction reads; convzoo.heads.ssd_head_fix adds it."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from convzoo.core.config import load_config
    init_default_scope('mmdet')
    model = MODELS.build(load_config('configs/ssd/demo/ssdlite_mobilenetv2_demo.py').model).eval()
    from mmdet.structures import DetDataSample
    shape = (160, 160)
    sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape, scale_factor=(1., 1.),
                                         batch_input_shape=shape))
    with torch.no_grad():
        result = model(torch.randn(1, 3, 160, 160), [sample], mode='predict')[0]
    assert result.pred_instances.bboxes.shape[1] == 4


def test_ssd_configs_carry_the_paper_settings():
    from convzoo.core.config import load_config
    voc, coco = load_config('configs/ssd/ssd300_voc0712.py'), load_config('configs/ssd/ssd512_coco.py')
    for cfg in (voc, coco):
        assert cfg.model.test_cfg.score_thr == 0.01 and cfg.model.test_cfg.max_per_img == 200
        assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.optim_wrapper.optimizer.weight_decay == 5e-4
        assert cfg.model.train_cfg.neg_pos_ratio == 3 and cfg.train_dataloader.batch_size * 4 == 32
    assert voc.train_cfg.max_iters == 60000 and voc.param_scheduler[1].milestones == [40000, 50000]
    assert coco.train_cfg.max_iters == 240000 and coco.param_scheduler[1].milestones == [160000, 200000]
    assert voc.val_evaluator.type == 'VOCMetric' and voc.val_evaluator.eval_mode == '11points'
