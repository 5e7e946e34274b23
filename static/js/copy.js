// "Copy" beside a text shown once (a new API key): copies it, says so, and selects it where
// the clipboard is refused, so that Ctrl+C still works. The button keeps its name.
(function () {
  "use strict";
  for (const button of document.querySelectorAll("button.copy-button[data-copy-target]")) {
    const source = document.getElementById(button.dataset.copyTarget);
    const note = button.parentElement.querySelector(".copy-note");
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        if (note) note.textContent = "Copied to the clipboard.";
      } catch (error) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        if (note) note.textContent = "Selected: press Ctrl+C (⌘C) to copy it.";
      }
    });
  }
})();
