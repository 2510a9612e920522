// CardiacLGE at the scanner: plain JavaScript, no libraries. The photo stays in this page (and in the
// server's memory while it is analysed); it is sent again when TIs are corrected.
"use strict";
const token = new URLSearchParams(window.location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
let lastFile = null;

function mode() { return document.querySelector("input[name=mode]:checked").value; }

function showMode() {
  const single = mode() === "single-frame";
  $("single-options").hidden = !single;
  $("mosaic-options").hidden = single;
  $("photo-label").textContent = single
    ? "Take a photo of one frame (the frame filling the picture)"
    : "Take a photo of the whole mosaic (every tile and its border, straight on)";
}

function setError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function value(id) { const v = $(id).value.trim(); return v === "" ? null : v; }

async function analyse(tis) {
  setError("");
  const file = $("photo").files[0] || lastFile;
  if (!file) { setError("Take or choose a photo first."); return; }
  lastFile = file;
  const params = new URLSearchParams();
  const single = mode() === "single-frame";
  if (single) {
    if (value("frame-ti") === null) { setError("Enter the TI of this frame (ms)."); return; }
    params.set("ti_ms", value("frame-ti"));
  } else {
    if (tis) params.set("ti_ms", tis.join(" "));
    for (const [id, key] of [["first-ti", "first_ti_ms"], ["spacing", "spacing_ms"], ["fov", "field_of_view_mm"]]) {
      if (value(id) !== null) params.set(key, value(id));
    }
  }
  if (value("chosen-ti") !== null) params.set("chosen_ti_ms", value("chosen-ti"));
  $("analyse").disabled = true; $("reanalyse").disabled = true;
  $("status").textContent = "Analysing…";
  const started = performance.now();
  try {
    const response = await fetch(`/api/${single ? "single-frame" : "mosaic"}?${params}`, {
      method: "POST", body: file,
      headers: { "Content-Type": file.type || "application/octet-stream", "X-Access-Token": token },
    });
    let body;
    try { body = await response.json(); } catch (e) { body = { error: `The server answered ${response.status}.` }; }
    if (!response.ok) {
      $("status").textContent = "";
      setError(body.error || `The server answered ${response.status}.`);
      if (body.needs_tis) { showTiTable(body.tiles.map(() => ({ ti_ms: null, ti_source: "" }))); $("result").hidden = false; $("mosaic-options").open = true; }
      return;
    }
    $("status").textContent = `Answer in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    show(body);
  } catch (e) {
    $("status").textContent = "";
    setError("The server cannot be reached: is cardiac-lge serve still running, and is the phone on the same network?");
  } finally {
    $("analyse").disabled = false; $("reanalyse").disabled = false;
  }
}

function show(body) {
  const d = body.display;
  $("result").hidden = false;
  $("null-ti").textContent = d.null_ti;
  $("recommended-ti").textContent = d.recommended_ti;
  $("verdict").textContent = d.verdict;
  $("verdict").className = d.verdict_class || "";
  $("detail").textContent = d.detail || "";
  $("annotated").src = `data:image/jpeg;base64,${body.annotated_jpeg_base64}`;
  const list = $("warnings");
  list.replaceChildren(...(body.result.warnings.length ? body.result.warnings : ["none"]).map((w) => {
    const item = document.createElement("li"); item.textContent = w; return item;
  }));
  if (body.result.mode === "mosaic") showTiTable(body.result.mosaic.tiles); else $("tis").hidden = true;
}

function showTiTable(tiles) {
  const table = $("ti-table");
  table.replaceChildren(...tiles.map((tile, index) => {
    const label = document.createElement("label");
    label.textContent = `tile ${index + 1}`;
    const input = document.createElement("input");
    input.type = "number"; input.inputMode = "decimal"; input.step = "any"; input.className = "ti-input";
    input.value = tile.ti_ms === null ? "" : Math.round(tile.ti_ms);
    if (tile.ti_source === "estimated" || tile.ti_source === "spacing") input.classList.add("estimated");
    label.appendChild(input);
    return label;
  }));
  $("tis").hidden = false;
}

document.querySelectorAll("input[name=mode]").forEach((radio) => radio.addEventListener("change", showMode));
$("form").addEventListener("submit", (event) => { event.preventDefault(); analyse(null); });
$("photo").addEventListener("change", () => { lastFile = $("photo").files[0] || lastFile; });
$("reanalyse").addEventListener("click", () => {
  const tis = [...document.querySelectorAll(".ti-input")].map((input) => input.value.trim());
  if (tis.some((t) => t === "")) { setError("Enter a TI for every tile (or the first TI and the spacing)."); return; }
  analyse(tis);
});
showMode();
