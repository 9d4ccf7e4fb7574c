// RENEW and X on a tile without a page jump: post the form, then swap in the tile,
// the messages and the Complete Recertification line from the page the server answers with.
(function () {
  "use strict";
  const swap = (doc, selector) => {
    const fresh = doc.querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) current.replaceWith(fresh);
    return fresh;
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.js-tile-action");
    if (!form) return;
    event.preventDefault();
    const tile = form.closest("section.tile");
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"});
      if (!response.ok) throw new Error(String(response.status));
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const freshTile = swap(doc, "#" + tile.id);
      swap(doc, "#complete-recertification");
      // The live region stays in place and only its content changes, so screen readers announce it.
      const fresh = doc.querySelector("#main > .messages");
      const live = document.querySelector("#main > .messages");
      if (fresh && live) live.innerHTML = fresh.innerHTML;
      const next = freshTile && freshTile.querySelector(".tile-actions button");
      if (next) next.focus();
    } catch (err) {
      form.submit();  // fall back to the plain form post
    }
  });
})();
