// The gallery: more images as you scroll (the "Older" link's page, fetched as tiles), and new
// images as they are stored (server-sent events carrying server-rendered tiles). Boards and the
// trash use the first part only: they name no events URL.
(function () {
  "use strict";
  const gallery = document.getElementById("gallery");
  const listing = document.getElementById("listing");
  if (!gallery || !listing) return;

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  function lastSection() {
    const sections = listing.querySelectorAll("section.day");
    return sections.length ? sections[sections.length - 1] : null;
  }

  // -- more as you scroll ----------------------------------------------------------------------
  let loading = null;  // the page being fetched: a second caller waits for it, not past it
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) loadMore();
      }, { rootMargin: "800px 0px" })
    : null;

  function moreLink() {
    return document.querySelector("#pagination a[data-more]");
  }

  function loadMore() {
    if (!loading) loading = fetchMore().finally(() => { loading = null; });
    return loading;
  }

  async function fetchMore() {
    const link = moreLink();
    if (!link) return;
    const url = new URL(link.href, window.location.href);
    url.searchParams.set("fragment", "tiles");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const content = parse(await response.text());
      // A plain grid (a board, the trash): its tiles go on in the one list.
      const grid = listing.querySelector("ul.tiles");
      if (grid && !listing.querySelector("section.day")) {
        grid.append(...Array.from(content.querySelectorAll("li.tile")).filter(
          (tile) => !document.getElementById(tile.id)));
      }
      for (const section of Array.from(content.querySelectorAll("section.day"))) {
        const tiles = Array.from(section.querySelectorAll("li.tile")).filter(
          (tile) => !document.getElementById(tile.id));
        const last = lastSection();
        if (last && last.dataset.day === section.dataset.day) {
          last.querySelector("ul.tiles").append(...tiles);  // the same day goes on
        } else {
          section.querySelector("ul.tiles").replaceChildren(...tiles);
          listing.appendChild(section);
        }
      }
      const next = content.querySelector("#pagination a[data-more]");
      if (next) {
        link.href = next.getAttribute("href");
      } else {
        link.remove();
      }
    } catch (err) {
      observer && observer.unobserve(link);  // leave the plain link to the person
      return;
    }
    // Still in view (a tall screen): keep going.
    const again = moreLink();
    if (again && observer) {
      observer.unobserve(again);
      observer.observe(again);
    }
  }
  if (observer && moreLink()) observer.observe(moreLink());
  // For the script that puts a person back where they were (place.js): load the next page.
  window.novisurfLoadMore = async () => { await loadMore(); return Boolean(moreLink()); };

  // -- live ------------------------------------------------------------------------------------
  if (!window.EventSource || !gallery.dataset.eventsUrl) return;
  const atHead = gallery.dataset.live === "head";
  const recentList = document.getElementById("recent-list");

  function today() {
    const now = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate());
  }

  function sectionFor(day) {
    const first = listing.querySelector("section.day");
    if (first && first.dataset.day === day) return first;
    const section = document.createElement("section");
    section.className = "day";
    section.dataset.day = day;
    const id = "day-" + day.replaceAll("-", "");
    section.setAttribute("aria-labelledby", id);
    const heading = document.createElement("h2");
    heading.className = "day-heading";
    heading.id = id;
    const time = document.createElement("time");
    time.dateTime = day;
    time.textContent = day === today() ? "Today" : day;
    heading.appendChild(time);
    const list = document.createElement("ul");
    list.className = "tiles";
    section.append(heading, list);
    listing.prepend(section);
    return section;
  }

  // The live channel, reopened when the page comes back from the back/forward cache (it is
  // closed when the page is left), from the last event it saw.
  let source = null;
  let lastEventId = "";
  function connect() {
    let url = gallery.dataset.eventsUrl;
    if (lastEventId) url = url.replace(/([?&])since=\d*/, "$1since=" + lastEventId);
    source = new EventSource(url);
    listen(source);
  }
  function listen(source) {
    source.addEventListener("tile", (event) => {
      const data = JSON.parse(event.data);
      const existing = document.getElementById("tile-" + data.id);
      const tile = parse(data.html).firstElementChild;
      if (existing) {
        if (data.replace && !existing.contains(document.activeElement)) existing.replaceWith(tile);
        return;
      }
      if (data.replace || !atHead) return;
      tile.classList.add("new");
      sectionFor(data.day).querySelector("ul.tiles").prepend(tile);
      const empty = document.getElementById("empty");
      if (empty) empty.hidden = true;
    });
    source.addEventListener("remove", (event) => {
      const data = JSON.parse(event.data);
      const tile = document.getElementById("tile-" + data.id);
      if (!tile) return;
      const section = tile.closest("section.day");
      tile.remove();
      if (section && !section.querySelector("li.tile")) section.remove();
    });
    source.addEventListener("recent", (event) => {
      if (!recentList) return;
      const data = JSON.parse(event.data);
      const item = parse(data.html).firstElementChild;
      const existing = recentList.querySelector('[data-generation-id="' + data.id + '"]');
      if (existing) {
        existing.replaceWith(item);
      } else {
        recentList.prepend(item);
        while (recentList.children.length > 12) recentList.lastElementChild.remove();
      }
      recentList.closest("section").hidden = false;
    });
    for (const name of ["tile", "remove", "recent"]) {
      source.addEventListener(name, (event) => { if (event.lastEventId) lastEventId = event.lastEventId; });
    }
  }
  connect();
  window.addEventListener("pagehide", () => { if (source) source.close(); });
  window.addEventListener("pageshow", (event) => { if (event.persisted) connect(); });
})();
