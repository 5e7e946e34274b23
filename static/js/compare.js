// "Compare" in the selection bar: offered when exactly two images are selected; opens them side
// by side (with the listing to come back to).
(function () {
  "use strict";
  const button = document.querySelector("[data-compare]");
  if (!button) return;
  function selected() {
    return Array.from(document.querySelectorAll(".tile-check:checked")).map((box) => box.value);
  }
  function update() {
    button.hidden = selected().length !== 2;
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches(".tile-check")) update();
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest(".tile-check, [data-select]")) setTimeout(update, 0);
  });
  button.addEventListener("click", () => {
    const [a, b] = selected();
    if (!a || !b) return;
    const url = new URL(button.dataset.compareUrl, location.href);
    url.searchParams.set("a", a);
    url.searchParams.set("b", b);
    url.searchParams.set("back", location.pathname + location.search);
    location.assign(url.href);
  });
  update();
})();
