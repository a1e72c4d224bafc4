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

// Upload: for each chosen file the console signs a PUT of that one object; the browser sends
// the bytes to S3 itself, showing progress, and Abort stops it.
function uploads(form) {
  const input = form.querySelector("input[type=file]");
  const progress = form.querySelector(".upload-progress");
  const status = form.querySelector(".upload-status");
  const abort = form.querySelector(".upload-abort");
  let current = null;
  abort.addEventListener("click", () => current && current.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    if (!files.length) { status.textContent = "Choose a file first."; return; }
    for (const file of files) {
      const key = form.dataset.prefix + file.name;
      const body = new URLSearchParams({ form_token: form.dataset.token, key, content_type: file.type || "application/octet-stream" });
      const signed = await fetch(`/buckets/${form.dataset.bucket}/uploads`, { method: "POST", body, credentials: "same-origin" });
      if (!signed.ok) { status.textContent = `${file.name}: ${await signed.text()}`; return; }
      const { url, content_type } = await signed.json();
      const done = await new Promise((resolve) => {
        const request = new XMLHttpRequest();
        current = request;
        request.open("PUT", url);
        request.setRequestHeader("Content-Type", content_type);
        request.upload.addEventListener("progress", (e) => {
          if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
        });
        request.addEventListener("load", () => resolve(request.status >= 200 && request.status < 300 ? "uploaded" : `failed (HTTP ${request.status})`));
        request.addEventListener("error", () => resolve("failed (network)"));
        request.addEventListener("abort", () => resolve("aborted"));
        progress.hidden = false; abort.hidden = false; progress.value = 0;
        status.textContent = `Uploading ${file.name}…`;
        request.send(file);
      });
      current = null; abort.hidden = true;
      status.textContent = `${file.name}: ${done}`;
      if (done !== "uploaded") return;
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
