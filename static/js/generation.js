// The generation page: status, reasons and images as they are stored, from the live channel
// (server-sent events); a plain JSON poll where EventSource is missing or keeps failing.
(function () {
  "use strict";
  const root = document.getElementById("generation");
  if (!root) return;
  const statusEl = document.getElementById("generation-status");
  const note = document.getElementById("progress-note");
  const errorBox = document.getElementById("generation-error");
  const errorText = document.getElementById("generation-error-text");
  const itemErrors = document.getElementById("item-errors");
  const retryForm = document.getElementById("retry-form");
  const cancelForm = document.getElementById("cancel-form");
  const kept = document.getElementById("generation-kept");
  const waitNote = document.getElementById("wait-note");
  const grid = document.getElementById("generation-images");

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // A streaming model's latest partial image, refining in place until the image is stored.
  const partialBox = document.getElementById("partial-preview");
  let partialImg = null;  // made when the first partial arrives: no empty <img> before
  const partialCaption = document.getElementById("partial-caption");
  function showPartial(partial, finished) {
    if (!partialBox) return;
    if (finished || !partial || !partial.data_url) {
      if (finished) partialBox.hidden = true;
      return;
    }
    if (!partialImg) {
      partialImg = document.createElement("img");
      partialImg.id = "partial-image";
      partialImg.alt = partialBox.dataset.alt;
      partialBox.insertBefore(partialImg, partialCaption);
    }
    if (partialImg.getAttribute("src") !== partial.data_url) {
      partialImg.src = partial.data_url;
      partialImg.width = partial.width;
      partialImg.height = partial.height;
      partialImg.dataset.partialIndex = String(partial.partial_image_index);
      partialCaption.textContent =
        "Image " + (partial.index + 1) + ", partial " + (partial.partial_image_index + 1) + ": refining as the model works…";
    }
    partialBox.hidden = false;
  }

  function placeTile(id, index, html, replace) {
    const existing = document.getElementById("tile-" + id);
    const tile = parse(html);
    if (existing) {
      if (replace && !existing.contains(document.activeElement)) existing.replaceWith(tile);
      return;
    }
    if (replace) return;
    tile.classList.add("new");
    // In the generation's order, whatever order they arrive in.
    const after = Array.from(grid.children).find((li) => Number(li.dataset.index) > index);
    grid.insertBefore(tile, after || null);
  }

  function showState(state) {
    finished = state.finished;
    statusEl.textContent = state.status_label;
    statusEl.className = "status status-" + state.status;
    if (kept && typeof state.kept === "number") kept.textContent = String(state.kept);
    itemErrors.replaceChildren();
    for (const e of state.item_errors) {
      const li = document.createElement("li");
      li.textContent = "Image " + (e.index + 1) + " was not kept: " + e.reason;
      itemErrors.appendChild(li);
    }
    if (state.error) {
      errorText.textContent = state.error;
      errorBox.hidden = false;
    } else {
      errorBox.hidden = true;
    }
    note.hidden = state.finished;
    showPartial(state.partial, state.finished);
    if (waitNote) {
      waitNote.textContent = state.wait_reason || "";
      waitNote.hidden = !state.waiting;
    }
    retryForm.hidden = !state.can_retry;
    if (cancelForm) cancelForm.hidden = !state.can_cancel;
  }

  // -- the fallback: poll the JSON status ------------------------------------------------------
  let polling = false;
  function poll() {
    if (polling) return;
    polling = true;
    let delay = 700;
    async function once() {
      try {
        const response = await fetch(root.dataset.statusUrl, {
          headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const state = await response.json();
        for (const image of state.images) placeTile(image.id, image.index, image.html, false);
        showState(state);
        if (state.finished) return;
        delay = Math.min(delay * 1.2, 3000);
      } catch (err) {
        delay = Math.min(delay * 2, 8000);  // the server is busy or away: back off, keep trying
      }
      setTimeout(once, delay);
    }
    once();
  }

  // A backstop while it runs: one plain status read every few seconds, in case a change
  // reached the database without passing through the feed.
  let finished = root.dataset.finished === "true";
  async function check() {
    if (finished) return;
    try {
      const response = await fetch(root.dataset.statusUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      for (const image of state.images) placeTile(image.id, image.index, image.html, false);
      showState(state);
    } catch (err) { /* the live channel or the next check will do */ }
  }
  setInterval(check, 5000);

  if (!window.EventSource) {
    if (root.dataset.finished !== "true") poll();
    return;
  }
  const source = new EventSource(root.dataset.eventsUrl);
  let opened = false;
  source.addEventListener("open", () => { opened = true; });
  source.addEventListener("error", () => {
    // Never got through (a proxy that buffers, a server without streams): poll instead.
    if (!opened && source.readyState === EventSource.CLOSED) poll();
  });
  source.addEventListener("tile", (event) => {
    const data = JSON.parse(event.data);
    placeTile(data.id, data.index, data.html, data.replace);
  });
  source.addEventListener("remove", (event) => {
    const tile = document.getElementById("tile-" + JSON.parse(event.data).id);
    if (tile) tile.remove();
  });
  source.addEventListener("generation", (event) => showState(JSON.parse(event.data)));
  document.addEventListener("generation:changed", (event) => showState(event.detail));
  source.addEventListener("partial", (event) => showPartial(JSON.parse(event.data), false));
  window.addEventListener("pagehide", () => source.close());
})();
