"""Nothing lost, nothing overwritten: a folder run goes on past unreadable, cut-off and corrupt images and reports
them (API entries, summary.json, the count line, ``convzoo infer`` exit status 3); an out_dir among the inputs is
refused before anything is written; threads writing the same outputs at once all succeed."""
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import pytest

from convzoo.apis import OutputDirError
from convzoo.apis.outputs import Outputs

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
GOOD = ['good1.jpg', 'good2.jpg', 'good3.png', 'good4.png']
BAD = {'corrupt.jpg': 'corrupt', 'cut.jpg': 'truncated or corrupt JPEG data', 'cut.png': 'truncated or corrupt PNG'}


@pytest.fixture(scope='module')
def checkpoint_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('ckpt')


@pytest.fixture(scope='module')
def inferencer(checkpoint_dir, shapes_root, detector_inferencer):
    return detector_inferencer(CONFIG, checkpoint_dir, shapes_root / 'val/00001.jpg', batch_size=2)


def dataset_image(shapes_root, index, path):
    """Dataset image ``index`` saved at ``path`` (JPEG copied as it is, other formats re-encoded)."""
    source = shapes_root / f'val/{index:05d}.jpg'
    if path.suffix == '.jpg':
        shutil.copy(source, path)
    else:
        cv2.imwrite(str(path), cv2.imread(str(source)))
    return path


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.fixture
def mixed_folder(shapes_root, tmp_path):
    """Four good images (JPEG and PNG), a file that is no image, and a JPEG and a PNG cut in half."""
    folder = tmp_path / 'in'
    folder.mkdir()
    for index, name in enumerate(GOOD + ['cut.jpg', 'cut.png'], 1):
        dataset_image(shapes_root, index, folder / name)
    cut_in_half(folder / 'cut.jpg')
    cut_in_half(folder / 'cut.png')
    (folder / 'corrupt.jpg').write_bytes(b'\xff\xd8\xff\xe0' + bytes(range(256)) * 8)
    return folder


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def test_a_folder_keeps_going_past_bad_images_and_reports_each(inferencer, mixed_folder, tmp_path, capsys):
    out = tmp_path / 'out'
    results = inferencer(str(mixed_folder), out_dir=str(out))
    assert [Path(r['source']).name for r in results] == sorted(GOOD + list(BAD))  # one entry per input, in order
    by_name = {Path(r['source']).name: r for r in results}
    assert sorted(name for name, r in by_name.items() if not r['skipped']) == GOOD
    for name, reason in BAD.items():
        assert by_name[name]['skipped'] is True and reason in by_name[name]['reason'], by_name[name]
    for name in GOOD:
        stem = Path(name).stem
        assert cv2.imread(str(out / f'{stem}.jpg')).shape == (160, 160, 3)
        written = json.loads((out / f'{stem}.json').read_text())
        assert written['bboxes'] == [[round(v, 2) for v in box] for box, score
                                     in zip(by_name[name]['bboxes'], by_name[name]['scores']) if score >= 0.5]
    summary = json.loads((out / 'summary.json').read_text())
    assert [Path(p['input']).name for p in summary['processed']] == GOOD
    assert {Path(s['input']).name: s['reason'] for s in summary['skipped']} == {
        name: by_name[name]['reason'] for name in BAD}
    assert '4 processed, 3 skipped' in capsys.readouterr().out


def test_cli_exits_3_with_the_count_when_inputs_were_skipped(inferencer, checkpoint_dir, mixed_folder, tmp_path,
                                                            capsys):
    from convzoo.cli.main import main
    checkpoint = str(next(checkpoint_dir.glob('*.pth')))
    with pytest.raises(SystemExit) as exit_:
        main(['infer', CONFIG, checkpoint, str(mixed_folder), '--out-dir', str(tmp_path / 'out')])
    assert exit_.value.code == 3
    assert f'4 processed, 3 skipped; outputs in {tmp_path / "out"}' in capsys.readouterr().out
    for name in BAD:
        os.remove(mixed_folder / name)
    with pytest.raises(SystemExit) as exit_:
        main(['infer', CONFIG, checkpoint, str(mixed_folder), '--out-dir', str(tmp_path / 'clean')])
    assert exit_.value.code == 0 and '4 processed, 0 skipped' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(['infer', '--help'])
    assert '3  some inputs were skipped' in capsys.readouterr().out


@pytest.mark.parametrize('case', ['folder', 'inside folder', 'linked folder', 'image', 'glob'])
def test_an_out_dir_among_the_inputs_is_refused_and_the_inputs_stay_untouched(inferencer, shapes_root, tmp_path,
                                                                             case):
    folder = tmp_path / 'in'
    folder.mkdir()
    for index, name in enumerate(['x.jpg', 'y.png'], 1):
        dataset_image(shapes_root, index, folder / name)
    (tmp_path / 'link').symlink_to(folder)
    source, out_dir, named = {'folder': (folder, folder, folder), 'inside folder': (folder, folder / 'vis', folder),
                              'linked folder': (folder, tmp_path / 'link', folder),
                              'image': (folder / 'x.jpg', folder, folder / 'x.jpg'),
                              'glob': (folder / '*.jpg', folder, folder / 'x.jpg')}[case]
    before = files(folder)
    with pytest.raises(OutputDirError) as err:
        inferencer(str(source), out_dir=str(out_dir))
    assert f'out_dir {out_dir} is' in str(err.value) and str(named) in str(err.value)
    assert files(folder) == before


def test_an_output_path_that_is_an_input_file_is_refused(tmp_path):
    """The last guard, whatever the names: a path resolving to an input file is never written."""
    (tmp_path / 'x.jpg').write_bytes(b'input')
    (tmp_path / 'out').symlink_to(tmp_path)
    with pytest.raises(OutputDirError, match='is an input file'):
        Outputs(str(tmp_path / 'out'), [str(tmp_path / 'x.jpg')]).path('x', '.jpg')


def test_four_threads_writing_the_same_outputs_all_succeed(inferencer, shapes_root, tmp_path):
    folder, out = tmp_path / 'in', tmp_path / 'out'
    folder.mkdir()
    names = [f'{i}.jpg' for i in range(1, 7)]
    for index, name in enumerate(names, 1):
        dataset_image(shapes_root, index, folder / name)
    with ThreadPoolExecutor(4) as pool:  # 12 runs, 4 at a time: the same files written at the same moments
        runs = list(pool.map(lambda _: inferencer(str(folder), out_dir=str(out), progress=False), range(12)))
    assert all(len(run) == len(names) and run == runs[0] for run in runs)
    for name, result in zip(names, runs[0]):
        stem = Path(name).stem
        assert cv2.imread(str(out / f'{stem}.jpg')).shape == (160, 160, 3)
        assert json.loads((out / f'{stem}.json').read_text())['scores'] == [
            round(s, 4) for s in result['scores'] if s >= 0.5]
    expected = {f'{Path(n).stem}{ext}' for n in names for ext in ('.jpg', '.json')} | {'summary.json'}
    assert {p.name for p in out.iterdir()} == expected  # no temporary file left behind
