"""``convzoo serve``: a local web demo. Pick a config and a checkpoint, upload an image or a short video, see the
drawn result and download the JSON; a video shows its progress frame by frame.

    convzoo serve [--config CONFIG] [--checkpoint CKPT] [--host 127.0.0.1] [--port 0] [--work-dir work_dirs/serve]

The page lists the CPU demo configs shipped with convzoo (``configs/<paper>/demo/*.py``) and --config if given; the
checkpoint is a path on this machine (empty: untrained weights). Each upload is a job: the file is checked (type,
size, that it decodes), run through the Inferencer in a folder of its own under the work dir, and its input deleted
once the run ends; the oldest finished jobs' folders go when more than --keep-jobs are kept, all of them when the
server stops. One Inferencer per (config, checkpoint) stays loaded. The server listens on 127.0.0.1 (this machine
only) and, with --port 0, on a free port; it prints its address.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
import threading
import traceback
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from convzoo.apis import Inferencer
from convzoo.apis.sources import VideoSource, output_names, read_image
from convzoo.cli.common import USER_ERRORS, user_message
from convzoo.core.config import PACKAGE_CONFIGS, SCHEME, load_config, resolve_config_path
from convzoo.core.errors import SourceError
from convzoo.core.images import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

STATIC = Path(__file__).with_name('serve_static')
DEFAULT_CONFIG = f'{SCHEME}sepc/demo/sepc_lite_retinanet_demo.py'
CHUNK = 1 << 20
FINISHED = ('done', 'failed')


def demo_configs() -> list[str]:
    """The shipped CPU demo configs as ``convzoo::<paper>/demo/<name>.py``."""
    return [f'{SCHEME}{p.relative_to(PACKAGE_CONFIGS).as_posix()}' for p in sorted(PACKAGE_CONFIGS.glob('*/demo/*.py'))]


@dataclass
class Settings:
    """What the command line sets; the page's defaults and the limits of an upload."""
    work_dir: str = 'work_dirs/serve'
    config: str = DEFAULT_CONFIG
    checkpoint: str = ''
    device: str = 'cpu'
    score_thr: float = 0.3
    max_upload_mb: float = 50.0
    max_video_frames: int = 300
    keep_jobs: int = 20

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * (1 << 20))


class ModelCache:
    """One Inferencer per (config, checkpoint), built on first use. The lock is held while building, so two
    requests for a model not yet loaded build it once (and the second waits instead of doubling the memory)."""

    def __init__(self, device: str, score_thr: float):
        self.device, self.score_thr = device, score_thr
        self._models: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def get(self, config: str, checkpoint: str):
        if checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
        key = (osp.realpath(resolve_config_path(config)), osp.realpath(checkpoint) if checkpoint else '')
        with self._lock:
            if key not in self._models:
                self._models[key] = Inferencer(config, checkpoint or None, device=self.device,
                                               score_thr=self.score_thr)
            return self._models[key]

    def __len__(self) -> int:
        return len(self._models)


@dataclass
class Job:
    """One upload: its folder (``input/`` then ``out/``), what the page polls, and where the outputs are."""
    id: str
    folder: str
    upload: str  # the server's copy of the input (deleted after the run)
    filename: str  # the input's name as uploaded
    name: str  # the Inferencer's output name for it
    kind: str  # 'image' or 'video'
    total: int  # images or announced video frames
    config: str
    checkpoint: str
    state: str = 'queued'  # queued, loading model, running, done, failed
    error: str | None = None
    result: str | None = None  # the drawn image or video

    @property
    def out_dir(self) -> str:
        return osp.join(self.folder, 'out')

    def done(self) -> int:
        """Images or frames processed so far: a video's per-frame JSON files appear as its frames are drawn (the
        Inferencer writes each under a hidden temporary name first, not counted)."""
        if self.state == 'done':
            return self.total
        try:
            entries = list(os.scandir(osp.join(self.out_dir, self.name))) if self.kind == 'video' else []
        except FileNotFoundError:  # no frame drawn yet, or a failed job's folder removed meanwhile
            return 0
        return sum(e.name.endswith('.json') and not e.name.startswith('.') for e in entries)

    def status(self) -> dict:
        base = f'/api/jobs/{self.id}'
        finished = self.state == 'done'
        return dict(id=self.id, kind=self.kind, state=self.state, done=self.done(), total=self.total,
                    error=self.error, result_url=f'{base}/result' if finished else None,
                    json_url=f'{base}/json' if finished else None)


