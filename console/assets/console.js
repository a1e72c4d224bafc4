// What scripts add to the pages (each works without them): a task shows only the settings of
// its type, the notification settings only when Event notification is on.
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
