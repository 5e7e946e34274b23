// "Cancel" on a queued or running generation, without leaving the page: the form is posted
// in the background; the page's live channel (or the answer itself) shows "Cancelled".
// Without script the form posts and comes back to the same page.
(function () {
  "use strict";
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.cancel-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const state = await response.json();
      form.hidden = true;
      const entry = form.closest("[data-generation-id]");
      if (entry) {
        const label = entry.querySelector(".status");
        if (label) {
          label.textContent = state.status_label;
          label.className = "status status-" + state.status;
        }
      }
      document.dispatchEvent(new CustomEvent("generation:cancelled", { detail: state }));
    } catch (err) {
      form.submit();  // let the server answer the plain way
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
