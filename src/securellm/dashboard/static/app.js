// Progressive behaviour for the dashboard; every page works without it.
// - [data-refresh="URL"][data-interval="5"]: replace the element's content with the HTML
//   fragment at URL every few seconds (paused while the tab is hidden).
// - [data-copy="#id"]: copy the text of #id to the clipboard.
// - fetch() calls made here send the session's CSRF token as X-CSRF-Token.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  function refresh(el) {
    const url = el.dataset.refresh;
    const seconds = Math.max(1, Number(el.dataset.interval || 5));
    async function tick() {
      if (!document.hidden) {
        try {
          const reply = await fetch(url, { headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
          if (reply.status === 401) { window.location.assign("/ui/login"); return; }
          if (reply.ok) { el.innerHTML = await reply.text(); }
        } catch (err) { /* the next tick tries again */ }
      }
      window.setTimeout(tick, seconds * 1000);
    }
    window.setTimeout(tick, seconds * 1000);
  }

  function copy(button) {
    button.addEventListener("click", async function () {
      const target = document.querySelector(button.dataset.copy);
      if (!target) { return; }
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = "Copied";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.querySelectorAll("[data-copy]").forEach(copy);
  });
})();
