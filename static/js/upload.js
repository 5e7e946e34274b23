// Import: files dropped anywhere on the page or picked go up a few at a time; each file's
// fate (imported, already there, failed and why) is reported; one bad file stops nothing.
(function () {
  "use strict";
  const form = document.querySelector("form[data-upload]");
  if (!form) return;
  const picker = form.querySelector('input[type="file"]');
  const report = form.querySelector("[data-upload-report]");
  const summary = form.querySelector("[data-upload-summary]");
  const problems = form.querySelector("[data-upload-problems]");
  const refresh = form.querySelector("[data-upload-refresh]");
  const submit = form.querySelector("[data-upload-submit]");
  const BATCH = 5;
  submit.hidden = true; // the script sends files as soon as they are chosen

  async function send(files) {
    files = Array.from(files).filter((file) => file.size > 0);
    if (!files.length) return;
    const totals = { imported: 0, duplicate: 0, failed: 0 };
    report.hidden = false;
    refresh.hidden = true;
    problems.innerHTML = "";
    form.classList.add("busy");
    for (let start = 0; start < files.length; start += BATCH) {
      summary.textContent = "Importing " + files.length + " file" + (files.length === 1 ? "" : "s") + "… " + start + " done";
      const body = new FormData();
      body.append("csrfmiddlewaretoken", form.querySelector('input[name="csrfmiddlewaretoken"]').value);
      body.append("tags", form.querySelector('input[name="tags"]').value);
      for (const file of files.slice(start, start + BATCH)) {
        body.append("files", file, file.name);
        // Its date where the file itself names none (see services.imports.file_date).
        body.append("last_modified", String(file.lastModified || ""));
      }
      let results;
      try {
        const answer = await fetch(form.action, {
          method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (!answer.ok) throw new Error("the server answered " + answer.status);
        results = (await answer.json()).results;
      } catch (error) {
        results = files.slice(start, start + BATCH).map((file) => ({
          name: file.name, status: "failed", reason: "Could not be sent: " + error.message,
        }));
      }
      for (const result of results) {
        totals[result.status] = (totals[result.status] || 0) + 1;
        if (result.status !== "imported") {
          const item = document.createElement("li");
          item.className = "upload-" + result.status;
          item.textContent = result.name + ": " + result.reason;
          problems.appendChild(item);
        }
      }
    }
    form.classList.remove("busy");
    summary.textContent = "Imported " + totals.imported + " of " + files.length
      + (totals.duplicate ? "; " + totals.duplicate + " already in your gallery" : "")
      + (totals.failed ? "; " + totals.failed + " failed" : "") + ".";
    refresh.hidden = totals.imported === 0;
  }

  picker.addEventListener("change", () => {
    send(picker.files);
    picker.value = "";
  });

  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    depth += 1;
    form.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) form.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    depth = 0;
    form.classList.remove("dragging");
    send(event.dataTransfer.files);
  });
})();
