// The unit explorer: every channel of every layer of both VGG16s, on every photo.
//
// Plain ES modules, canvas drawing, no build step:
//   data.js      fetching the generator's files (what they hold is listed there)
//   state.js     the state and its URL hash
//   dom.js       DOM helpers and colouring grey values through a lookup table
//   geometry.js  receptive fields, from the geometry in index.json
//   grid.js      the layer view: a grid of maps per network, keyboard steps
//   unit.js      the unit view: large maps, every photo, photo examples
//   charts.js    the unit's bar chart
//   weights.js   its weights and activation-maximisation image
// The colour map is applied here, from the grey values, so switching it fetches nothing.
// window.cnnExplorer is the one debug and test API: it reads the current view's data, it records nothing.
import { DATA, fetchGrey, fetchJSON, file, useFiles } from "./data.js";
import { el, greyLut } from "./dom.js";
import { arrowStep, grid, order, tileValues } from "./grid.js";
import { DEFAULTS, hashOf, parseHash, stateFrom, unitHash } from "./state.js";
import { exampleList, renderUnit, unitMapValues } from "./unit.js";

class Explorer {
  constructor(root, index) {
    this.root = root;
    this.index = index;
    this.layers = new Map(index.layers.map((l) => [l.name, l]));
    this.state = { ...DEFAULTS, photo: index.photos[0].id };
    this.loaded = []; // the current view's data: per network, its layer stats and grey atlas
    this.unitData = null; // the unit view's data, once loaded
    this.hover = null; // the receptive-field box under the pointer, in input pixels
    this.build();
    this.fromAddress();
    window.addEventListener("hashchange", () => {  // Back and Forward step through the views
      this.fromAddress();
      this.render();
    });
    this.render();
  }

  fromAddress() {
    // The state the address asks for. A value this build does not have is named in one line, and the
    // address is corrected to the view shown, so that it never names a view that is not on screen.
    const asked = parseHash(location.hash);
    this.state = stateFrom(location.hash, this.index, this.layers, this.state);
    const wrong = ["photo", "layer", "model", "unit"].filter((k) => k in asked && asked[k] !== String(this.state[k]));
    this.notice.textContent = wrong.length
      ? `This address asks for ${wrong.map((k) => `${k} ${asked[k] || "(empty)"}`).join(", ")}, which this build `
        + "does not have; showing the nearest view it has instead."
      : "";
    const hash = hashOf(this.state);
    if (location.hash && location.hash !== hash) history.replaceState(null, "", hash);
  }

  models() {
    return this.state.model === "both" ? this.index.models.map((m) => m.name) : [this.state.model];
  }

  label(model) {
    return this.index.models.find((m) => m.name === model).label;
  }

  lut() {
    return this.state.cmap === "grey" ? greyLut() : this.index.colour_maps[this.state.cmap];
  }

  link(layer, unit, text) {
    return el("a", { href: unitHash(this.state, layer, unit) }, text);
  }

  set(changes) {
    // A new photo, layer or unit is a step Back can undo (pushState); a display option is not (replaceState).
    Object.assign(this.state, changes);
    if ("layer" in changes && !("unit" in changes)) this.state.unit = null;
    const hash = hashOf(this.state);
    const step = ["photo", "layer", "unit"].some((k) => k in changes);
    if (location.hash !== hash) history[step ? "pushState" : "replaceState"](null, "", hash);
    this.notice.textContent = "";
    return this.render();
  }

  async pick(unit) {
    // A click on a tile: open the unit, and once it is drawn bring its panel (above the grid) into view.
    await this.set({ unit });
    this.unitPanel.scrollIntoView({ block: "start" });
  }

  build() {
    const photos = el("div", { class: "cnn-x-photos", role: "group", "aria-label": "Photo" });
    for (const p of this.index.photos) {
      photos.append(el("button", { type: "button", class: "cnn-x-photo", "data-photo": p.id, title: p.title,
                                   "aria-label": `Photo: ${p.title}`, onclick: () => this.set({ photo: p.id }) },
                       el("img", { src: new URL(file("thumb", { photo: p.id }), DATA).href, alt: "", width: "48", height: "48" })));
    }
    const select = (label, key, options) => {
      const id = `cnn-x-${key}`;
      const sel = el("select", { id, onchange: (e) => this.set({ [key]: e.target.value }) });
      for (const [value, text] of options) sel.append(el("option", { value }, text));
      return el("label", { for: id, class: "cnn-x-control" }, `${label} `, sel);
    };
    const layerOptions = this.index.layers.map((l) => [l.name, `${l.name} (${l.channels} × ${l.height}×${l.width})`]);
    const modelOptions = [["both", "both, side by side"], ...this.index.models.map((m) => [m.name, m.label])];
    const cmaps = [...Object.keys(this.index.colour_maps).map((c) => [c, c]), ["grey", "grey (the stored values)"]];
    this.controls = el("div", { class: "cnn-x-controls" },
      select("Layer", "layer", layerOptions), select("Network", "model", modelOptions),
      select("Order", "sort", [["index", "by channel index"], ["activation", "by mean activation on this photo"]]),
      select("Colour scale", "scale", [["channel", "each map to its own peak"], ["layer", "shared across the layer"]]),
      select("Colours", "cmap", cmaps));
    this.status = el("p", { class: "cnn-x-status", "aria-live": "polite" });
    this.notice = el("p", { class: "cnn-x-notice", role: "status" });
    this.unitPanel = el("div", { class: "cnn-x-unit" });
    this.grids = el("div", { class: "cnn-x-grids" });
    this.root.replaceChildren(photos, this.controls, this.notice, this.status, this.unitPanel, this.grids);
    // on the document: a click re-draws the grid, and the clicked tile is replaced by its new twin
    document.addEventListener("keydown", (e) => this.key(e));
  }

