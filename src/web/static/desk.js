// l2c order desk: small enhancements; every page works without them.
"use strict";

function $(selector, root) { return (root || document).querySelector(selector); }
function $$(selector, root) { return Array.from((root || document).querySelectorAll(selector)); }

// Live quote: post the order form to its quote URL as fields change.
function liveQuote(form) {
  const box = $(".quote", form);
  if (!box) return;
  let timer = null;
  let asked = 0;
  const touched = new Set();
  const show = (answer, ticket) => {
    if (ticket !== asked) return;
    box.hidden = false;
    const body = $("tbody", box);
    body.replaceChildren();
    $(".quote-problem", box).textContent = "";
    const problems = answer.ok ? {} : (answer.problems || {});
    markFields(form, problems, touched);
    if (!answer.ok) {
      const general = problems[""] || ["complete the fields marked *"];
      $(".quote-problem", box).textContent = "No quote yet: " + general.join("; ");
      $$("[data-total]", box).forEach((el) => { el.textContent = "-"; });
      return;
    }
    for (const line of answer.lines) {
      const row = document.createElement("tr");
      for (const [value, cls] of [[line.item], [line.name], [line.kind], [line.amount, "num"]]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        if (cls) cell.className = cls;
        row.appendChild(cell);
      }
      body.appendChild(row);
    }
    $("[data-total=one_time]", box).textContent = answer.one_time_total;
    $("[data-total=monthly]", box).textContent = answer.monthly_total;
  };
  const ask = () => {
    const ticket = ++asked;
    fetch(form.dataset.quote, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    }).then((r) => r.json()).then((a) => show(a, ticket)).catch(() => {});
  };
  const later = (ms) => (event) => {
    if (event.target.name) touched.add(event.target.name);
    clearTimeout(timer);
    timer = setTimeout(ask, ms);
  };
  form.addEventListener("input", later(250));
  form.addEventListener("change", later(50));
  ask();
}

// Shows each field's problems as the quote reports them: new ones only at fields the user has
// touched (an untouched empty field is not yet wrong), fixed ones go everywhere.
function markFields(form, problems, touched) {
  $$(".field", form).forEach((field) => {
    const input = $("input[name], select[name], textarea[name]", field);
    if (!input) return;
    const messages = problems[input.name];
    let error = $(".error", field);
    if (messages && touched.has(input.name)) {
      if (!error) {
        error = document.createElement("p");
        error.className = "error";
        field.appendChild(error);
      }
      error.textContent = messages.join("; ");
      field.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
    } else if (!messages) {
      if (error) error.remove();
      field.classList.remove("invalid");
      input.removeAttribute("aria-invalid");
    }
  });
}

// A form that places or decides something is sent once, however often it is clicked.
function once(form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
  });
}

// Inbox: j/k move, Enter opens, x ticks; the list refreshes itself while nothing is ticked.
function inbox(table) {
  let at = -1;
  const rows = () => $$("tr.task", table);
  const select = (i) => {
    const all = rows();
    if (!all.length) return;
    at = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((r, n) => r.classList.toggle("selected", n === at));
    const link = $("a", all[at]);
    if (link) link.focus();
  };
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(at + 1); e.preventDefault(); }
    if (e.key === "k") { select(at - 1); e.preventDefault(); }
    if (e.key === "x" && at >= 0) { const box = $("input[type=checkbox]", rows()[at]); if (box) box.checked = !box.checked; }
    if (e.key === "Enter" && at >= 0 && document.activeElement === document.body) {
      window.location = rows()[at].dataset.href;
    }
  });
  const every = Number(table.dataset.refresh || 0);
  if (!every) return;
  setInterval(() => {
    if ($$("input[type=checkbox]:checked", table).length || at >= 0) return;
    fetch(window.location.href, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        const body = $("#inbox-rows", fresh);
        if (body) $("#inbox-rows").replaceWith(body);
      }).catch(() => {});
  }, every);
}

// Task page: a approves, r goes to the reason.
function taskKeys() {
  const approve = $("#approve");
  const reason = $("#reason");
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "a" && approve) { e.preventDefault(); approve.click(); }
    if (e.key === "r" && reason) { e.preventDefault(); reason.focus(); }
  });
}

function shortcuts() {
  const dialog = $("#shortcuts");
  if (!dialog) return;
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if (e.key === "?") { e.preventDefault(); dialog.showModal(); }
  });
}

// Billing run page: while the run runs, its bar follows the run's progress every second;
// once it has ended the page reloads to show its totals and documents.
function runProgress(box) {
  const bar = $("progress", box);
  const set = (sel, value) => { const el = $(sel, box); if (el) el.textContent = value; };
  const poll = () => {
    fetch(box.dataset.progress, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((p) => {
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        set("[data-done]", p.done);
        set("[data-total]", p.total);
        set("[data-percent]", p.percent);
        set("[data-documents]", p.documents);
        if (p.status === "running") setTimeout(poll, 1000);
        else window.location.reload();
      }).catch(() => setTimeout(poll, 5000));
  };
  setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  $$("form.order-form").forEach(liveQuote);
  $$("form.once, #approve-form, form[action$='/reject'], form[action$='/complete']").forEach(once);
  $$("table.inbox").forEach(inbox);
  taskKeys();
  shortcuts();
  $$("[data-progress]").forEach(runProgress);
});