class Jobs:
    """The jobs of one server run, each in a folder under ``root``; the oldest finished ones are removed when more
    than ``keep`` are held, and everything when the server stops."""

    def __init__(self, root: str, keep: int):
        self.root, self.keep = root, keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def new_folder(self) -> tuple[str, str]:
        job_id = uuid.uuid4().hex[:12]
        folder = osp.join(self.root, job_id)
        os.makedirs(osp.join(folder, 'input'))
        return job_id, folder

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state in FINISHED]
            for old in finished[:max(0, len(self._jobs) - self.keep)]:
                del self._jobs[old.id]
                shutil.rmtree(old.folder, ignore_errors=True)

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f'no job {job_id} (finished jobs are removed after a while)')
        return job

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def upload_kind(filename: str) -> str:
    ext = osp.splitext(filename)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return 'image'
    if ext in VIDEO_EXTENSIONS:
        return 'video'
    accepted = ' '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
    raise SourceError(f'{filename or "the upload"}: not an image or video file name (accepted: {accepted})')


def safe_filename(filename: str) -> str:
    """The upload's base name reduced to characters safe in a path (its extension was checked already)."""
    stem, ext = osp.splitext(filename)
    return (re.sub(r'[^A-Za-z0-9_-]+', '_', stem)[:64].strip('_') or 'upload') + ext.lower()


def count_frames(path: str, shown: str, limit: int) -> int:
    """The announced frame count of a video that opens, or a SourceError naming the upload."""
    video = VideoSource(path)
    video.capture.release()
    if len(video) <= 0:
        raise SourceError(f'{shown}: no video frames found')
    if len(video) > limit:
        raise SourceError(f'{shown}: {len(video)} frames; the demo takes short videos of up to {limit} frames '
                          '(--max-video-frames)')
    return len(video)


def check_upload(path: str, shown: str, kind: str, max_frames: int) -> int:
    """The number of images or frames in the saved upload; one that does not decode is a SourceError naming the
    uploaded file (not the server's copy)."""
    try:
        if kind == 'video':
            return count_frames(path, shown, max_frames)
        read_image(path)
        return 1
    except SourceError as err:
        raise SourceError(str(err).replace(path, shown)) from None


def save_upload(stream, filename: str, path: str, limit: int) -> None:
    """Copy the received upload to ``path`` (under a temporary name, then renamed), refusing one over ``limit``
    bytes or empty."""
    tmp, size = f'{path}.part', 0
    try:
        with open(tmp, 'wb') as f:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, too_large(filename, limit))
                f.write(chunk)
        if size == 0:
            raise SourceError(f'{filename}: the file is empty')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def too_large(filename: str, limit: int) -> str:
    return f'{filename}: larger than the upload limit of {limit / (1 << 20):g} MB (--max-upload-mb)'


def find_result(job: Job) -> str | None:
    """The drawn output the Inferencer wrote for the job: ``out/<name>.<ext>`` other than its JSON."""
    drawn = [entry.path for entry in os.scandir(job.out_dir)  # the video's per-frame folder has its name too
             if entry.is_file() and osp.splitext(entry.name)[0] == job.name and not entry.name.endswith('.json')]
    return drawn[0] if drawn else None


def job_json_text(job: Job) -> str:
    """The JSON the Inferencer wrote for the job, with the server's copy of the upload (deleted by now) named as it
    was uploaded."""
    with open(osp.join(job.out_dir, f'{job.name}.json')) as f:
        return f.read().replace(json.dumps(job.upload), json.dumps(job.filename))


def run_job(job: Job, models: ModelCache) -> None:
    """Load (or reuse) the model, run the upload, record the outputs or the error; the input is deleted after."""
    try:
        job.state = 'loading model'
        infer = models.get(job.config, job.checkpoint)
        job.state = 'running'
        # a video's per-frame JSON files are its progress (see Job.done)
        infer(job.upload, out_dir=job.out_dir, progress=False, frame_json=job.kind == 'video')
        job.result, job.state = find_result(job), 'done'
    except Exception as err:  # noqa: BLE001  (the page shows it; the server keeps serving)
        message = user_message(err)
        if message is None:
            traceback.print_exc()
            message = f'internal error: {type(err).__name__}: {err}'
        job.error, job.state = message, 'failed'
    finally:
        shutil.rmtree(osp.dirname(job.upload), ignore_errors=True)


