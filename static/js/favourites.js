// Favourites: the star on tiles and the "Favourite" toggle on an image flip without a reload;
// on an image's page the F key toggles it. Without this script the forms still work.
(function () {
  "use strict";
  if (window.__novisurfFavourites) return; // included by several parts of a page
  window.__novisurfFavourites = true;

  function setPressed(form, favourite) {
    const button = form.querySelector(".fav-toggle");
    const field = form.querySelector('input[name="favourite"]');
    if (button) button.setAttribute("aria-pressed", favourite ? "true" : "false");
    if (field) field.value = favourite ? "off" : "on";
    form.closest(".tile")?.classList.toggle("is-favourite", favourite);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches || !form.matches("form.tile-fav, form.fav-form")) return;
    event.preventDefault();
    const button = form.querySelector(".fav-toggle");
    const wanted = button ? button.getAttribute("aria-pressed") !== "true" : null;
    const body = new FormData(form); // before the flip below changes the field
    if (wanted !== null) setPressed(form, wanted); // at once; corrected if the server disagrees
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const data = await answer.json();
      setPressed(form, data.favourite);
    } catch (error) {
      if (wanted !== null) setPressed(form, !wanted);
      form.submit(); // let the plain form say what went wrong
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "f" && event.key !== "F") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    const forms = document.querySelectorAll("form.fav-form");
    if (forms.length !== 1) return; // only where one image is shown
    event.preventDefault();
    forms[0].requestSubmit();
  });
})();
