// Generate without leaving the gallery: the form is sent in the background, the new generation
// joins the recent ones at the top (its images fill in there and in the listing as they are
// stored, through the live channel), and the prompt stays for a variation or the next prompt.
// A form the server refuses (a missing prompt, a limit) is sent the plain way, so that the page
// comes back with its errors beside the fields; so is everything without script.
(function () {
  "use strict";
  const form = document.getElementById("generation-form");
  const recentList = document.getElementById("recent-list");
  if (!form || !recentList || !window.fetch) return;
  const note = document.getElementById("generate-note");
  const prompt = form.querySelector("[name=prompt]");

  function place(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const item = template.content.firstElementChild;
    const existing = recentList.querySelector('[data-generation-id="' + item.dataset.generationId + '"]');
    if (existing) existing.replaceWith(item);
    else recentList.prepend(item);
    while (recentList.children.length > 12) recentList.lastElementChild.remove();
    recentList.closest("section").hidden = false;
    recentList.scrollLeft = 0;
  }

  form.addEventListener("submit", async (event) => {
    if (event.defaultPrevented) return;
    event.preventDefault();
    const body = new FormData(form);
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (err) {
      form.submit();
      return;
    }
    if (response.status !== 201) {
      form.submit();  // the server says what is wrong, beside the fields
      return;
    }
    const state = await response.json();
    place(state.html);
    if (note) {
      const text = (prompt ? prompt.value : "").trim();
      note.textContent = "Queued: “" + (text.length > 60 ? text.slice(0, 59) + "…" : text) +
        "”. Change the prompt and press Generate again to queue another.";
    }
    if (prompt) prompt.focus();
  });
})();
