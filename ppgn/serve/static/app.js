// ppgn serve: the page. It sends a task's fields to /api/jobs and follows the job's events
// (Server-Sent Events): queued, started, frame (a picture of the chains and p(y | x) per step),
// then done (the grid, the command that reproduces it, the files), stopped or error.
"use strict";

const $ = (id) => document.getElementById(id);
const TABS = { ppgn: ["sample", "inpaint"], cinn: ["sample", "transfer"], colorizer: ["colorize"] };
const state = { config: null, models: {}, tab: "sample", job: null, source: null, p: [], steps: 0,
                images: {}, inpaint: { image: null, mask: null } };

async function getJSON(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = { error: `the server answered ${response.status} without JSON` }; }
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function showMessage(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text; select.appendChild(o);
}

// --- Models and tabs ------------------------------------------------------------------------

function model() { return state.models[$("model").value]; }

function fillClasses() {
  const m = model();
  for (const select of document.querySelectorAll("select.classes")) {
    select.innerHTML = "";
    if (select.dataset.blank) option(select, "", select.dataset.blank);
    if (select.dataset.all) option(select, "all", select.dataset.all);
    (m.classes || []).forEach((name, i) => option(select, name, `${i} ${name}`));
  }
  // A class to sample by default, none to avoid.
  if ($("class").options.length > 2) $("class").selectedIndex = 2;
  if ($("cinn_class").options.length > 1) $("cinn_class").selectedIndex = 1;
}

async function fillLayers() {
  const select = $("unit_layer");
  select.innerHTML = "";
  if (model().kind !== "ppgn") return;
  try {
    const layers = await getJSON(`/api/layers?model=${encodeURIComponent(model().name)}`);
    for (const [layer, units] of Object.entries(layers)) option(select, layer, `${layer} (${units} units)`);
  } catch (e) { option(select, "", "(no layers: " + e.message + ")"); }
}

function pickModel() {
  const m = model();
  $("kind").textContent = `${m.kind} · ${m.image_shape.join("×")}${m.dataset ? " · " + m.dataset : ""}`;
  fillClasses();
  fillLayers();
  for (const el of document.querySelectorAll(".ppgn-only")) el.hidden = m.kind !== "ppgn";
  for (const el of document.querySelectorAll(".cinn-only")) el.hidden = m.kind !== "cinn";
  const allowed = TABS[m.kind] || [];
  for (const button of document.querySelectorAll(".tab")) button.disabled = !allowed.includes(button.dataset.tab);
  showTab(allowed.includes(state.tab) ? state.tab : allowed[0]);
  if (m.kind === "ppgn" && state.images.inpaint) loadInpaintImage(state.images.inpaint);  // at this model's size
}

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tab")) button.classList.toggle("active", button.dataset.tab === tab);
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.dataset.task !== tab;
  showMessage("");
}

function showPreset() {
  const p = state.config.presets[$("preset").value];
  $("preset").title = p.description;
  $("steps").placeholder = p.steps; $("eps1").placeholder = p.eps1; $("eps2").placeholder = p.eps2; $("eps3").placeholder = p.eps3;
}

function showMode() {
  const unit = document.querySelector("input[name=mode]:checked").value === "unit";
  document.querySelector(".mode-class").hidden = unit;
  document.querySelector(".mode-unit").hidden = !unit;
}

// --- Pictures from files ----------------------------------------------------------------------

function readFile(input, key, then) {
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => { state.images[key] = reader.result; if (then) then(reader.result); };
    reader.readAsDataURL(file);
  });
}

// Inpainting: the picture at the model's size, and a mask of the same size (white = the hole)
// painted with the mouse; the canvas shows both, the hole in red.
function inpaintSize() { return model().image_shape[1]; }

function loadInpaintImage(url) {
  const picture = new Image();
  picture.onload = () => {
    const size = inpaintSize();
    const image = document.createElement("canvas");
    image.width = image.height = size;
    image.getContext("2d").drawImage(picture, 0, 0, size, size);
    state.inpaint.image = image;
    clearHole();
  };
  picture.src = url;
}

