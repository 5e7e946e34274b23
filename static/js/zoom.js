// The viewer zooms and pans: the mouse wheel zooms where it points, two fingers pinch, a drag
// pans a zoomed image, "Zoom in" and "Zoom out" step, "Fit" shows it whole again. While the
// edit form paints a mask on the image, the image stays still.
(function () {
  "use strict";
  const area = document.getElementById("paint-area");
  const bar = document.getElementById("zoom-bar");
  if (!area || !bar) return;
  const image = area.querySelector("img.main-image");
  const link = area.querySelector("a.image-open");
  if (!image) return;
  const MIN = 1;
  const MAX = 8;
  const STEP = 1.5;
  let scale = 1;
  let x = 0;
  let y = 0;
  const level = bar.querySelector("[data-zoom-level]");
  const fitButton = bar.querySelector('[data-zoom="fit"]');
  const outButton = bar.querySelector('[data-zoom="out"]');
  const inButton = bar.querySelector('[data-zoom="in"]');
  bar.hidden = false;

  const painting = () => area.classList.contains("painting");

  function clamp() {
    // Never pan the image out of its frame: at most half of the overflow each way.
    const w = area.clientWidth;
    const h = area.clientHeight;
    const maxX = (w * (scale - 1)) / 2;
    const maxY = (h * (scale - 1)) / 2;
    x = Math.max(-maxX, Math.min(maxX, x));
    y = Math.max(-maxY, Math.min(maxY, y));
  }

  function apply() {
    clamp();
    image.style.transform = scale === 1 ? "" : "translate(" + x + "px, " + y + "px) scale(" + scale + ")";
    area.classList.toggle("zoomed", scale > 1);
    if (level) level.textContent = Math.round(scale * 100) + "%";
    fitButton.disabled = scale === 1;
    outButton.disabled = scale === 1;
    inButton.disabled = scale >= MAX;
    image.dataset.zoom = String(scale);
  }

  // Zoom to ``next`` keeping the point (px, py) of the frame (from its centre) where it is.
  function zoomTo(next, px, py) {
    next = Math.max(MIN, Math.min(MAX, next));
    const ratio = next / scale;
    x = px - (px - x) * ratio;
    y = py - (py - y) * ratio;
    scale = next;
    if (scale === 1) { x = 0; y = 0; }
    apply();
  }

  function fromCentre(clientX, clientY) {
    const box = area.getBoundingClientRect();
    return [clientX - box.left - box.width / 2, clientY - box.top - box.height / 2];
  }

  bar.addEventListener("click", (event) => {
    const button = event.target.closest("[data-zoom]");
    if (!button) return;
    const what = button.dataset.zoom;
    if (what === "in") zoomTo(scale * STEP, 0, 0);
    else if (what === "out") zoomTo(scale / STEP, 0, 0);
    else zoomTo(1, 0, 0);
  });

  area.addEventListener("wheel", (event) => {
    if (painting()) return;
    event.preventDefault();
    const [px, py] = fromCentre(event.clientX, event.clientY);
    zoomTo(scale * Math.exp(-event.deltaY / 300), px, py);
  }, { passive: false });

  // Pointers: one drags (when zoomed), two pinch.
  const pointers = new Map();
  let pinch = null;
  let dragged = false;
  area.addEventListener("pointerdown", (event) => {
    if (painting()) return;
    pointers.set(event.pointerId, [event.clientX, event.clientY]);
    dragged = false;
    if (pointers.size === 2) {
      const [a, b] = Array.from(pointers.values());
      pinch = { distance: Math.hypot(a[0] - b[0], a[1] - b[1]), scale };
    }
    if (scale > 1 || pointers.size === 2) {
      area.setPointerCapture(event.pointerId);
      event.preventDefault();
    }
  });
  area.addEventListener("pointermove", (event) => {
    const last = pointers.get(event.pointerId);
    if (!last || painting()) return;
    const now = [event.clientX, event.clientY];
    pointers.set(event.pointerId, now);
    if (pointers.size === 2 && pinch) {
      const [a, b] = Array.from(pointers.values());
      const distance = Math.hypot(a[0] - b[0], a[1] - b[1]);
      const [px, py] = fromCentre((a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      zoomTo(pinch.scale * (distance / pinch.distance), px, py);
      dragged = true;
    } else if (scale > 1) {
      x += now[0] - last[0];
      y += now[1] - last[1];
      if (Math.abs(now[0] - last[0]) + Math.abs(now[1] - last[1]) > 0) dragged = true;
      apply();
    }
  });
  function release(event) {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
  }
  area.addEventListener("pointerup", release);
  area.addEventListener("pointercancel", release);
  // A zoomed image is panned, not opened, by a click; a plain click still opens the original.
  if (link) link.addEventListener("click", (event) => {
    if (scale > 1 || dragged) event.preventDefault();
  });
  link && link.addEventListener("dragstart", (event) => event.preventDefault());

  // Keys: + and - zoom, 0 fits (not while typing).
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.key === "+" || event.key === "=") zoomTo(scale * STEP, 0, 0);
    else if (event.key === "-") zoomTo(scale / STEP, 0, 0);
    else if (event.key === "0") zoomTo(1, 0, 0);
  });
  apply();
})();
