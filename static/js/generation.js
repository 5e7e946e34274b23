// The generation page: poll its status and show each image as soon as it is stored.
(function () {
  "use strict";
  const root = document.getElementById("generation");
  if (!root || root.dataset.finished === "true") return;
  const statusUrl = root.dataset.statusUrl;
  const statusEl = document.getElementById("generation-status");
  const note = document.getElementById("progress-note");
  const errorBox = document.getElementById("generation-error");
  const errorText = document.getElementById("generation-error-text");
  const itemErrors = document.getElementById("item-errors");
  const retryForm = document.getElementById("retry-form");
  const grid = document.getElementById("generation-images");
  const shown = new Set(Array.from(grid.querySelectorAll("a")).map((a) => a.getAttribute("href")));
  let delay = 700;

  function addImage(image) {
    if (shown.has(image.url)) return;
    shown.add(image.url);
    const li = document.createElement("li");
    li.className = "tile new";
    const a = document.createElement("a");
    a.href = image.url;
    a.className = "tile-link";
    const img = document.createElement("img");
    img.src = image.thumbnail;
    img.alt = image.alt;
    img.width = image.width;
    img.height = image.height;
    a.appendChild(img);
    li.appendChild(a);
    grid.appendChild(li);
  }

  async function poll() {
    let state;
    try {
      const response = await fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      state = await response.json();
    } catch (err) {
      delay = Math.min(delay * 2, 8000);  // the server is busy or away: back off, keep trying
      setTimeout(poll, delay);
      return;
    }
    statusEl.textContent = state.status_label;
    statusEl.className = "status status-" + state.status;
    state.images.forEach(addImage);
    itemErrors.innerHTML = "";
    for (const e of state.item_errors) {
      const li = document.createElement("li");
      li.textContent = "Image " + (e.index + 1) + " was not kept: " + e.reason;
      itemErrors.appendChild(li);
    }
    if (state.error) {
      errorText.textContent = state.error;
      errorBox.hidden = false;
    }
    if (state.finished) {
      note.hidden = true;
      retryForm.hidden = state.status !== "failed";
      return;
    }
    delay = Math.min(delay * 1.2, 3000);
    setTimeout(poll, delay);
  }
  setTimeout(poll, 400);
})();
