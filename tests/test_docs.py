"""The documentation: the API reference builds offline with pages for the Inferencer and every registered module,
the README's "Load official weights" table covers every converter, and relative links in the docs resolve."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md')), *sorted((ROOT / 'configs').glob('*/README.md'))]


def registered_convzoo_classes() -> set[type]:
    """Every class that convzoo registers, in mmdet's, mmseg's or its own registries."""
    import mmdet.registry
    import mmseg.registry
    from mmengine.registry import Registry

    import convzoo.core.registry
    found = set()
    for namespace in (mmdet.registry, mmseg.registry, convzoo.core.registry):
        for registry in vars(namespace).values():
            if isinstance(registry, Registry):
                found |= {c for c in registry.module_dict.values()
                          if isinstance(c, type) and c.__module__.startswith('convzoo.')}
    return found


def page_of(site: Path, module: str) -> Path:
    return site.joinpath(*module.split('.')).with_suffix('.html')


@pytest.mark.e2e
def test_api_reference_builds_offline_atomically_with_a_page_per_registered_module(tmp_path):
    site = tmp_path / 'api'
    site.mkdir()
    (site / 'stale.html').write_text('from an earlier build')
    proc = subprocess.run([sys.executable, 'tools/build_docs.py', str(site)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (site / 'stale.html').exists() and [p.name for p in tmp_path.iterdir()] == ['api']
    inferencer = page_of(site, 'convzoo.apis.inferencer').read_text()
    assert 'id="Inferencer"' in inferencer and 'score_thr' in inferencer
    classes = registered_convzoo_classes()
    assert len(classes) > 30
    missing = [f'{c.__module__}.{c.__qualname__}' for c in classes
               if f'id="{c.__qualname__}"' not in page_of(site, c.__module__).read_text()]
    assert not missing
    assert 'id="RCNet"' in page_of(site, 'convzoo.necks.rcnet').read_text()  # the file's page, not only the room's


def test_load_official_weights_table_names_every_converter_and_no_invented_checksum():
    from convzoo.cli.convert import CONVERTERS
    readme = (ROOT / 'README.md').read_text()
    section = readme[readme.index('## Load official weights'):]
    section = section[:section.index('\n## ', 1)]
    for model in CONVERTERS:
        assert f'convzoo convert {model} ' in section, model
    assert '--sha256' in section
    assert not re.search(r'\b[0-9a-f]{64}\b', section)  # no digest is published by the authors: none is quoted


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for target in re.findall(r'\]\(([^)\s#]+)(?:#[^)]*)?\)', doc.read_text()):
        if not re.match(r'[a-z]+://|mailto:', target) and not (doc.parent / target).exists():
            broken.append(target)
    assert not broken