function clearHole() {
  const size = inpaintSize();
  const mask = document.createElement("canvas");
  mask.width = mask.height = size;
  const g = mask.getContext("2d");
  g.fillStyle = "#000"; g.fillRect(0, 0, size, size);
  state.inpaint.mask = mask;
  state.inpaint.holes = 0;
  drawInpaint();
}

function drawInpaint() {
  const canvas = $("inpaint_canvas"), g = canvas.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.inpaint.image) { g.fillStyle = "#777"; g.fillText("choose an image above", 80, 140); return; }
  g.drawImage(state.inpaint.image, 0, 0, canvas.width, canvas.height);
  const size = inpaintSize(), cell = canvas.width / size;
  const pixels = state.inpaint.mask.getContext("2d").getImageData(0, 0, size, size).data;
  g.fillStyle = "rgba(220, 30, 30, 0.6)";
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (pixels[4 * (y * size + x)] > 127) g.fillRect(x * cell, y * cell, cell, cell);
}

function paintHole(event) {
  if (!state.inpaint.image) return;
  const canvas = $("inpaint_canvas"), box = canvas.getBoundingClientRect(), size = inpaintSize();
  const brush = Number($("brush").value);
  const x = Math.floor(((event.clientX - box.left) / box.width) * size - brush / 2);
  const y = Math.floor(((event.clientY - box.top) / box.height) * size - brush / 2);
  const g = state.inpaint.mask.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(x, y, brush, brush);
  state.inpaint.holes += 1;
  drawInpaint();
}

function setupInpaint() {
  const canvas = $("inpaint_canvas");
  let drawing = false;
  canvas.addEventListener("pointerdown", (e) => { drawing = true; paintHole(e); });
  canvas.addEventListener("pointermove", (e) => { if (drawing) paintHole(e); });
  window.addEventListener("pointerup", () => { drawing = false; });
  $("clear_hole").addEventListener("click", clearHole);
  readFile($("inpaint_file"), "inpaint", loadInpaintImage);
  drawInpaint();
}

// --- Fields of each task ---------------------------------------------------------------------

function value(id) { return $(id).value.trim(); }

function fields() {
  const m = model(), f = { task: state.tab, model: m.name };
  if (state.tab === "sample") {
    f.num = value("num"); f.seed = value("seed");
    if (m.kind === "cinn") { f.class = value("cinn_class"); f.temperature = value("temperature"); return f; }
    for (const id of ["preset", "steps", "eps1", "eps2", "eps3", "init"]) f[id] = value(id);
    if (document.querySelector("input[name=mode]:checked").value === "unit") {
      f.unit = `${value("unit_layer")}:${value("unit_index")}`;
      for (const id of ["eps1", "eps2", "eps3", "init"]) delete f[id];
      return f;
    }
    for (const id of ["class", "not_class", "caption", "caption_weight"]) f[id] = value(id);
    if (state.config.allow_code) for (const id of ["module", "weights", "target"]) f[id] = value(id);
    return f;
  }
  if (state.tab === "inpaint") {
    if (!state.inpaint.image) throw new Error("choose an image to inpaint");
    if (!state.inpaint.holes) throw new Error("draw the hole with the mouse on the image");
    Object.assign(f, { image: state.images.inpaint, mask: state.inpaint.mask.toDataURL("image/png"), class: value("inpaint_class"),
                       num: value("inpaint_num"), seed: value("inpaint_seed"), steps: value("inpaint_steps"), eps4: value("eps4") });
    return f;
  }
  if (state.tab === "colorize") {
    if (!state.images.colorize) throw new Error("choose a grey image to colourise");
    Object.assign(f, { image: state.images.colorize, num: value("colorize_num"), seed: value("colorize_seed"),
                       temperature: value("colorize_temperature") });
    return f;
  }
  if (!state.images.transfer) throw new Error("choose a picture of a digit");
  Object.assign(f, { image: state.images.transfer, from: value("transfer_from") });
  return f;
}

// --- Running a job and following it ----------------------------------------------------------

