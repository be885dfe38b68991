"""Every config in configs/ parses, builds its model and runs one forward pass on a small input."""
from pathlib import Path

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope

from convzoo.core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


PAPERS = ('sepc', 'rcnet', 'dn_fpn', 'ssd', 'deeplab_v2', 'espcn', 'mirnet', 'dea_net', 'arc')


def test_one_folder_per_paper_with_configs_demos_and_a_readme():
    folders = {p.name for p in (ROOT / 'configs').iterdir() if p.is_dir() and p.name != '_base_'}
    assert folders == set(PAPERS)
    for paper in PAPERS:
        readme = (ROOT / 'configs' / paper / 'README.md').read_text()
        names = [Path(c).name for c in CONFIGS if Path(c).parent.name in (paper, 'demo') and f'/{paper}/' in c]
        assert names and [n for n in names if n not in readme] == [], f'{paper}/README.md misses configs'
        assert list((ROOT / 'configs' / paper / 'demo').glob('*.py')), f'{paper} has no CPU demo'


def test_moved_config_paths_still_resolve_to_existing_configs():
    from convzoo.core.config import moved_configs, resolve_config_path
    moved = moved_configs()
    assert moved['configs/sepc_retinanet.py'] == 'configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py'
    assert all(Path(new).is_file() and not Path(old).exists() for old, new in moved.items())
    assert resolve_config_path('configs/demo/sepc_lite_retinanet_demo.py') == \
        'configs/sepc/demo/sepc_lite_retinanet_demo.py'


@pytest.mark.parametrize('config', CONFIGS)
def test_config_names_only_registered_modules_and_convzoo_runner(config):
    """The pre-flight type check has no false alarm on any shipped config, and every config selects the runner."""
    from convzoo.cli.preflight import check_model_types
    cfg = load_config(config)
    check_model_types(cfg, config)
    assert cfg.runner_type == 'ConvzooRunner'


def _tensors(out):
    """Every tensor in nested lists/tuples (Cascade R-CNN nests per-stage outputs)."""
    if isinstance(out, (list, tuple)):
        for item in out:
            yield from _tensors(item)
    else:
        yield out


def smoke_input_size(cfg) -> tuple[int, int]:
    """96x128, or the fixed (h, w) a test pipeline resizes to without keeping the ratio (SSD300/512 need it)."""
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline') or []
    for step in pipeline:
        if step.get('type') == 'Resize' and step.get('keep_ratio') is False:
            return tuple(step['scale'][::-1])
    return 96, 128


def detection_samples(size):
    """Two-stage mmdet detectors need image metadata even in tensor mode (their RPN makes proposals)."""
    from mmdet.structures import DetDataSample
    shapes = dict(img_shape=size, pad_shape=size, batch_input_shape=size, ori_shape=size, scale_factor=(1.0, 1.0))
    return [DetDataSample(metainfo=shapes)]


def without_pretrained(node):
    """The config with every Pretrained init_cfg dropped (no weight files here), so init_weights() can run."""
    if isinstance(node, dict):
        return {k: (None if k == 'init_cfg' and isinstance(v, dict) and v.get('type') == 'Pretrained'
                    else without_pretrained(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [without_pretrained(v) for v in node]
    return node


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_and_runs_forward(config):
    cfg = load_config(config)
    assert cfg.custom_imports == dict(imports=['convzoo'], allow_failed_imports=False)
    scope = cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    from mmengine.registry import MODELS
    model = MODELS.build(ConfigDict(without_pretrained(cfg.model.to_dict())))
    if scope == 'mmdet':
        model.init_weights()  # some mmdet parts (SSD's L2Norm) hold uninitialised memory until then
    model.eval()
    size = smoke_input_size(cfg)
    x = torch.randn(1, 3, *size)
    samples = detection_samples(size) if scope == 'mmdet' else None
    with torch.no_grad():
        out = model(x, samples, mode='tensor')
    flat = list(_tensors(out))
    assert flat and all(torch.isfinite(t).all() for t in flat)


def test_paper_config_is_the_papers_recipe():
    cfg = load_config('configs/sepc/retinanet_r50_fpn-sepc_1x_coco.py')
    fpn, sepc = cfg.model.neck
    assert fpn.start_level == 1 and fpn.add_extra_convs == 'on_input' and fpn.num_outs == 5
    assert (sepc.pconv_deform, sepc.lcconv_deform, sepc.ibn, sepc.stacked_convs) == (True, True, True, 4)
    assert cfg.model.bbox_head.type == 'SEPCRetinaHead' and cfg.model.bbox_head.stacked_convs == 0
    assert cfg.train_dataloader.batch_size == 4 and cfg.train_cfg.max_epochs == 12
    assert cfg.optim_wrapper.optimizer.lr == 0.01 and cfg.optim_wrapper.optimizer.weight_decay == 1e-4
    assert [s.milestones for s in cfg.param_scheduler if s.type == 'MultiStepLR'] == [[8, 11]]
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    lite = load_config('configs/sepc/retinanet_r50_fpn-sepc-lite_1x_coco.py').model.neck[1]
    assert (lite.pconv_deform, lite.lcconv_deform, lite.ibn) == (False, True, True)


@pytest.mark.parametrize('config', [c for c in CONFIGS if '/deeplab_v2/' in c])
def test_segmentation_configs_check_every_loaded_sample(config):
    from convzoo.cli.preflight import _datasets
    cfg = load_config(config)
    for loader in ('train_dataloader', 'test_dataloader'):
        for key, dataset in _datasets(cfg[loader].dataset, loader):  # leaves of ConcatDataset & co.
            steps = [t['type'] for t in dataset['pipeline']]
            assert 'CheckSegSample' in steps and steps.index('CheckSegSample') > steps.index('LoadAnnotations'), key
