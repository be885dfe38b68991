"""Print the stack's versions and the GPU, and diagnose the known breakages, each with its fix.

Exit status 0 when convzoo can run: mmcv's compiled ops work (nms, rotated nms/IoU, DCNv1/v2 on CPU, and on the
GPU when torch sees one), ``pkg_resources`` is importable for mmengine's configs, and torchvision is absent or at
least not broken. Without a GPU the GPU lines say "no GPU" and are no problem.
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
    'mmcv CUDA': 'mmcv was built without CUDA kernels or for another GPU: pip uninstall -y mmcv && make setup '
                 "(builds with FORCE_CUDA=1 for this GPU's compute capability; needs nvcc of torch's CUDA major, "
                 'see docs/gpu.md)',
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


def check_ops(device: str = 'cpu') -> None:
    """Tiny calls of the ops convzoo uses, on ``device``: each kernel loads and gives the known answer."""
    import torch
    from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack, box_iou_rotated, nms, nms_rotated
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]], device=device)
    scores = torch.tensor([0.9, 0.8, 0.7], device=device)
    assert nms(boxes, scores, 0.5)[1].tolist() == [0, 2]
    rboxes = torch.tensor([[5., 5., 10., 10., 0.], [5., 5., 10., 10., 0.3], [55., 55., 10., 10., 0.]], device=device)
    assert len(nms_rotated(rboxes, scores, 0.5)[1]) == 2
    assert abs(box_iou_rotated(rboxes[:1], rboxes[:1]).item() - 1) < 1e-4
    x = torch.randn(1, 4, 8, 8, device=device)
    for cls in (DeformConv2dPack, ModulatedDeformConv2dPack):
        assert cls(4, 4, 3, padding=1).to(device)(x).shape == (1, 4, 8, 8)


def check_cuda_ops() -> str:
    """mmcv's CUDA kernels run on this GPU (an op-less or CPU-only build, or one compiled for other compute
    capabilities, fails here rather than in the middle of a training); the CUDA version they were compiled for."""
    import torch
    from mmcv.ops import get_compiling_cuda_version
    compiled = get_compiling_cuda_version()
    if compiled == 'not available':
        raise RuntimeError('mmcv._ext was compiled without CUDA kernels')
    check_ops('cuda')
    torch.cuda.synchronize()
    return compiled


def _gpu(index: int) -> str:
    import torch
    major, minor = torch.cuda.get_device_capability(index)
    return f'{torch.cuda.get_device_name(index)} (compute capability {major}.{minor})'


def gpu_report() -> tuple[dict, list[str]]:
    """The GPU lines (GPU name and compute capability, torch's CUDA, mmcv's CUDA ops) and the problems found."""
    import torch
    if not torch.cuda.is_available():
        build = f'torch {torch.__version__} is a CPU build' if torch.version.cuda is None else \
            f'torch {torch.__version__} (CUDA {torch.version.cuda}) sees no device'
        return {'GPU': 'no GPU', 'torch CUDA': f'no GPU ({build})', 'mmcv CUDA ops': 'no GPU'}, []
    gpus = [_gpu(i) for i in range(torch.cuda.device_count())]
    lines = {'GPU': ', '.join(f'{gpus.count(g)} x {g}' for g in dict.fromkeys(gpus)), 'torch CUDA': torch.version.cuda}
    try:
        lines['mmcv CUDA ops'] = f'compiled for CUDA {check_cuda_ops()}; nms, rotated nms/IoU, DCNv1, DCNv2 run on cuda'
        return lines, []
    except Exception as err:  # noqa: BLE001
        lines['mmcv CUDA ops'] = 'FAILED'
        return lines, [f'mmcv CUDA ops: {type(err).__name__}: {err}\n  fix: {FIXES["mmcv CUDA"]}']


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
            importlib.import_module('torchvision')  # only to diagnose an installed, broken one
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
    gpu_lines, gpu_problems = gpu_report()
    if not args.quiet:
        for name, version in {**versions(), **gpu_lines}.items():
            print(f'{name:>24}: {version}')
    problems = diagnose() + gpu_problems
    for problem in problems:
        print(f'PROBLEM: {problem}', file=sys.stderr)
    if not problems and not args.quiet:
        print('OK: mmcv ops (nms, nms_rotated, box_iou_rotated, DCNv1, DCNv2) run on CPU')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
