"""``convzoo serve``, the local web demo: its API through FastAPI's TestClient (bad uploads refused with one error
naming the file, a video job's progress frame by frame, one model per config and checkpoint, nothing left behind),
and, end to end, the page in Debian's Chromium driven by Playwright against the server started as a user does."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from convzoo.cli.demo import write_shapes_video
from convzoo.cli.serve import Settings, create_app

CONFIG = 'configs/sepc/demo/sepc_lite_retinanet_demo.py'
CHROMIUM = '/usr/bin/chromium'
FRAMES = 16  # four batches of the Inferencer's four frames: progress has steps in between
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, shapes_root, detector_inferencer):
    """The SEPC-lite demo detector with seeded random weights, calibrated so that val image 1 has detections."""
    folder = tmp_path_factory.mktemp('serve_checkpoint')
    detector_inferencer(CONFIG, folder, shapes_root / 'val/00001.jpg')
    return folder / 'model.pth'


@pytest.fixture(scope='module')
def served(tmp_path_factory, checkpoint):
    """(client, app, work dir) of an app with a 1 MB upload limit and videos of up to FRAMES frames."""
    work_dir = tmp_path_factory.mktemp('serve')
    settings = Settings(work_dir=str(work_dir), config=CONFIG, checkpoint=str(checkpoint), score_thr=0.5,
                        max_upload_mb=1, max_video_frames=FRAMES)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app, work_dir
    assert os.listdir(work_dir) == []  # the server's folder goes when it stops


def post(client, path: Path, name: str | None = None, **fields):
    with open(path, 'rb') as f:
        return client.post('/api/jobs', files={'file': (name or path.name, f)}, data=fields)


def wait_done(client, job: dict, seen: list | None = None) -> dict:
    deadline = time.monotonic() + 60
    while job['state'] not in ('done', 'failed') and time.monotonic() < deadline:
        time.sleep(0.02)
        job = client.get(f'/api/jobs/{job["id"]}').json()
        if seen is not None:
            seen.append(job['done'])
    assert job['state'] == 'done', job
    return job


def test_bad_uploads_get_one_error_naming_the_file_and_leave_nothing(served, tmp_path, shapes_root):
    client, app, _ = served
    text = tmp_path / 'notes.txt'
    text.write_text('not an image\n' * 10)
    response = post(client, text, 'notes.jpg')  # a text file renamed .jpg
    assert response.status_code == 400
    error = response.json()['error']
    assert error.startswith('notes.jpg: cannot be read as an image') and str(app.state.jobs.root) not in error
    assert 'not an image or video file name' in post(client, text).json()['error']
    big = tmp_path / 'big.png'
    big.write_bytes(os.urandom(3 << 19))  # 1.5 MB: past the limit while received, though under the early check
    response = post(client, big)
    assert response.status_code == 413 and 'big.png: larger than the upload limit of 1 MB' in response.json()['error']
    long_clip = write_shapes_video(str(tmp_path / 'long.mp4'), image_ids=[1], frames_per_image=FRAMES + 1)
    assert f'{FRAMES + 1} frames' in post(client, Path(long_clip)).json()['error']
    response = post(client, shapes_root / 'val/00001.jpg', config='configs/nowhere.py')
    assert response.status_code == 400 and 'configs/nowhere.py does not exist' in response.json()['error']
    assert os.listdir(app.state.jobs.root) == []  # every refused upload's folder was removed


def test_video_job_reports_progress_frame_by_frame_and_serves_its_outputs(served, tmp_path, shapes_root, checkpoint):
    client, app, _ = served
    clip = write_shapes_video(str(tmp_path / 'clip.mp4'), image_ids=[1, 2], frames_per_image=FRAMES // 2)
    job = post(client, Path(clip)).json()
    assert (job['kind'], job['done'], job['total']) == ('video', 0, FRAMES)
    seen = []
    job = wait_done(client, job, seen)
    assert seen == sorted(seen) and any(0 < done < FRAMES for done in seen), seen  # frames counted as drawn
    assert job['done'] == FRAMES
    video = client.get(job['result_url'])
    assert video.headers['content-type'] == 'video/mp4' and len(video.content) > 1000
    result = client.get(job['json_url'])
    assert 'clip.json' in result.headers['content-disposition']
    assert result.json()['source'] == 'clip.mp4'
    assert [entry['frame'] for entry in result.json()['results']] == list(range(FRAMES))
    assert not (Path(app.state.jobs.root) / job['id'] / 'input').exists()  # the upload is deleted after the run
    # an image with the config and the checkpoint named in other ways: the model loaded for the video is reused
    image = post(client, shapes_root / 'val/00001.jpg', config='convzoo::sepc/demo/sepc_lite_retinanet_demo.py',
                 checkpoint=str(checkpoint.parent / '.' / checkpoint.name))
    image = wait_done(client, image.json())
    assert client.get(image['result_url']).headers['content-type'] == 'image/jpeg'
    assert len(client.get(image['json_url']).json()['labels']) > 0
    assert len(app.state.models) == 1


def start_server(checkpoint: Path, work_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``tools/serve.py`` on a free port, as a user starts it; (process, its address)."""
    proc = subprocess.Popen(
        [sys.executable, 'tools/serve.py', '--config', CONFIG, '--checkpoint', str(checkpoint), '--score-thr', '0.5',
         '--work-dir', str(work_dir)], stdout=subprocess.PIPE, stderr=log.open('w'), text=True,
        env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'})
    for line in proc.stdout:
        if line.startswith('convzoo serve: http://127.0.0.1:'):
            return proc, line.split()[2]
    proc.wait()
    raise AssertionError(f'the server did not start ({proc.returncode}):\n{log.read_text()[-3000:]}')


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.part')
    tmp.write_bytes(data)
    os.replace(tmp, path)


DRAWN_IMAGE_SHOWN = """() => {
  const img = document.querySelector('#media img');
  return img !== null && img.complete && img.naturalWidth > 0;
}"""


def upload_in_page(page, path: Path) -> None:
    page.set_input_files('#file', str(path))
    page.click('#run')


@pytest.mark.e2e
def test_page_in_chromium_shows_the_drawn_detections_and_their_json(checkpoint, shapes_root, repo_root, tmp_path):
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).is_file(), 'Debian\'s chromium is missing: make setup installs it (apt-get install chromium)'
    work_dir = tmp_path / 'serve'
    server, url = start_server(checkpoint, work_dir, tmp_path / 'server.log')
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'], headless=True)
            page = browser.new_page(viewport={'width': 900, 'height': 900}, accept_downloads=True)
            page.goto(url)
            page.wait_for_selector('body[data-ready]')
            assert page.input_value('#checkpoint') == str(checkpoint)
            bad = tmp_path / 'holiday.jpg'
            bad.write_text('a text file renamed .jpg')
            upload_in_page(page, bad)
            page.wait_for_selector('#error:not([hidden])')
            assert page.inner_text('#error').startswith('error: holiday.jpg: cannot be read as an image')
            upload_in_page(page, shapes_root / 'val/00001.jpg')
            page.wait_for_function(DRAWN_IMAGE_SHOWN, timeout=60_000)
            assert page.is_hidden('#error')
            assert page.evaluate("document.querySelector('#media img').naturalWidth") == 160
            shown = int(page.get_attribute('#summary', 'data-detections'))
            with page.expect_download() as download:
                page.click('#download-json')
            downloaded = json.loads(Path(download.value.path()).read_text())
            screenshot = page.screenshot(full_page=True)
            upload_in_page(page, Path(write_shapes_video(str(tmp_path / 'clip.mp4'), image_ids=[1], frames_per_image=4)))
            page.wait_for_selector('#media video')
            assert page.inner_text('#progress-text') == 'done: 4 / 4 frames'
            assert page.inner_text('#summary').endswith('detections in 4 frames')
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert shown == len(downloaded['labels']) > 0
    assert downloaded['source'] == '00001.jpg'  # as uploaded, not the server's copy
    assert os.listdir(work_dir) == []  # stopped by SIGTERM, the server removed its uploads and outputs
    path = repo_root / 'work_dirs/serve_test/screenshot.png'
    write_atomic(path, screenshot)
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert path.read_bytes()[:8] == PNG_SIGNATURE and image.shape[1] == 900
