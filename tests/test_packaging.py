"""The wheel ships the convzoo package (and its subpackages) but not tests/, configs or tools."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contents(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w',
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(ROOT / 'build', ignore_errors=True)  # setuptools' scratch folder
    wheel = next(tmp_path.glob('convzoo-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith('tests/') or '/tests/' in n]
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / 'convzoo').rglob('__init__.py')}
    shipped = {n.rsplit('/', 1)[0] for n in names if n.endswith('__init__.py')}
    assert packages <= shipped, packages - shipped
    assert 'convzoo/necks/sepc.py' in names