  key(e) {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key)) return;
    if (["SELECT", "INPUT", "TEXTAREA"].includes(e.target.tagName)) return;
    if (e.target !== document.body && !this.root.contains(e.target)) return;
    const channels = this.order || [];
    if (!channels.length) return;
    const tiles = [...(this.grids.querySelector(".cnn-x-tiles")?.children || [])];
    const at = this.state.unit === null ? -1 : channels.indexOf(this.state.unit);
    const next = channels[Math.min(channels.length - 1, Math.max(0, at + arrowStep(e.key, tiles)))];
    e.preventDefault();
    this.refocus = true;
    this.set({ unit: next });
  }

  async load(layer) {
    const s = this.state;
    return Promise.all(this.models().map(async (m) => {
      const [stats, atlas] = await Promise.all([fetchJSON(file("scales", { photo: s.photo, model: m })),
                                                fetchGrey(file("atlas", { photo: s.photo, model: m, layer: layer.name }))]);
      return { model: m, stats: stats.layers[layer.name], atlas };
    }));
  }

  describe(layer, loaded) {
    const s = this.state;
    const photo = this.index.photos.find((p) => p.id === s.photo);
    const sizeNote = layer.factor > 1
      ? `${layer.height}×${layer.width} maps, stored averaged down ${layer.factor}× to ${layer.stored_height}×${layer.stored_width}`
      : `${layer.height}×${layer.width} maps`;
    let text = `${photo.title}: all ${layer.channels} channels of ${layer.name} (${sizeNote}). `
      + "Click a map, or use the arrow keys, to pick a unit.";
    if (s.sort === "activation") {
      text += ` Sorted by the mean activation in the ${this.label(loaded[0].model)} network`
        + (loaded.length > 1 ? "; the other grid keeps that order, so a channel index sits at the same place in both"
          + " (the same position in the architecture, not the same feature: the two networks' units are unrelated)." : ".");
    }
    return text;
  }

  async render() {
    const s = this.state;
    const layer = this.layers.get(s.layer);
    for (const b of this.root.querySelectorAll(".cnn-x-photo")) {
      b.setAttribute("aria-pressed", String(b.dataset.photo === s.photo));
    }
    for (const key of ["layer", "model", "sort", "scale", "cmap"]) {
      this.controls.querySelector(`#cnn-x-${key}`).value = s[key];
    }
    const token = (this.token = {});
    this.status.textContent = `Loading ${layer.name} …`;
    let loaded;
    try {
      loaded = await this.load(layer);
    } catch (err) {
      this.status.textContent = `Could not load the data: ${err.message}`;
      return;
    }
    if (token !== this.token) return; // a newer view was asked for meanwhile
    this.status.textContent = this.describe(layer, loaded);
    this.order = order(layer, loaded[0].stats, s.sort);
    this.loaded = loaded;
    this.unitData = null;
    const refocus = this.refocus || this.grids.contains(document.activeElement);
    this.refocus = false;
    this.grids.replaceChildren(...loaded.map((d) => grid(this, layer, d, this.order)));
    if (refocus && s.unit !== null) this.grids.querySelector(`.cnn-x-tile[data-unit="${s.unit}"]`)?.focus();
    this.grids.classList.toggle("cnn-x-both", loaded.length > 1);
    if (!this.painted) { // for the budget check (python -m generator.chapters.explorer.budget): the first paint
      this.painted = true;
      performance.mark("cnn-explorer-painted");
    }
    return renderUnit(this, this.unitPanel, layer, loaded);
  }
}

function debugApi(explorer) {
  // The state, the grey values (0-255, before colour mapping) of a tile or of a unit's map on a photo, the
  // photo examples shown and the receptive-field box under the pointer: all read from the current view.
  const layer = () => explorer.layers.get(explorer.state.layer);
  const values = (model, unit) => {
    const d = explorer.loaded.find((x) => x.model === model);
    return d ? Array.from(tileValues(layer(), d.atlas, unit)) : [];
  };
  const unitValues = (model, photo) => {
    const u = explorer.unitData;
    return u ? Array.from(unitMapValues(u.units, u.sheet, u.c, explorer.index.chunk, photo, model)) : [];
  };
  const examples = () => {
    const u = explorer.unitData;
    return u ? exampleList(explorer, u.layer, u.c, u.models, u.units) : [];
  };
  return { explorer, state: () => ({ ...explorer.state }), values, unitValues, examples,
           box: () => explorer.hover || null };
}

async function main() {
  const root = document.getElementById("cnn-explorer");
  if (!root) return;
  try {
    const index = await fetchJSON("index.json");
    useFiles(index.files);
    window.cnnExplorer = debugApi(new Explorer(root, index));
  } catch (err) {
    root.textContent = `The explorer's data could not be loaded (${err.message}). Run \`nox -s build\`.`;
  }
}

main();
