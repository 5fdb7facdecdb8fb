// mediarec dashboard: seeking the player, profile edits, deleting a user and starting a tune.
// No framework and no inline code (the Content-Security-Policy forbids it). Text from the server is
// only ever set with textContent, never parsed as HTML.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  const player = document.getElementById("player");

  function seek(seconds, play) {
    if (!player || !Number.isFinite(seconds)) return;
    const apply = function () {
      player.currentTime = Math.max(0, seconds);
      if (play) player.play().catch(function () { /* autoplay refused: the position is still set */ });
    };
    if (player.readyState >= 1) apply();
    else player.addEventListener("loadedmetadata", apply, { once: true });
  }

  document.addEventListener("click", function (ev) {
    const target = ev.target instanceof Element ? ev.target.closest("[data-seek]") : null;
    if (!target) return;
    ev.preventDefault();
    seek(parseFloat(target.getAttribute("data-seek")), true);
    if (player) player.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });

  if (player) {
    const start = player.getAttribute("data-start-at");
    if (start !== null) seek(parseFloat(start), true);
    // Mark the transcript line being spoken.
    const lines = Array.from(document.querySelectorAll("#transcript [data-seek]"));
    const starts = lines.map(function (el) { return parseFloat(el.getAttribute("data-seek")); });
    let current = -1;
    player.addEventListener("timeupdate", function () {
      let i = -1;
      for (let k = 0; k < starts.length; k++) if (starts[k] <= player.currentTime + 0.05) i = k;
      if (i === current) return;
      if (current >= 0) lines[current].classList.remove("current");
      if (i >= 0) lines[i].classList.add("current");
      current = i;
    });
  }

  const status = document.getElementById("status");
  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }

  const profile = document.getElementById("profile");
  const form = document.getElementById("profile-form");
  if (profile && form) {
    const user = profile.getAttribute("data-user");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const add = form.elements.namedItem("add_tags").value.split(",")
        .map(function (t) { return t.trim(); }).filter(Boolean);
      const remove = Array.from(form.querySelectorAll('input[name="remove_tags"]:checked'))
        .map(function (el) { return el.value; });
      say("Saving…");
      try {
        await post("/ui/api/profile", {
          user: user, text: form.elements.namedItem("text").value, add_tags: add, remove_tags: remove,
        });
        window.location.reload();
      } catch (err) { say("Not saved: " + err.message, true); }
    });
    const regen = document.getElementById("profile-regenerate");
    if (regen) regen.addEventListener("click", async function () {
      regen.disabled = true;
      say("Generating a new profile from the history (the local LLM can take a minute)…");
      try {
        await post("/ui/api/profile/regenerate", { user: user });
        window.location.reload();
      } catch (err) { say("Not regenerated: " + err.message, true); regen.disabled = false; }
    });
  }

  const tune = document.getElementById("tune-start");
  if (tune) tune.addEventListener("click", async function () {
    tune.disabled = true;
    say("Tuning…");
    try {
      await post("/ui/api/tune", {});
      say("Tuning started: it searches for up to 10 minutes; reload this page afterwards for the result.");
    } catch (err) { say("Not started: " + err.message, true); tune.disabled = false; }
  });

  const openDelete = document.getElementById("delete-open");
  const dialog = document.getElementById("delete-dialog");
  if (openDelete && dialog && profile) {
    const user = profile.getAttribute("data-user");
    openDelete.addEventListener("click", function () { dialog.showModal(); });
    dialog.addEventListener("close", async function () {
      if (dialog.returnValue !== "confirm") return;
      say("Deleting…");
      try {
        const done = await post("/ui/api/delete-user", { user: user });
        say("Deleted: " + done.events_deleted + " events, " + done.models_scrubbed + " models updated.");
        window.setTimeout(function () { window.location.reload(); }, 800);
      } catch (err) { say("Not deleted: " + err.message, true); }
    });
  }
})();
