// "Cancel" and "Retry" on a generation, without leaving the page: the form is posted in the
// background and the answer (the generation's state) is shown where the button was; the live
// channel keeps it up to date from there. Without script the form posts and the server answers
// with a page.
(function () {
  "use strict";
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.inline-action");
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
      const entry = form.closest("[data-generation-id]");
      if (entry && state.html) {
        const template = document.createElement("template");
        template.innerHTML = state.html.trim();
        entry.replaceWith(template.content.firstElementChild);
      } else {
        form.hidden = true;
      }
      document.dispatchEvent(new CustomEvent("generation:changed", { detail: state }));
    } catch (err) {
      form.submit();  // let the server answer the plain way
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
