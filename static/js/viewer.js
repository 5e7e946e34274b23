// The viewer: ArrowLeft / ArrowRight walk the listing the image was opened from, Escape goes
// back to it. The links carry the listing; the keys only follow them.
(function () {
  "use strict";
  const links = {};
  document.querySelectorAll("a[data-key]").forEach((a) => { links[a.dataset.key] = a; });
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const link = links[event.key];
    if (!link) return;
    event.preventDefault();
    window.location.assign(link.href);
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
