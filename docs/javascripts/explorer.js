// The unit explorer: every channel of every layer of both VGG16s, on every photo.
//
// Plain ES module, canvas drawing, no build step. It reads what the generator wrote under
// generated/figures/feature_maps/explorer/ (see generator/render/explorer.py):
//   index.json                    photos (and their thumbnails), models, layers (sizes, atlas columns), colour maps
//   <photo>/<model>.json          per layer and channel: scale (activation of grey 255) and mean
//   <photo>/<model>/<layer>.png   one grey atlas per layer, channel c at tile (c // cols, c % cols)
//   units/<layer>.json            per model: each unit's scale in the unit view, and per photo its mean,
//                                 its peak at full resolution and where that peak is (row * width + column)
//   units/<layer>/<k>.png         units k*chunk .. k*chunk+chunk-1, a row each: one small map per [photo, model]
// and, when the build ran those techniques, the weights (figures/filters/explorer/) and the
// activation-maximisation images (figures/activation_max/explorer/).
// The colour map is applied here, from the grey values, so switching it fetches nothing.
// The state lives in the URL hash: #photo=chelsea&layer=block4_conv3&unit=213&model=both

const DATA = new URL("../generated/figures/feature_maps/explorer/", import.meta.url);
const GENERATED = new URL("../generated/", import.meta.url);
const FIGURES = new URL("../generated/figures/", import.meta.url);
const cache = new Map(); // url -> Promise

function fetchJSON(rel, base = DATA) {
  const url = new URL(rel, base).href;
  if (!cache.has(url)) cache.set(url, fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${rel}: HTTP ${r.status}`);
    return r.json();
  }));
  return cache.get(url);
}

function fetchGrey(rel, base = DATA) {
  // The atlas's grey values, as a Uint8ClampedArray of width x height (one byte per pixel).
  const url = new URL(rel, base).href;
  if (!cache.has(url)) cache.set(url, new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(img, 0, 0);
      const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
      const grey = new Uint8ClampedArray(c.width * c.height);
      for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
      resolve({ grey, width: c.width, height: c.height });
    };
    img.onerror = () => reject(new Error(`${rel}: could not load`));
    img.src = url;
  }));
  return cache.get(url);
}

function fetchImage(url) {
  if (!cache.has(url)) cache.set(url, new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${url}: could not load`));
    img.src = url;
  }));
  return cache.get(url);
}

function paint(source, x0, y0, w, h, gain, lut, cls = "cnn-x-map") {
  // A canvas of the w x h block at (x0, y0) of a grey source, coloured through lut; and the grey values.
  const { grey, width } = source;
  const canvas = el("canvas", { width: String(w), height: String(h), class: cls });
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const values = new Uint8ClampedArray(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = grey[(y0 + y) * width + x0 + x];
      values[y * w + x] = v;
      const [r, g, b] = lut[Math.min(255, Math.round(v * gain))];
      const i = 4 * (y * w + x);
      img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return { canvas, values };
}

function fmt(v) {
  return Number(v).toPrecision(3);
}

function parseHash() {
  const out = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    const [k, v] = part.split("=");
    if (k) out[decodeURIComponent(k)] = decodeURIComponent(v || "");
  }
  return out;
}

