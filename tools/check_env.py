"""Print the stack's versions and diagnose the known breakages, each with its fix.

Exit status 0 when convzoo can run: mmcv's compiled ops work (nms, rotated nms/IoU, DCNv1/v2 on CPU),
``pkg_resources`` is importable for mmengine's configs, and torchvision is absent or at least not broken.
"""
import argparse
import importlib
import importlib.metadata as md
import sys
import warnings

warnings.filterwarnings("ignore", message=".*pkg_resources is deprecated.*")

FIXES = {
    'mmcv._ext': 'mmcv was installed without its compiled ops. Rebuild: pip uninstall -y mmcv && '
                 'MAX_JOBS=2 pip install --no-build-isolation mmcv==2.1.0 (or delete .venv and run make setup)',
    'pkg_resources': 'setuptools >= 82 removed pkg_resources, which mmengine/mmcv need: '
                     'pip install "setuptools>=77.0.3,<82"',
    'torchvision': 'torchvision is installed but does not work with the CPU torch build; convzoo never needs '
                   'it: pip uninstall -y torchvision',
}


def versions() -> dict:
    out = {'python': sys.version.split()[0]}
    for pkg in ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmsegmentation', 'numpy', 'opencv-python-headless',
                'setuptools', 'pycocotools', 'cityscapesscripts', 'scikit-image', 'onnxruntime', 'convzoo'):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = 'not installed'
    return out


def check_ops() -> None:
    import torch
    from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack, box_iou_rotated, nms, nms_rotated
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5)[1].tolist() == [0, 2]
    rboxes = torch.tensor([[5., 5., 10., 10., 0.], [5., 5., 10., 10., 0.3], [55., 55., 10., 10., 0.]])
    assert len(nms_rotated(rboxes, scores, 0.5)[1]) == 2
    assert abs(box_iou_rotated(rboxes[:1], rboxes[:1]).item() - 1) < 1e-4
    x = torch.randn(1, 4, 8, 8)
    for cls in (DeformConv2dPack, ModulatedDeformConv2dPack):
        assert cls(4, 4, 3, padding=1)(x).shape == (1, 4, 8, 8)


def diagnose() -> list[str]:
    problems = []
    try:
        importlib.import_module('mmcv._ext')
        check_ops()
    except Exception as err:  # noqa: BLE001
        problems.append(f'mmcv ops: {type(err).__name__}: {err}\n  fix: {FIXES["mmcv._ext"]}')
    try:
        importlib.import_module('pkg_resources')
    except ImportError:
        problems.append(f'pkg_resources missing\n  fix: {FIXES["pkg_resources"]}')
    try:
        md.version('torchvision')
        try:
            import torch
            import torchvision  # noqa: F401
            torch.ops.torchvision.nms
        except Exception as err:  # noqa: BLE001
            problems.append(f'torchvision broken ({type(err).__name__}: {err})\n  fix: {FIXES["torchvision"]}')
    except md.PackageNotFoundError:
        pass
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quiet', action='store_true', help='print only problems')
    args = parser.parse_args()
    if not args.quiet:
        for name, version in versions().items():
            print(f'{name:>24}: {version}')
    problems = diagnose()
    for problem in problems:
        print(f'PROBLEM: {problem}', file=sys.stderr)
    if not problems and not args.quiet:
        print('OK: mmcv ops (nms, nms_rotated, box_iou_rotated, DCNv1, DCNv2) run on CPU')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
