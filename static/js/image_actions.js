// An image's page: "Copy prompt", "Copy as API call" (shows the curl and Python calls too).
(function () {
  "use strict";

  async function copy(text, button) {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (error) {
      button.textContent = "Select and copy it below";
    }
    setTimeout(() => { button.textContent = label; }, 1600);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-copy], [data-copy-target]");
    if (!button) return;
    const panelId = button.getAttribute("aria-controls");
    if (panelId) {
      const panel = document.getElementById(panelId);
      if (panel) {
        panel.hidden = false;
        button.setAttribute("aria-expanded", "true");
      }
    }
    if (button.hasAttribute("data-copy")) {
      copy(button.getAttribute("data-copy"), button);
    } else {
      const source = document.getElementById(button.getAttribute("data-copy-target"));
      if (source) copy(source.textContent, button);
    }
  });
})();
