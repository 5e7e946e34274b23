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
    showPartial(state.partial, state.finished);
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
