// The convzoo serve page: submit an upload as a job, poll its progress, show the drawn result and its JSON.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 300;
const JSON_SHOWN = 20000; // characters of the JSON shown in the page; the download has all of it

function showError(message) {
  $('error').textContent = `error: ${message}`;
  $('error').hidden = false;
  $('progress').hidden = true;
}

// Counted generically, whatever the task: a video's JSON holds per-frame entries under "results", an image's JSON is
// one entry; an entry's detections are its "bboxes" (or its "labels" when it has no boxes).
function countDetections(data) {
  const entries = Array.isArray(data.results) ? data.results : [data];
  let detections = 0;
  let counted = false;
  for (const entry of entries) {
    const found = entry.bboxes ?? entry.labels;
    if (Array.isArray(found)) {
      detections += found.length;
      counted = true;
    }
  }
  return { entries: entries.length, detections, counted };
}

// One line per key, and per entry of a list of entries (a video's frames): numbers stay together on their line.
function formatJson(data) {
  const isEntry = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const lines = Object.entries(data).map(([key, value]) => {
    const head = `  ${JSON.stringify(key)}: `;
    if (Array.isArray(value) && value.some(isEntry)) {
      return `${head}[\n${value.map((v) => `    ${JSON.stringify(v)}`).join(',\n')}\n  ]`;
    }
    return head + JSON.stringify(value);
  });
  return `{\n${lines.join(',\n')}\n}`;
}

function showProgress(job) {
  $('progress').hidden = false;
  $('bar').max = Math.max(job.total, 1);
  $('bar').value = job.done;
  const unit = job.kind === 'video' ? 'frames' : 'image';
  $('progress-text').textContent = `${job.state}: ${job.done} / ${job.total} ${unit}`;
}

function showMedia(job) {
  const media = document.createElement(job.kind === 'video' ? 'video' : 'img');
  media.src = job.result_url;
  if (job.kind === 'video') {
    media.controls = true;
  } else {
    media.alt = 'drawn result';
  }
  $('media').replaceChildren(media);
}

async function showResult(job) {
  showMedia(job);
  const data = await (await fetch(job.json_url)).json();
  const count = countDetections(data);
  const text = formatJson(data);
  const what = job.kind === 'video' ? `${count.entries} frames` : 'the image';
  $('summary').textContent = count.counted ? `${count.detections} detections in ${what}` : `results for ${what}`;
  $('summary').dataset.detections = count.counted ? count.detections : '';
  $('json').textContent = text.length > JSON_SHOWN ? `${text.slice(0, JSON_SHOWN)}\n…` : text;
  $('download-json').href = job.json_url;
  $('download-result').href = job.result_url;
  $('result').hidden = false;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Until the job is done or failed (a job the server no longer knows answers with an error too).
async function follow(job) {
  while (!job.error && job.state !== 'done') {
    showProgress(job);
    await sleep(POLL_MS);
    job = await (await fetch(`/api/jobs/${job.id}`)).json();
  }
  if (job.error) {
    showError(job.error);
    return;
  }
  showProgress(job);
  await showResult(job);
}

async function submit(event) {
  event.preventDefault();
  $('error').hidden = true;
  $('result').hidden = true;
  $('run').disabled = true;
  try {
    const response = await fetch('/api/jobs', { method: 'POST', body: new FormData($('form')) });
    const job = await response.json();
    if (!response.ok) {
      showError(job.error);
      return;
    }
    await follow(job);
  } catch (err) {
    showError(`the server did not answer (${err})`);
  } finally {
    $('run').disabled = false;
  }
}

async function init() {
  const options = await (await fetch('/api/options')).json();
  for (const config of options.configs) {
    $('config').add(new Option(config, config, false, config === options.config));
  }
  $('checkpoint').value = options.checkpoint;
  $('file').accept = options.accept;
  $('form').addEventListener('submit', submit);
  document.body.dataset.ready = 'true';
}

init();
