// Tiles by keyboard: each tile is one Tab stop (its link); its checkbox and star are keys away
// (Space selects, F stars, as on the image's page); the arrow keys move between tiles, Up and
// Down by rows as they are laid out, Home and End to the first and last. Without this script
// every control is a Tab stop of its own.
(function () {
  "use strict";
  const SELECTOR = "li.tile";

  function quiet(root) {
    for (const control of root.querySelectorAll(".tile .tile-check, .tile .fav-toggle")) {
      control.tabIndex = -1;
    }
  }
  quiet(document);
  // Tiles added later (more as you scroll, live ones) are made quiet as they come.
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === 1) quiet(node);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });

  function tilesOf(tile) {
    // The tiles of one listing: the nearest container that holds every tile of the page.
    const scope = tile.closest("#listing, .tiles-scope, main") || document;
    return Array.from(scope.querySelectorAll(SELECTOR)).filter((t) => t.offsetParent !== null);
  }

  function focusTile(tile) {
    const link = tile && tile.querySelector(".tile-link");
    if (!link) return;
    link.focus();
    link.scrollIntoView({ block: "nearest" });
  }

  // The tile in the next (or previous) row nearest to this one's middle.
  function rowNeighbour(tiles, tile, down) {
    const box = tile.getBoundingClientRect();
    const middle = box.left + box.width / 2;
    let best = null;
    let bestScore = Infinity;
    for (const other of tiles) {
      const b = other.getBoundingClientRect();
      const below = down ? b.top >= box.bottom - 2 : b.bottom <= box.top + 2;
      if (!below) continue;
      const rowGap = down ? b.top - box.bottom : box.top - b.bottom;
      const score = rowGap * 1000 + Math.abs(b.left + b.width / 2 - middle);
      if (score < bestScore) { bestScore = score; best = other; }
    }
    return best;
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const link = event.target.closest && event.target.closest(".tile-link");
    if (!link) return;
    const tile = link.closest(SELECTOR);
    if (!tile) return;
    const tiles = tilesOf(tile);
    const at = tiles.indexOf(tile);
    let target = null;
    switch (event.key) {
      case "ArrowRight": target = tiles[at + 1]; break;
      case "ArrowLeft": target = tiles[at - 1]; break;
      case "ArrowDown": target = rowNeighbour(tiles, tile, true); break;
      case "ArrowUp": target = rowNeighbour(tiles, tile, false); break;
      case "Home": target = tiles[0]; break;
      case "End": target = tiles[tiles.length - 1]; break;
      case " ": {
        const check = tile.querySelector(".tile-check");
        if (!check) return;
        event.preventDefault();
        check.click();  // as a click, so that the selection bar hears it
        return;
      }
      case "f": case "F": {
        const star = tile.querySelector(".fav-toggle");
        if (!star) return;
        event.preventDefault();
        event.stopPropagation();
        star.click();
        return;
      }
      default: return;
    }
    event.preventDefault();
    if (target) focusTile(target);
  });
})();
