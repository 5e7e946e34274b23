// Select many, act once: reads the tiles' .tile-check boxes; shift-click selects a range;
// "Select all" means every image of this listing, on every page (the form then sends the
// listing's filters, not ids). The toolbar's buttons submit the selection as a normal form.
(function () {
  "use strict";
  const form = document.getElementById("selection-bar");
  if (!form) return;
  const count = document.getElementById("selection-count");
  const actions = form.querySelector("[data-selection-actions]");
  const allField = form.querySelector("[data-selection-all]");
  const clearButton = form.querySelector('[data-select="none"]');
  const selectAllButton = form.querySelector('[data-select="all"]');
  const total = parseInt(form.dataset.total || "0", 10);
  // The server counts at most 1,000; past that it says so, and "Select all" still covers all.
  const totalMore = form.dataset.totalMore === "1";
  let allMode = false;
  let lastIndex = null;

  function boxes() {
    return Array.from(document.querySelectorAll(".tile-check"));
  }

  function checked() {
    return boxes().filter((box) => box.checked);
  }

  function plural(n) {
    return n.toLocaleString() + " image" + (n === 1 ? "" : "s");
  }

  function update() {
    const n = allMode ? total : checked().length;
    allField.value = allMode ? "1" : "";
    actions.hidden = n === 0;
    clearButton.hidden = n === 0;
    selectAllButton.hidden = allMode;
    document.body.classList.toggle("selecting", n > 0);
    for (const box of boxes()) {
      box.closest(".tile")?.classList.toggle("selected", box.checked);
    }
    if (allMode) {
      count.textContent = totalMore
        ? "All " + total.toLocaleString() + "+ images of this listing selected"
        : "All " + plural(total) + " of this listing selected";
    } else if (n) {
      count.textContent = plural(n) + " selected";
    } else {
      count.textContent = "Select images to act on them";
    }
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest && event.target.closest(".tile-check");
    if (!box) return;
    const list = boxes();
    const index = list.indexOf(box);
    if (event.shiftKey && lastIndex !== null && lastIndex < list.length) {
      const [from, to] = index < lastIndex ? [index, lastIndex] : [lastIndex, index];
      for (let i = from; i <= to; i++) list[i].checked = box.checked;
    }
    lastIndex = index;
    if (allMode && !box.checked) allMode = false; // back to exactly what is ticked
    update();
  });

  selectAllButton.addEventListener("click", () => {
    allMode = true;
    for (const box of boxes()) box.checked = true;
    update();
  });

  clearButton.addEventListener("click", () => {
    allMode = false;
    lastIndex = null;
    for (const box of boxes()) box.checked = false;
    update();
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && (allMode || checked().length) && !event.target.closest("input, textarea, select")) {
      clearButton.click();
    }
  });

  form.addEventListener("submit", () => {
    for (const old of form.querySelectorAll("input[data-selected-id]")) old.remove();
    if (allMode) return;
    for (const box of checked()) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "ids";
      input.value = box.value;
      input.dataset.selectedId = "";
      form.appendChild(input);
    }
  });

  // Tiles added live (new images) join the selection's list; nothing else to do.
  update();
})();