function svgEl(tag, attrs = {}, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

class Explorer {
  constructor(root, index) {
    this.root = root;
    this.index = index;
    this.layers = new Map(index.layers.map((l) => [l.name, l]));
    this.state = { photo: index.photos[0].id, layer: "block1_conv1", model: "both", unit: null,
                   sort: "index", scale: "channel", cmap: "viridis" };
    this.drawn = {}; // model -> {unit -> Uint8ClampedArray of the grey values drawn (test hook)}
    this.build();
    this.readHash();
    window.addEventListener("hashchange", () => { this.readHash(); this.render(); });
    this.render();
  }

  models() {
    return this.state.model === "both" ? this.index.models.map((m) => m.name) : [this.state.model];
  }

  readHash() {
    const h = parseHash();
    const s = this.state;
    if (this.index.photos.some((p) => p.id === h.photo)) s.photo = h.photo;
    if (this.layers.has(h.layer)) s.layer = h.layer;
    if (h.model === "both" || this.index.models.some((m) => m.name === h.model)) s.model = h.model;
    for (const [k, ok] of [["sort", ["index", "activation"]], ["scale", ["channel", "layer"]],
                           ["cmap", [...Object.keys(this.index.colour_maps), "grey"]]]) {
      if (ok.includes(h[k])) s[k] = h[k];
    }
    const n = this.layers.get(s.layer).channels;
    const unit = Number.parseInt(h.unit, 10);
    s.unit = Number.isInteger(unit) && unit >= 0 && unit < n ? unit : null;
  }

  writeHash() {
    const s = this.state;
    const parts = [["photo", s.photo], ["layer", s.layer], ["model", s.model]];
    if (s.unit !== null) parts.push(["unit", s.unit]);
    for (const [k, d] of [["sort", "index"], ["scale", "channel"], ["cmap", "viridis"]]) {
      if (s[k] !== d) parts.push([k, s[k]]);
    }
    const hash = "#" + parts.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  set(changes) {
    Object.assign(this.state, changes);
    if ("layer" in changes && !("unit" in changes)) this.state.unit = null;
    this.writeHash();
    this.render();
  }

  build() {
    const s = this.state;
    const photos = el("div", { class: "cnn-x-photos", role: "group", "aria-label": "Photo" });
    for (const p of this.index.photos) {
      photos.append(el("button", { type: "button", class: "cnn-x-photo", "data-photo": p.id, title: p.title,
                                   "aria-label": `Photo: ${p.title}`, onclick: () => this.set({ photo: p.id }) },
                       el("img", { src: new URL(p.thumb, DATA).href, alt: "", width: "48", height: "48" })));
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
    this.unitPanel = el("div", { class: "cnn-x-unit" });
    this.grids = el("div", { class: "cnn-x-grids" });
    this.root.replaceChildren(photos, this.controls, this.status, this.unitPanel, this.grids);
    // on the document: a click re-draws the grid, and the clicked tile is replaced by its new twin
    document.addEventListener("keydown", (e) => this.key(e));
  }

  key(e) {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key)) return;
    if (["SELECT", "INPUT", "TEXTAREA"].includes(e.target.tagName)) return;
    if (e.target !== document.body && !this.root.contains(e.target)) return;
    const order = this.order || [];
    if (!order.length) return;
    const tiles = [...(this.grids.querySelector(".cnn-x-tiles")?.children || [])];
    const cols = Math.max(1, tiles.filter((t) => t.offsetTop === tiles[0]?.offsetTop).length);
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols }[e.key];
    const at = this.state.unit === null ? -1 : order.indexOf(this.state.unit);
    const next = order[Math.min(order.length - 1, Math.max(0, at + step))];
    e.preventDefault();
    this.refocus = true;
    this.set({ unit: next });
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
      loaded = await Promise.all(this.models().map(async (m) => {
        const [stats, atlas] = await Promise.all([fetchJSON(`${s.photo}/${m}.json`),
                                                  fetchGrey(`${s.photo}/${m}/${layer.name}.png`)]);
        return { model: m, stats: stats.layers[layer.name], atlas };
      }));
    } catch (err) {
      this.status.textContent = `Could not load the data: ${err.message}`;
      return;
    }
    if (token !== this.token) return; // a newer view was asked for meanwhile
    const photo = this.index.photos.find((p) => p.id === s.photo);
    const sizeNote = layer.factor > 1
      ? `${layer.height}×${layer.width} maps, stored averaged down ${layer.factor}× to ${layer.stored_height}×${layer.stored_width}`
      : `${layer.height}×${layer.width} maps`;
    this.status.textContent = `${photo.title}: all ${layer.channels} channels of ${layer.name} (${sizeNote}). `
      + "Click a map, or use the arrow keys, to pick a unit.";
    const ref = loaded[0];
    if (s.sort === "activation") {
      this.status.textContent += ` Sorted by the mean activation in the ${this.label(ref.model)} network`
        + (loaded.length > 1 ? "; the other grid keeps that order, so a channel sits at the same place in both." : ".");
    }
    this.order = [...Array(layer.channels).keys()];
    if (s.sort === "activation") {
      const mean = ref.stats.mean;
      this.order.sort((a, b) => mean[b] - mean[a] || a - b);
    }
    this.drawn = {};
    const refocus = this.refocus || this.grids.contains(document.activeElement);
    this.refocus = false;
    const grids = loaded.map((d) => this.grid(layer, d));
    this.grids.replaceChildren(...grids);
    if (refocus && s.unit !== null) this.grids.querySelector(`.cnn-x-tile[data-unit="${s.unit}"]`)?.focus();
    this.grids.classList.toggle("cnn-x-both", loaded.length > 1);
    if (!this.painted) { // for the budget check (python -m generator.site.explorer_budget): the first paint
      this.painted = true;
      performance.mark("cnn-explorer-painted");
    }
    this.renderUnit(layer, loaded);
  }

  lut() {
    const s = this.state;
    if (s.cmap === "grey") return Array.from({ length: 256 }, (_, i) => [i, i, i]);
    return this.index.colour_maps[s.cmap];
  }

  grid(layer, data) {
    const s = this.state;
    const label = this.index.models.find((m) => m.name === data.model).label;
    const tiles = el("div", { class: "cnn-x-tiles", role: "listbox", "aria-label": `${label}: ${layer.name} maps` });
    const shared = Math.max(...data.stats.scale);
    const lut = this.lut();
    this.drawn[data.model] = {};
    for (const c of this.order) {
      const canvas = this.tile(layer, data, c, s.scale === "layer" ? data.stats.scale[c] / (shared || 1) : 1, lut);
      const button = el("button", { type: "button", role: "option", class: "cnn-x-tile", "data-unit": String(c),
                                    "aria-selected": String(c === s.unit),
                                    "aria-label": `channel ${c}, mean activation ${data.stats.mean[c].toPrecision(3)}`,
                                    title: `channel ${c}: mean ${data.stats.mean[c].toPrecision(3)}, peak ${data.stats.scale[c].toPrecision(3)}`,
                                    onclick: () => this.set({ unit: c }) }, canvas);
      tiles.append(button);
    }
    return el("figure", { class: "cnn-x-grid", "data-model": data.model }, el("figcaption", {}, label), tiles);
  }

  tile(layer, data, c, gain, lut) {
    const w = layer.stored_width, h = layer.stored_height;
    const x0 = (c % layer.cols) * w, y0 = Math.floor(c / layer.cols) * h;
    const { canvas, values } = paint(data.atlas, x0, y0, w, h, gain, lut);
    this.drawn[data.model][c] = values;
    return canvas;
  }

  rfBox(layer, x, y) {
    // The input square that stored map pixel (x, y) sees, in input pixels [x0, y0, x1, y1] (not clipped):
    // from the layer's true geometry; a stored pixel of a downsampled map covers factor x factor true ones.
    const { size, jump, start } = layer.receptive_field;
    const f = layer.factor;
    const lo = (i) => start + jump * i * f - size / 2;
    const hi = (i) => start + jump * (i * f + f - 1) + size / 2;
    return [lo(x), lo(y), hi(x), hi(y)];
  }

  renderUnit(layer, loaded) {
    const c = this.state.unit;
    if (c === null) {
      this.unitPanel.replaceChildren();
      return;
    }
    const rf = layer.receptive_field;
    const photo = this.index.photos.find((p) => p.id === this.state.photo);
    const n = this.index.input_size;
    const shown = 224; // CSS pixels of the photo and of the large maps
    const overlay = el("canvas", { class: "cnn-x-rf-box", width: String(shown), height: String(shown) });
    const note = el("figcaption", {}, "Hover over a map: the box shows the part of the photo that pixel sees.");
    const show = (box) => {
      const ctx = overlay.getContext("2d");
      ctx.clearRect(0, 0, shown, shown);
      this.lastBox = box;
      if (!box) return;
      const k = shown / n;
      const [x0, y0, x1, y1] = box.map((v) => Math.min(n, Math.max(0, v)) * k);
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#ff5722";
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    };
    const photoFig = el("figure", { class: "cnn-x-rf" },
      el("div", { class: "cnn-x-rf-stack" },
        el("img", { src: new URL(photo.seen, GENERATED).href, alt: photo.title, width: String(shown), height: String(shown) }),
        overlay), note);
    const rows = loaded.map((d) => {
      const label = this.index.models.find((m) => m.name === d.model).label;
      const big = this.tile(layer, d, c, 1, this.lut());
      big.classList.add("cnn-x-big");
      big.addEventListener("mousemove", (e) => {
        const x = Math.min(layer.stored_width - 1, Math.floor(e.offsetX / big.clientWidth * layer.stored_width));
        const y = Math.min(layer.stored_height - 1, Math.floor(e.offsetY / big.clientHeight * layer.stored_height));
        const box = this.rfBox(layer, x, y);
        const cut = box[0] < 0 || box[1] < 0 || box[2] > n || box[3] > n;
        note.textContent = `Map pixel (${x}, ${y}) sees input pixels ${Math.max(0, box[0])}–${Math.min(n, box[2])} `
          + `across and ${Math.max(0, box[1])}–${Math.min(n, box[3])} down`
          + (cut ? ` (its ${rf.size}×${rf.size} square, cut at the photo's border; the rest is padding).` : ".");
        show(box);
      });
      big.addEventListener("mouseleave", () => show(null));
      const peak = layer.factor > 1 ? "brightest stored pixel" : "peak";
      return el("figure", {}, big, el("figcaption", {},
        `${label}: mean ${fmt(d.stats.mean[c])}, ${peak} ${fmt(d.stats.scale[c])}`));
    });
    const more = el("div", { class: "cnn-x-unit-more" }, el("p", {}, "Loading this unit on every photo …"));
    this.unitPanel.replaceChildren(
      el("h3", {}, `${layer.name}, channel ${c}`),
      el("p", {}, `Each pixel of this map sees a ${rf.size}×${rf.size} square of the input; neighbouring `
        + `pixels' squares are ${rf.jump} pixel${rf.jump === 1 ? "" : "s"} apart.`),
      el("div", { class: "cnn-x-unit-maps" }, photoFig, ...rows), more);
    this.renderMore(more, layer, c, loaded.map((d) => d.model));
  }

  label(model) {
    return this.index.models.find((m) => m.name === model).label;
  }

  link(layer, unit, text) {
    // A link to another unit on this photo, in this network choice (the hash is the state).
    const s = this.state;
    return el("a", { href: `#photo=${encodeURIComponent(s.photo)}&layer=${layer}&model=${s.model}&unit=${unit}` }, text);
  }

  async renderMore(root, layer, c, models) {
    // Everything about the unit that spans the photos or lives outside the feature maps: its maps and
    // activations on every photo, its photo examples, its weights and its activation-maximisation image.
    const chunk = this.index.chunk;
    let units, sheet;
    try {
      [units, sheet] = await Promise.all([fetchJSON(`units/${layer.name}.json`),
                                          fetchGrey(`units/${layer.name}/${Math.floor(c / chunk)}.png`)]);
    } catch (err) {
      root.replaceChildren(el("p", {}, `Could not load this unit on the other photos: ${err.message}`));
      return;
    }
    if (!root.isConnected) return; // another unit was picked meanwhile
    this.unitDrawn = {};
    const sections = [this.everyPhoto(layer, c, models, units, sheet), this.bars(layer, c, models, units),
                      this.examples(layer, c, models, units)];
    const weights = el("section", { class: "cnn-x-weights" }, el("h4", {}, "Weights"), el("p", {}, "Loading …"));
    const am = el("section", { class: "cnn-x-am" }, el("h4", {}, "Activation maximisation"), el("p", {}, "Loading …"));
    root.replaceChildren(...sections, weights, am);
    this.renderWeights(weights, layer, c, models);
    this.renderAM(am, layer, c, models);
  }

  everyPhoto(layer, c, models, units, sheet) {
    // The unit's map on every photo, one row per network, on one scale per network (the largest value
    // over the photos), so the row compares the photos. Read from the unit's row of its chunk.
    const { height: h, width: w, columns } = units;
    const row = c % this.index.chunk;
    const lut = this.lut();
    const table = el("table", { class: "cnn-x-every" });
    const head = el("tr", {}, el("th", {}, ""));
    for (const p of this.index.photos) {
      head.append(el("th", { scope: "col" }, p.id === this.state.photo ? `▸ ${p.id}` : p.id));
    }
    table.append(el("thead", {}, head));
    const body = el("tbody");
    for (const m of models) {
      const tr = el("tr", { "data-model": m }, el("th", { scope: "row" }, this.label(m)));
      this.unitDrawn[m] = {};
      for (const p of this.index.photos) {
        const j = columns.findIndex(([cp, cm]) => cp === p.id && cm === m);
        const { canvas, values } = paint(sheet, j * w, row * h, w, h, 1, lut, "cnn-x-small");
        this.unitDrawn[m][p.id] = values;
        const mean = units.mean[m][p.id][c];
        tr.append(el("td", {}, el("button", { type: "button", class: "cnn-x-small-button", "data-photo": p.id,
          title: `${p.title}: mean ${fmt(mean)}, peak ${fmt(units.peak[m][p.id][c])}`,
          "aria-label": `Show ${p.title} (channel ${c}, ${this.label(m)}: mean ${fmt(mean)})`,
          onclick: () => this.set({ photo: p.id, unit: c }) }, canvas)));
      }
      body.append(tr);
    }
    table.append(body);
    const size = layer.unit_factor > 1
      ? `${layer.height}×${layer.width} maps averaged down ${layer.unit_factor}× to ${h}×${w}`
      : `${h}×${w} maps`;
    return el("section", {}, el("h4", {}, "On every photo"), el("div", { class: "cnn-x-scroll" }, table),
      el("p", { class: "cnn-x-caption" }, `Channel ${c} on each photo (${size}), one colour scale per network: `
        + "the largest value over all photos is the top colour. Click a map to show that photo."));
  }

  bars(layer, c, models, units) {
    // The unit's mean activation on every photo, per network (a bar each), its peak as a tick; a click on
    // a photo's bars shows that photo.
    const colour = Object.fromEntries(this.index.models.map((m) => [m.name, m.colour])); // the site's plot colours
    const photos = this.index.photos;
    const top = Math.max(1e-12, ...models.flatMap((m) => photos.map((p) => units.peak[m][p.id][c])));
    const W = 640, H = 150, left = 8, bottom = 36, group = (W - left) / photos.length, bw = (group - 12) / models.length;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "cnn-x-bar-chart", role: "img",
                               "aria-label": `${layer.name} channel ${c}: mean activation per photo` });
    const y = (v) => (H - bottom) * (1 - v / top);
    photos.forEach((p, i) => {
      const g = svgEl("g", { class: "cnn-x-bar-group", "data-photo": p.id });
      g.addEventListener("click", () => this.set({ photo: p.id, unit: c }));
      models.forEach((m, k) => {
        const mean = units.mean[m][p.id][c], peak = units.peak[m][p.id][c];
        const x = left + i * group + 6 + k * bw;
        const bar = svgEl("rect", { x, y: y(mean), width: bw - 2, height: (H - bottom) - y(mean),
                                    fill: colour[m] || "#888", class: "cnn-x-bar", "data-model": m,
                                    "data-value": String(mean) });
        bar.append(svgEl("title", {}, `${p.title}, ${m}: mean ${fmt(mean)}, peak ${fmt(peak)}`));
        g.append(bar, svgEl("line", { x1: x, x2: x + bw - 2, y1: y(peak), y2: y(peak),
                                      stroke: colour[m] || "#888", "stroke-width": 2 }));
      });
      const label = svgEl("text", { x: left + i * group + group / 2, y: H - bottom + 14, "text-anchor": "middle",
                                    class: "cnn-x-bar-label" });
      label.textContent = p.id === this.state.photo ? `▸ ${p.id}` : p.id;
      g.append(label);
      svg.append(g);
    });
    const legend = models.map((m) => this.label(m)).join(" and ");
    return el("figure", { class: "cnn-x-bars" }, svg, el("figcaption", {},
      `Channel ${c} of ${layer.name} on every photo: mean activation (bars) and peak at full resolution `
      + `(ticks), ${legend}, on one scale. Click a photo to show it.`));
  }

  examples(layer, c, models, units) {
    // Microscope's "dataset examples" over this build's photos: for each photo, the part of it that the
    // unit's strongest pixel sees (its receptive field, from the true geometry), strongest photo first.
    const { size, jump, start } = layer.receptive_field;
    const n = this.index.input_size;
    const side = Math.max(size, 32); // small fields are shown with some context around them
    const shown = 96;
    this.shownExamples = [];
    const rows = models.map((m) => {
      const order = this.index.photos.map((p) => ({ photo: p, peak: units.peak[m][p.id][c],
                                                    at: units.argmax[m][p.id][c] }))
        .sort((a, b) => b.peak - a.peak || a.photo.id.localeCompare(b.photo.id));
      const cells = order.map(({ photo, peak, at }) => {
        const x = at % layer.width, y = Math.floor(at / layer.width);
        const cx = start + jump * x, cy = start + jump * y;
        const box = [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2];
        this.shownExamples.push({ model: m, photo: photo.id, peak, x, y, box });
        const canvas = el("canvas", { width: String(shown), height: String(shown), class: "cnn-x-example" });
        const fig = el("figure", { "data-photo": photo.id }, canvas,
          el("figcaption", {}, peak > 0 ? `${photo.id}: ${fmt(peak)}` : `${photo.id}: silent`));
        if (peak > 0) {
          fetchImage(new URL(photo.seen, GENERATED).href).then((img) => {
            // the square around the peak's field, cut to the photo, scaled to fit and centred
            const x0 = Math.max(0, cx - side / 2), y0 = Math.max(0, cy - side / 2);
            const x1 = Math.min(n, cx + side / 2), y1 = Math.min(n, cy + side / 2);
            const k = shown / Math.max(x1 - x0, y1 - y0);
            const ox = (shown - (x1 - x0) * k) / 2, oy = (shown - (y1 - y0) * k) / 2;
            const ctx = canvas.getContext("2d");
            ctx.imageSmoothingEnabled = false;
            ctx.drawImage(img, x0, y0, x1 - x0, y1 - y0, ox, oy, (x1 - x0) * k, (y1 - y0) * k);
            if (side > size) {
              const bx0 = Math.max(x0, box[0]), by0 = Math.max(y0, box[1]);
              const bx1 = Math.min(x1, box[2]), by1 = Math.min(y1, box[3]);
              ctx.strokeStyle = "#ff5722";
              ctx.lineWidth = 2;
              ctx.strokeRect(ox + (bx0 - x0) * k, oy + (by0 - y0) * k, (bx1 - bx0) * k, (by1 - by0) * k);
            }
          }).catch(() => {});
        }
        return fig;
      });
      return el("div", { class: "cnn-x-example-row", "data-model": m },
        el("p", { class: "cnn-x-caption" }, this.label(m)), el("div", { class: "cnn-x-examples" }, ...cells));
    });
    const what = side > size
      ? `the ${size}×${size} receptive field (outlined) of its strongest pixel, with context to ${side}×${side}`
      : `the ${size}×${size} receptive field of its strongest pixel`;
    return el("section", {}, el("h4", {}, "Photo examples"), ...rows,
      el("p", { class: "cnn-x-caption" }, `For each photo, ${what}, strongest photo first; the number is that `
        + "peak activation. Where the field reaches past the photo's edge (the network sees zero padding "
        + "there), only the part inside the photo is shown."));
  }

  async renderWeights(section, layer, c, models) {
    const title = el("h4", {}, "Weights");
    if (!layer.name.includes("_conv")) {
      const i = this.index.layers.findIndex((l) => l.name === layer.name);
      const prev = this.index.layers[i - 1].name;
      section.replaceChildren(title, el("p", {}, "A max-pool has no weights: channel ", String(c),
        " here is the largest value of ", this.link(prev, c, `channel ${c} of ${prev}`), " in each 2×2 window."));
      return;
    }
    let data;
    try {
      data = await Promise.all(models.map(async (m) => {
        const [meta, norms] = await Promise.all([fetchJSON(`filters/explorer/${m}.json`, FIGURES),
                                                 fetchGrey(`filters/explorer/${m}/${layer.name}.png`, FIGURES)]);
        return { model: m, meta: meta.layers[layer.name], norms };
      }));
    } catch (err) {
      section.replaceChildren(title, el("p", {}, `The weights are not in this build (run the filters technique): ${err.message}`));
      return;
    }
    if (!section.isConnected) return;
    const lut = this.lut();
    const parts = data.map(({ model, meta, norms }) => {
      const inputs = meta.inputs;
      const scale = meta.row_max[c];
      const { canvas, values } = paint(norms, 0, c, inputs, 1, 1, lut, "cnn-x-norms");
      const norm = (k) => (values[k] * scale) / 255;
      const order = [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, 5);
      const tip = el("span", { class: "cnn-x-caption" }, "");
      const input = meta.input_layer;
      canvas.addEventListener("mousemove", (e) => {
        const k = Math.min(inputs - 1, Math.floor(e.offsetX / canvas.clientWidth * inputs));
        tip.textContent = input ? `input channel ${k} (${input}): kernel norm ${fmt(norm(k))}`
                                : `${["red", "green", "blue"][k]}: kernel norm ${fmt(norm(k))}`;
      });
      if (input) {
        canvas.addEventListener("click", (e) => {
          const k = Math.min(inputs - 1, Math.floor(e.offsetX / canvas.clientWidth * inputs));
          this.set({ layer: input, unit: k });
        });
      }
      const fig = el("figure", { class: "cnn-x-weight", "data-model": model }, el("figcaption", {}, this.label(model)));
      if (meta.rgb) fig.append(this.rgbKernel(meta.rgb[c]));
      fig.append(canvas, tip);
      const strongest = input
        ? el("p", { class: "cnn-x-caption" }, "Strongest inputs: ",
            ...order.flatMap((k, i) => [this.link(input, k, `${input} ${k}`), ` (${fmt(norm(k))})`, i < order.length - 1 ? ", " : "."]))
        : el("p", { class: "cnn-x-caption" }, "Left: the 3×3 kernel over red, green and blue as a colour image, "
            + "scaled to its own range (mid-grey: its middle).");
      fig.append(strongest);
      return fig;
    });
    const across = layer.name === "block1_conv1" ? "red, green and blue" : `the ${data[0].meta.inputs} channels of ${data[0].meta.input_layer}`;
    section.replaceChildren(title, ...parts, el("p", { class: "cnn-x-caption" },
      `The strip: how strongly filter ${c} weighs each input, the L2 norm of its 3×3 kernel over ${across}, `
      + "left to right, scaled to the filter's strongest input. Hover over it to read one; click to open that input unit."));
  }

  rgbKernel(w) {
    // w: 3 (red, green, blue) x 3 x 3 weights, min-max scaled together, as a magnified colour image.
    const flat = w.flat(2);
    const lo = Math.min(...flat), hi = Math.max(...flat), span = hi - lo || 1;
    const canvas = el("canvas", { width: "3", height: "3", class: "cnn-x-rgb" });
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(3, 3);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) {
        for (let ch = 0; ch < 3; ch++) img.data[4 * (3 * y + x) + ch] = Math.round(255 * (w[ch][y][x] - lo) / span);
        img.data[4 * (3 * y + x) + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  async renderAM(section, layer, c, models) {
    const title = el("h4", {}, "Activation maximisation");
    let index;
    try {
      index = await fetchJSON("activation_max/explorer/index.json", FIGURES);
    } catch (err) {
      section.replaceChildren(title, el("p", {}, `Not in this build (run the activation_max technique): ${err.message}`));
      return;
    }
    if (!section.isConnected) return;
    const parts = models.map((m) => {
      const done = index.units[m]?.[layer.name];
      let body;
      if (done && done.includes(c)) {
        body = el("img", { src: new URL(`activation_max/explorer/${m}/${layer.name}-${c}.png`, FIGURES).href,
                           alt: `An image optimised to excite channel ${c} of ${layer.name}, ${this.label(m)}`,
                           width: "128", height: "128", class: "cnn-x-am-image" });
      } else if (done) {
        body = el("p", { class: "cnn-x-caption" }, "Not computed for this unit. This build optimised the filters ",
          ...done.flatMap((k, i) => [this.link(layer.name, k, String(k)), i < done.length - 1 ? ", " : ""]),
          `: the ${done.length} that the photos excite most.`);
      } else {
        body = el("p", { class: "cnn-x-caption" }, "This build optimises images for the last conv layer of each "
          + `block only (${Object.keys(index.units[m] || {}).join(", ")}).`);
      }
      return el("figure", { class: "cnn-x-am-one", "data-model": m }, el("figcaption", {}, this.label(m)), body);
    });
    section.replaceChildren(title, el("div", { class: "cnn-x-am-row" }, ...parts),
      el("p", { class: "cnn-x-caption" }, `An image optimised to excite this channel: ${index.settings}. `
        + "See the chapter on activation maximisation."));
  }
}

async function main() {
  const root = document.getElementById("cnn-explorer");
  if (!root) return;
  try {
    const index = await fetchJSON("index.json");
    const explorer = new Explorer(root, index);
    // For tests: the state, the grey values (0-255, before colour mapping) each tile drew, and the
    // receptive-field box last drawn (input pixels, not clipped).
    window.cnnExplorer = { explorer, state: () => ({ ...explorer.state }),
                           values: (model, unit) => Array.from(explorer.drawn[model]?.[unit] || []),
                           unitValues: (model, photo) => Array.from(explorer.unitDrawn?.[model]?.[photo] || []),
                           examples: () => explorer.shownExamples || [],
                           box: () => explorer.lastBox || null };
  } catch (err) {
    root.textContent = `The explorer's data could not be loaded (${err.message}). Run \`nox -s build\`.`;
  }
}

main();