async function run() {
  showMessage("");
  let f;
  try { f = fields(); } catch (e) { showMessage(e.message); return; }
  if (state.source) state.source.close();
  $("run").disabled = true;
  try {
    const job = await getJSON("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(f) });
    follow(job.id);
  } catch (e) {
    showMessage(e.message);
    $("run").disabled = false;
  }
}

function follow(id) {
  state.job = id; state.p = []; state.steps = 0;
  $("stop").disabled = false;
  $("live").hidden = true; $("progress").textContent = ""; $("plot_line").setAttribute("points", "");
  const source = new EventSource(`/api/jobs/${id}/events`);
  state.source = source;
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    handlers[event.type] && handlers[event.type](event);
    if (["done", "error", "stopped"].includes(event.type)) finish(source);
  };
  source.onerror = () => { if (state.source === source) { showMessage("lost the connection to the server"); finish(source); } };
}

function finish(source) {
  source.close();
  if (state.source === source) state.source = null;
  $("run").disabled = false;
  $("stop").disabled = true;
}

const handlers = {
  queued: (e) => { $("status").textContent = e.position ? `queued: ${e.position} ahead` : "queued"; },
  started: () => { $("status").textContent = "running"; },
  frame: (e) => {
    $("live").src = e.image; $("live").hidden = false;
    $("live").onload = () => { $("live").style.width = Math.min(448, 4 * $("live").naturalWidth) + "px"; };
    state.steps = e.steps; state.p.push(...e.p);
    $("progress").textContent = `step ${e.step} of ${e.steps}`;
    $("status").textContent = `running: step ${e.step} of ${e.steps}`;
    plot();
  },
  done: (e) => {
    $("status").textContent = e.stopped_at ? `stopped at step ${e.stopped_at}` : "done";
    $("grid").src = e.grid; $("final").hidden = false;
    $("grid").onload = () => { $("grid").style.width = Math.min(720, 2 * $("grid").naturalWidth) + "px"; };
    $("summary").textContent = e.summary;
    $("command").textContent = e.commands.join("\n");
    const links = $("downloads");
    links.innerHTML = "";
    for (const [name, url] of Object.entries(e.files)) {
      const a = document.createElement("a");
      a.href = url; a.download = name; a.textContent = name; a.id = "download-" + name.replace(".", "-");
      links.appendChild(a);
    }
    $("outputs").hidden = false;
  },
  stopped: () => { $("status").textContent = "stopped before it started"; },
  error: (e) => { $("status").textContent = "failed"; showMessage(e.message); },
};

function plot() {
  const values = state.p.map((v) => (v === null ? NaN : v));
  const top = Math.max(1, ...values.filter(Number.isFinite));
  $("plot_top").textContent = top > 1 ? top.toPrecision(3) : "1";
  $("plot_steps").textContent = `step ${state.steps}`;
  const points = values.map((v, i) => Number.isFinite(v) ? `${(30 + (265 * (i + 1)) / state.steps).toFixed(1)},${(100 - (90 * v) / top).toFixed(1)}` : "")
    .filter(Boolean).join(" ");
  $("plot_line").setAttribute("points", points);
}

async function stop() {
  if (!state.job) return;
  try { await getJSON(`/api/jobs/${state.job}/stop`, { method: "POST" }); } catch (e) { showMessage(e.message); }
}

// --- Start ------------------------------------------------------------------------------------

async function start() {
  try {
    state.config = await getJSON("/api/config");
    for (const m of await getJSON("/api/models")) { state.models[m.name] = m; option($("model"), m.name, `${m.name} (${m.kind})`); }
  } catch (e) { showMessage(e.message); return; }
  for (const name of Object.keys(state.config.presets)) option($("preset"), name, name);
  $("preset").value = state.config.default_preset;
  if (state.config.selected) $("model").value = state.config.selected;
  $("code-fields").hidden = !state.config.allow_code;
  $("model").addEventListener("change", pickModel);
  $("preset").addEventListener("change", showPreset);
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", showMode);
  for (const button of document.querySelectorAll(".tab")) button.addEventListener("click", () => showTab(button.dataset.tab));
  for (const id of ["temperature", "colorize_temperature"]) $(id).addEventListener("input", () => { $(id + "_shown").textContent = $(id).value; });
  readFile($("colorize_file"), "colorize");
  readFile($("transfer_file"), "transfer");
  setupInpaint();
  $("run").addEventListener("click", run);
  $("stop").addEventListener("click", stop);
  showPreset();
  pickModel();
  document.body.dataset.ready = "1";
}

start();
