// What scripts add to the pages (each works without them): a task shows only the settings of
// its type, the notification settings only when Event notification is on, and a running job's
// page follows it until it ends, and files are uploaded from a bucket's page straight to S3.
document.documentElement.classList.add("js");

function showTaskFields(task) {
  const select = task.querySelector("select[name$='.type']");
  if (!select) return;
  for (const group of task.querySelectorAll(".task-fields")) {
    group.toggleAttribute("data-inactive", group.dataset.kind !== select.value);
  }
}

function showNotification(form) {
  const box = form.querySelector("#notify");
  const fields = form.querySelector(".notify-fields");
  if (box && fields) fields.hidden = !box.checked;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.workflow-form")) {
    for (const task of form.querySelectorAll("fieldset.task")) {
      showTaskFields(task);
      task.addEventListener("change", (event) => {
        if (event.target.matches("select[name$='.type']")) showTaskFields(task);
      });
    }
    showNotification(form);
    form.addEventListener("change", (event) => {
      if (event.target.id === "notify") showNotification(form);
    });
  }
});

// A job that is still waiting or running: read its page again every two seconds and show it,
// until the job has ended.
async function follow() {
  if (!document.querySelector("[data-live='true']")) return;
  try {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const main = page.querySelector("main");
      if (main) document.querySelector("main").replaceWith(main);
    }
  } catch (error) {
    // A missed reading: the next one shows the job.
  }
  setTimeout(follow, 2000);
}
document.addEventListener("DOMContentLoaded", () => setTimeout(follow, 2000));

// Upload: the console signs, the browser sends each file's bytes to S3 itself. A file up to the
// size set in "Multipart above (MB)" goes in one PUT; a larger one in parts, four at a time. A
// multipart upload is remembered in this browser (its id and the parts S3 took): choosing the
// same file again after a reload or a lost connection resumes it, sending only the other parts.
// Abort stops the upload and drops its stored parts.
const MiB = 1024 * 1024;

async function signed(form, path, fields) {
  const body = new URLSearchParams({ form_token: form.dataset.token, ...fields });
  const response = await fetch(`/buckets/${form.dataset.bucket}/${path}`, { method: "POST", body, credentials: "same-origin" });
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

// PUTs `body` to `url`; resolves to the request once it ends, reporting progress.
function put(url, body, headers, onProgress, track) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    track(request);
    request.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    request.addEventListener("load", () =>
      request.status >= 200 && request.status < 300 ? resolve(request) : reject(new Error(`HTTP ${request.status}`)));
    request.addEventListener("error", () => reject(new Error("network")));
    request.addEventListener("abort", () => reject(new Error("aborted")));
    request.send(body);
  });
}

async function single(form, file, key, contentType, ui) {
  const { url, content_type } = await signed(form, "uploads", { key, content_type: contentType });
  await put(url, file, { "Content-Type": content_type }, (loaded) => ui.show(loaded), ui.track);
}

async function multipart(form, file, key, contentType, ui) {
  // What this browser knows of the upload: its id and the ETags of the parts S3 took.
  const memo = `mediaflow-upload:${form.dataset.bucket}:${key}:${file.size}:${file.lastModified}`;
  let known = null;
  try { known = JSON.parse(localStorage.getItem(memo)); } catch (error) { known = null; }
  if (!known || !known.uploadId) {
    const begun = await signed(form, "multipart", { key, content_type: contentType });
    known = { uploadId: begun.upload_id, parts: {} };
  }
  const remember = () => localStorage.setItem(memo, JSON.stringify(known));
  remember();
  ui.onAbort = async () => {
    localStorage.removeItem(memo);
    await signed(form, "multipart/abort", { key, upload_id: known.uploadId });
  };
  const partSize = Math.max(8 * MiB, Math.ceil(file.size / 10000));
  const count = Math.ceil(file.size / partSize);
  const sizeOf = (number) => Math.min(partSize, file.size - (number - 1) * partSize);
  const loaded = new Map();
  const todo = [];
  for (let number = 1; number <= count; number++) {
    if (known.parts[number]) loaded.set(number, sizeOf(number)); else todo.push(number);
  }
  const total = () => Array.from(loaded.values()).reduce((a, b) => a + b, 0);
  const before = count - todo.length;
  ui.show(total(), before ? `resumed: ${before} of ${count} parts were sent before` : `${count} parts`);
  const sender = async () => {
    while (todo.length && !ui.aborted) {
      const number = todo.shift();
      const { url } = await signed(form, "multipart/part", { key, upload_id: known.uploadId, number: String(number) });
      const body = file.slice((number - 1) * partSize, number * partSize);
      let request;
      try {
        request = await put(url, body, {}, (bytes) => { loaded.set(number, bytes); ui.show(total()); }, ui.track);
      } catch (error) {
        // The upload is gone (aborted, or expired by the bucket's lifecycle): start afresh next time.
        if (error.message === "HTTP 404") localStorage.removeItem(memo);
        throw error;
      }
      const etag = request.getResponseHeader("ETag");
      if (!etag) throw new Error("S3 did not show the part's ETag (the bucket's CORS rule exposes it)");
      known.parts[number] = etag;
      remember();
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  const parts = Object.entries(known.parts).sort((a, b) => a[0] - b[0]).map(([number, etag]) => `${number}:${etag}`).join(",");
  await signed(form, "multipart/complete", { key, upload_id: known.uploadId, parts });
  localStorage.removeItem(memo);
}

function uploads(form) {
  const input = form.querySelector("input[type=file]");
  const threshold = form.querySelector("input[name=multipart_mb]");
  const progress = form.querySelector(".upload-progress");
  const status = form.querySelector(".upload-status");
  const abort = form.querySelector(".upload-abort");
  let ui = null;
  abort.addEventListener("click", async () => {
    if (!ui) return;
    ui.aborted = true;
    for (const request of ui.requests) request.abort();
    if (ui.onAbort) await ui.onAbort().catch(() => {});
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    if (!files.length) { status.textContent = "Choose a file first."; return; }
    for (const file of files) {
      const key = form.dataset.prefix + file.name;
      const contentType = file.type || "application/octet-stream";
      const large = file.size > Number(threshold.value || 64) * MiB;
      const requests = [];
      ui = {
        aborted: false, requests, onAbort: null,
        track: (request) => requests.push(request),
        show(bytes, note) {
          progress.value = file.size ? Math.round((100 * bytes) / file.size) : 100;
          status.textContent = `Uploading ${file.name}: ${progress.value}%${note ? ` (${note})` : ""}`;
        },
      };
      progress.hidden = false; abort.hidden = false; progress.value = 0;
      let outcome = "uploaded";
      try {
        await (large ? multipart : single)(form, file, key, contentType, ui);
      } catch (error) {
        outcome = ui.aborted ? "aborted" : `failed (${error.message})`;
      }
      abort.hidden = true;
      status.textContent = `${file.name}: ${outcome}`;
      ui = null;
      if (outcome !== "uploaded") return;
    }
    location.reload();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.upload")) uploads(form);
});

// HLS: hls.js plays the console's rewrite of the playlist (segments from signed links); a
// browser that plays HLS itself gets the playlist directly.
document.addEventListener("DOMContentLoaded", () => {
  for (const video of document.querySelectorAll("video[data-playlist]")) {
    const playlist = video.dataset.playlist;
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls();
      hls.loadSource(playlist);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = playlist;
    }
  }
});
