// The viewer: ArrowLeft / ArrowRight walk the listing the image was opened from, Escape goes
// back to it (at this image), Delete moves the image to the trash and shows the next one. The
// links carry the listing; the keys only follow them. Walking replaces the history entry, so
// that the browser's Back returns to the listing (and one's place in it, see place.js) however
// many images were walked through.
(function () {
  "use strict";
  const links = {};
  document.querySelectorAll("a[data-key]").forEach((a) => { links[a.dataset.key] = a; });
  const trashForm = document.getElementById("viewer-trash");
  const WALKS = ["ArrowLeft", "ArrowRight"];

  for (const key of WALKS) {
    const link = links[key];
    if (!link) continue;
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      location.replace(link.href);
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.key === "Delete" && trashForm) {
      event.preventDefault();
      trashForm.requestSubmit();
      return;
    }
    const link = links[event.key];
    if (!link) return;
    event.preventDefault();
    if (WALKS.includes(event.key)) location.replace(link.href);
    else location.assign(link.href);
  });
  // Keep the next image warm, so that walking feels instant.
  const next = links.ArrowRight;
  if (next) {
    const hint = document.createElement("link");
    hint.rel = "prefetch";
    hint.href = next.href;
    document.head.appendChild(hint);
  }
})();
