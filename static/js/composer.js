// The create bar: "Options" folds the fields away, the fields offer only what the chosen model
// accepts (from novisurf.protocol, sent by the server), and Ctrl/Cmd+Enter generates.
(function () {
  "use strict";
  const form = document.getElementById("generation-form");
  if (!form) return;
  const specsNode = document.getElementById("model-specs");
  const specs = specsNode ? JSON.parse(specsNode.textContent) : {};
  const model = form.querySelector("[name=model]");
  const size = form.querySelector("[name=size]");
  const count = form.querySelector("[name=n]");
  const format = form.querySelector("[name=response_format]");
  const prompt = form.querySelector("[name=prompt]");
  const toggle = form.querySelector(".options-toggle");
  const panel = document.getElementById("generation-options");
  const STORE = "novisurf.options-open";
  const summary = document.getElementById("options-summary");
  const tags = form.querySelector("[name=tags]");

  // With the options folded, the chosen model and tags stay in view.
  function summarise() {
    if (!summary) return;
    const folded = toggle && !toggle.hidden && toggle.getAttribute("aria-expanded") !== "true";
    summary.hidden = !folded;
    const chosen = model && model.selectedOptions[0];
    summary.querySelector("[data-summary=model]").textContent = chosen ? chosen.textContent : "";
    const tagText = tags ? tags.value.trim() : "";
    summary.querySelector("[data-summary=tags]").textContent = tagText;
    summary.querySelector("[data-summary=tags-wrap]").hidden = !tagText;
  }

  // Options: shown by default without script; with it, folded unless open last time or in error.
  if (toggle && panel) {
    const hasError = panel.querySelector(".has-error") !== null;
    let open = toggle.getAttribute("aria-expanded") === "true" || hasError;
    try { open = open || window.localStorage.getItem(STORE) === "1"; } catch (e) { /* private mode */ }
    const show = (value) => {
      toggle.setAttribute("aria-expanded", value ? "true" : "false");
      panel.hidden = !value;
      panel.classList.toggle("open", value);
      summarise();
    };
    toggle.hidden = false;
    show(open);
    toggle.addEventListener("click", () => {
      const value = toggle.getAttribute("aria-expanded") !== "true";
      show(value);
      try { window.localStorage.setItem(STORE, value ? "1" : "0"); } catch (e) { /* ignore */ }
      if (value && model) model.focus();
    });
  }

  function sizeLabel(value) {
    return value === "auto" ? "auto (model decides)" : value.replace("x", " \u00d7 ");
  }

  let chosenFormat = format ? format.value : "url";
  function fit() {
    const spec = specs[model.value];
    if (!spec) return;
    if (size) {
      const current = size.value;
      size.innerHTML = "";
      for (const value of spec.sizes) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = sizeLabel(value);
        size.appendChild(option);
      }
      // Keep what still applies; else the model's own default.
      size.value = spec.sizes.includes(current) ? current : spec.default_size;
    }
    if (count) {
      count.max = String(spec.max_n);
      if (Number(count.value) > spec.max_n) count.value = String(spec.max_n);
    }
    if (format) {
      const help = document.getElementById(format.id + "_help");
      if (spec.response_format) {
        format.disabled = false;
        format.value = chosenFormat;
        if (help) help.hidden = true;
      } else {
        format.value = "b64_json";
        format.disabled = true;
        if (help) {
          help.textContent = "This model always answers in Base64.";
          help.hidden = false;
        } else {
          const note = document.createElement("small");
          note.className = "help";
          note.id = format.id + "_help";
          note.textContent = "This model always answers in Base64.";
          format.setAttribute("aria-describedby", note.id);
          format.after(note);
        }
      }
    }
  }
  if (format) format.addEventListener("change", () => { chosenFormat = format.value; });
  if (model) {
    model.addEventListener("change", () => { fit(); summarise(); });
    fit();
  }
  if (tags) tags.addEventListener("input", summarise);
  summarise();

  if (prompt) {
    prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }
})();
