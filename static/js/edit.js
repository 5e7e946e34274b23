// Edit from the image page: the "Edit" button opens the form; a mask is painted with the
// pointer on a canvas laid over the image (transparent where painted, as OpenAI's edits
// read a mask) and sent in the form's "mask" file field. No inline script: a strict CSP.
(function () {
  "use strict";
  const toggle = document.getElementById("edit-toggle");
  const form = document.getElementById("edit-panel");
  const area = document.getElementById("paint-area");
  if (!toggle || !form) return;

  const width = parseInt(form.dataset.width, 10);
  const height = parseInt(form.dataset.height, 10);
  const tools = document.getElementById("mask-tools");
  const status = document.getElementById("mask-status");
  const sizeInput = document.getElementById("brush-size");
  const eraseInput = document.getElementById("brush-erase");
  const clearButton = document.getElementById("mask-clear");
  const fileInput = form.querySelector('input[type="file"][name="mask"]');
  let canvas = null;
  let painted = false;

  function open(show) {
    form.hidden = !show;
    toggle.setAttribute("aria-expanded", show ? "true" : "false");
    if (canvas) canvas.hidden = !show;
    if (show) {
      setUpCanvas();
      const prompt = form.querySelector("textarea");
      if (prompt) prompt.focus({ preventScroll: true });
    }
  }

  toggle.addEventListener("click", function (event) {
    event.preventDefault();
    open(form.hidden);
  });

  function setUpCanvas() {
    if (canvas || !area || !(width > 0 && height > 0)) return;
    canvas = document.createElement("canvas");
    canvas.className = "mask-canvas";
    canvas.id = "mask-canvas";
    // The mask's own resolution is the image's; CSS scales it over the image as shown.
    canvas.width = width;
    canvas.height = height;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Mask: paint over the part of the image to change");
    area.appendChild(canvas);
    area.classList.add("painting");
    if (tools) tools.hidden = false;
    const context = canvas.getContext("2d");
    context.lineCap = "round";
    context.lineJoin = "round";
    let last = null;

    function point(event) {
      const box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) / box.width) * width,
        y: ((event.clientY - box.top) / box.height) * height,
        scale: width / box.width,
      };
    }

    function stroke(from, to) {
      context.globalCompositeOperation = eraseInput && eraseInput.checked ? "destination-out" : "source-over";
      context.strokeStyle = "#ff2d8a";
      context.fillStyle = "#ff2d8a";
      context.lineWidth = (parseInt(sizeInput ? sizeInput.value : "40", 10) || 40) * to.scale;
      context.beginPath();
      if (from) {
        context.moveTo(from.x, from.y);
        context.lineTo(to.x, to.y);
        context.stroke();
      } else {
        context.arc(to.x, to.y, context.lineWidth / 2, 0, Math.PI * 2);
        context.fill();
      }
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      last = point(event);
      stroke(null, last);
      markPainted();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!last) return;
      const next = point(event);
      stroke(last, next);
      last = next;
    });
    function end() { last = null; }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    if (clearButton) {
      clearButton.addEventListener("click", function () {
        context.clearRect(0, 0, width, height);
        painted = false;
        if (status) status.textContent = "Nothing painted: the whole image may change.";
      });
    }
  }

  function markPainted() {
    painted = true;
    if (status) status.textContent = "Painted: only the painted part will change.";
  }

  // The mask the endpoint reads: opaque everywhere, transparent where painted.
  function maskBlob() {
    const mask = document.createElement("canvas");
    mask.width = width;
    mask.height = height;
    const context = mask.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, width, height);
    context.globalCompositeOperation = "destination-out";
    context.drawImage(canvas, 0, 0);
    return new Promise(function (resolve) { mask.toBlob(resolve, "image/png"); });
  }

  form.addEventListener("submit", function (event) {
    if (!painted || !canvas || !fileInput || typeof DataTransfer === "undefined") return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    maskBlob().then(function (blob) {
      const files = new DataTransfer();
      files.items.add(new File([blob], "mask.png", { type: "image/png" }));
      fileInput.files = files.files;
      form.submit();
    });
  });

  if (!form.hidden) open(true);
})();
