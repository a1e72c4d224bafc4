// What scripts add to the pages (each works without them): a task shows only the settings of
// its type, the notification settings only when Event notification is on, and a running job's
// page follows it until it ends.
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
