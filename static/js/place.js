// Your place in a listing is kept: where you were (how many tiles were loaded, which tile was at
// the top of the screen) is remembered when you leave the page or act on a selection, and given
// back when you come back with Back, or when the action's page reloads the same listing: the
// pages you had loaded are loaded again and the same tile comes back to the same height.
(function () {
  "use strict";
  const listing = document.getElementById("listing");
  if (!listing || !window.sessionStorage) return;
  const KEY = "novisurf.place:" + location.pathname + location.search;
  const FRESH_MS = 10 * 60 * 1000;
  const MAX_PAGES = 40;

  function tiles() {
    return Array.from(listing.querySelectorAll("li.tile"));
  }

  function topOffset() {
    const bar = document.querySelector(".topbar");
    return bar ? bar.getBoundingClientRect().bottom : 0;
  }

  function save(restore) {
    const all = tiles();
    const top = topOffset();
    const at = all.findIndex((tile) => tile.getBoundingClientRect().bottom > top);
    const state = {
      count: all.length,
      // The tile at the top of the screen and a few after it, in case it is gone when we are
      // back (trashed by the action that reloaded the page).
      anchors: at < 0 ? [] : all.slice(at, at + 24).map((tile) => tile.id),
      offset: at < 0 ? 0 : all[at].getBoundingClientRect().top,
      scrollY: window.scrollY,
      restore: Boolean(restore),
      t: Date.now(),
    };
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* full: no matter */ }
  }

  function load() {
    try {
      const state = JSON.parse(sessionStorage.getItem(KEY) || "null");
      return state && Date.now() - state.t < FRESH_MS ? state : null;
    } catch (e) {
      return null;
    }
  }

  function cameBack() {
    const entry = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    return Boolean(entry && entry.type === "back_forward");
  }

  async function restore(state) {
    const found = () => state.anchors.map((id) => document.getElementById(id)).find(Boolean);
    let pages = 0;
    while (!found() && tiles().length < state.count && pages < MAX_PAGES && window.novisurfLoadMore) {
      pages += 1;
      const more = await window.novisurfLoadMore();
      if (!more) break;
    }
    const anchor = found();
    if (anchor) {
      const target = () => anchor.getBoundingClientRect().top + window.scrollY - state.offset;
      // The page must reach far enough below the tile to be scrolled there (else the browser
      // stops short): go on loading while it does not.
      const room = () => document.documentElement.scrollHeight - window.innerHeight;
      while (room() < target() && pages < MAX_PAGES && window.novisurfLoadMore) {
        pages += 1;
        if (!(await window.novisurfLoadMore())) break;
      }
      window.scrollTo(0, target());
    } else {
      window.scrollTo(0, state.scrollY);
    }
  }

  const state = load();
  if (state && (state.restore || cameBack())) {
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    sessionStorage.removeItem(KEY);
    // Once the page's own scripts are ready (the loader of more pages is one of them).
    window.addEventListener("load", () => { restore(state); }, { once: true });
  }

  // A bulk action reloads this listing: come back to the same place in it.
  let acting = false;
  document.addEventListener("submit", (event) => {
    if (event.target.id === "selection-bar") acting = true;
  }, true);
  window.addEventListener("pagehide", () => save(acting));
  window.addEventListener("pageshow", (event) => { if (event.persisted) acting = false; });
})();
