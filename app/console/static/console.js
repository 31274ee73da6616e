// Jieduan console: progressive enhancement only. Every page works without this file.
"use strict";

// Keyboard shortcuts on a proposal: A approve, R reject (once a reason is chosen; before that R goes to
// the reason list, since a rejection's reason teaches the ranker), N next.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key.toLowerCase();
  if (key === "a" && document.getElementById("approve-form")) {
    event.preventDefault();
    document.getElementById("approve-form").requestSubmit();
  } else if (key === "r" && document.getElementById("reject-form")) {
    event.preventDefault();
    const reason = document.getElementById("reason_code");
    if (reason && !reason.value) {
      reason.focus();
      reason.reportValidity();
    } else {
      document.getElementById("reject-form").requestSubmit();
    }
  } else if (key === "n" && document.getElementById("next-link")) {
    event.preventDefault();
    window.location.href = document.getElementById("next-link").href;
  }
});

// Live progress: an element with data-poll="<json url>" is refreshed until the work is finished.
function poll(el) {
  const url = el.dataset.poll;
  const bar = el.querySelector("progress");
  const text = el.querySelector("[data-status]");
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        if (bar) bar.value = body.progress;
        if (text) text.textContent = body.status_label || body.status;
        if (body.finished) {
          window.location.reload();
          return;
        }
      }
    } catch (err) {
      // A dropped request on a flaky connection: try again on the next tick.
    }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 500);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(poll);
});

// A form that changes something is sent once: a second click while the first is on its way would ask
// for the same change again. A form with data-confirm asks first (deactivating, revoking).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.dataset.sending) {
    event.preventDefault();
    return;
  }
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  form.dataset.sending = "1";
  form.setAttribute("aria-busy", "true");
});

// Coming back to a page from the history: its forms may be sent again.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[data-sending]").forEach((form) => {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
  });
});

// A required field left empty says so in the page's language (the browser's own words follow its locale).
document.addEventListener(
  "invalid",
  (event) => {
    const field = event.target;
    if (field.dataset && field.dataset.missing && field.validity.valueMissing) {
      field.setCustomValidity(field.dataset.missing);
    }
  },
  true,
);
document.addEventListener(
  "change",
  (event) => {
    if (event.target.dataset && event.target.dataset.missing) event.target.setCustomValidity("");
  },
  true,
);