def create_app(settings: Settings, models: ModelCache | None = None):
    """The FastAPI application: the page, its options, and the jobs API."""
    os.makedirs(settings.work_dir, exist_ok=True)
    jobs = Jobs(tempfile.mkdtemp(prefix='run-', dir=settings.work_dir), settings.keep_jobs)
    models = models or ModelCache(settings.device, settings.score_thr)
    runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix='convzoo-serve')  # one model run at a time

    @asynccontextmanager
    async def lifespan(app):
        yield
        runner.shutdown(wait=True, cancel_futures=True)
        jobs.close()

    app = FastAPI(title='convzoo serve', lifespan=lifespan)
    app.state.models, app.state.jobs = models, jobs
    app.mount('/static', StaticFiles(directory=STATIC), name='static')

    @app.exception_handler(HTTPException)
    async def http_error(request, err: HTTPException):
        return JSONResponse({'error': err.detail}, status_code=err.status_code)

    async def user_error(request, err: Exception):
        return JSONResponse({'error': user_message(err)}, status_code=400)

    for error in USER_ERRORS:  # a bad upload, config or checkpoint: one line for the page; anything else is a bug
        app.add_exception_handler(error, user_error)

    @app.get('/')
    def index():
        return FileResponse(STATIC / 'index.html')

    @app.get('/api/options')
    def options():
        configs = demo_configs()
        configs = configs if settings.config in configs else [settings.config, *configs]
        return dict(configs=configs, config=settings.config, checkpoint=settings.checkpoint,
                    accept=','.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS), max_upload_mb=settings.max_upload_mb)

    @app.post('/api/jobs')
    async def create_job(request: Request):
        limit = settings.max_upload_bytes
        if int(request.headers.get('content-length') or 0) > limit + CHUNK:  # before reading the body at all
            raise HTTPException(413, too_large('the upload', limit))
        async with request.form(max_files=1, max_fields=4) as form:
            upload = form.get('file')
            if upload is None or isinstance(upload, str) or not upload.filename:
                raise SourceError('no file uploaded: choose an image or a short video')
            checkpoint = form.get('checkpoint')  # absent: the default; empty: untrained weights
            job = await new_job(upload, form.get('config') or settings.config,
                                settings.checkpoint if checkpoint is None else checkpoint)
        jobs.add(job)
        runner.submit(run_job, job, models)
        return job.status()

    async def new_job(upload, config: str, checkpoint: str) -> Job:
        filename = osp.basename(upload.filename.replace('\\', '/'))
        kind = upload_kind(filename)
        load_config(config)  # a config that cannot run is refused now, with its key
        job_id, folder = jobs.new_folder()
        path = osp.join(folder, 'input', safe_filename(filename))
        try:
            await run_in_threadpool(save_upload, upload.file, filename, path, settings.max_upload_bytes)
            total = await run_in_threadpool(check_upload, path, filename, kind, settings.max_video_frames)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        name = output_names([path], osp.dirname(path))[0]
        return Job(job_id, folder, path, filename, name, kind, total, config, checkpoint.strip())

    @app.get('/api/jobs/{job_id}')
    def job_status(job_id: str):
        return jobs.get(job_id).status()

    @app.get('/api/jobs/{job_id}/result')
    def job_result(job_id: str):
        job = finished_job(job_id)
        if job.result is None:
            raise HTTPException(404, f'job {job_id} wrote no drawn output')
        return FileResponse(job.result)

    @app.get('/api/jobs/{job_id}/json')
    def job_json(job_id: str):
        job = finished_job(job_id)
        return Response(job_json_text(job), media_type='application/json',
                        headers={'Content-Disposition': f'attachment; filename="{job.name}.json"'})

    def finished_job(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job.state != 'done':
            raise HTTPException(409, f'job {job_id} is {job.state}, not done')
        return job

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port chosen by the system)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(64)
    return sock


def parse_args(argv, prog):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='the page\'s default config (path or convzoo::...)')
    parser.add_argument('--checkpoint', default='', help='the page\'s default checkpoint; loaded at start to check it')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default: this machine only)')
    parser.add_argument('--port', type=int, default=0, help='port to listen on (default 0: a free port)')
    parser.add_argument('--work-dir', default='work_dirs/serve', help='uploads and outputs go in a folder under it')
    parser.add_argument('--device', default='cpu', help="torch device to run on, e.g. 'cpu' or 'cuda:0'")
    parser.add_argument('--score-thr', type=float, default=0.3, help='detections below this score are dropped')
    parser.add_argument('--max-upload-mb', type=float, default=50.0, help='largest upload accepted')
    parser.add_argument('--max-video-frames', type=int, default=300, help='longest video accepted, in frames')
    parser.add_argument('--keep-jobs', type=int, default=20, help='finished jobs whose outputs stay available')
    return parser.parse_args(argv)


def main(argv=None, prog=None) -> int:
    import uvicorn
    args = parse_args(argv, prog)
    settings = Settings(args.work_dir, args.config, args.checkpoint, args.device, args.score_thr,
                        args.max_upload_mb, args.max_video_frames, args.keep_jobs)
    load_config(settings.config)
    models = ModelCache(settings.device, settings.score_thr)
    if settings.checkpoint:  # a wrong default checkpoint stops here with one line, not at the first upload
        models.get(settings.config, settings.checkpoint)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f'[{host}]' if ':' in host else host
    print(f'convzoo serve: http://{shown}:{port}/ (Ctrl-C stops)', flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, models), log_level='warning'))
    server.run(sockets=[sock])
    return 0
