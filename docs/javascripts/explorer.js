// The unit explorer: every channel of every layer of both VGG16s, on every photo.
//
// Plain ES module, canvas drawing, no build step. It reads what the generator wrote under
// generated/figures/feature_maps/explorer/ (see generator/render/explorer.py):
//   index.json                    photos (and their thumbnails), models, layers (sizes, atlas columns), colour maps
//   <photo>/<model>.json          per layer and channel: scale (activation of grey 255) and mean
//   <photo>/<model>/<layer>.png   one grey atlas per layer, channel c at tile (c // cols, c % cols)
// The colour map is applied here, from the grey values, so switching it fetches nothing.
// The state lives in the URL hash: #photo=chelsea&layer=block4_conv3&unit=213&model=both

const DATA = new URL("../generated/figures/feature_maps/explorer/", import.meta.url);
const GENERATED = new URL("../generated/", import.meta.url);
const cache = new Map(); // url -> Promise

function fetchJSON(rel) {
  const url = new URL(rel, DATA).href;
  if (!cache.has(url)) cache.set(url, fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${rel}: HTTP ${r.status}`);
    return r.json();
  }));
  return cache.get(url);
}

function fetchGrey(rel) {
  // The atlas's grey values, as a Uint8ClampedArray of width x height (one byte per pixel).
  const url = new URL(rel, DATA).href;
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
    if ("layer" in changes) this.state.unit = null;
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
    const { grey, width } = data.atlas;
    const w = layer.stored_width, h = layer.stored_height;
    const x0 = (c % layer.cols) * w, y0 = Math.floor(c / layer.cols) * h;
    const canvas = el("canvas", { width: String(w), height: String(h), class: "cnn-x-map" });
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    const values = new Uint8ClampedArray(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = grey[(y0 + y) * width + x0 + x];
        values[y * w + x] = v;
        const [r, g, b] = lut[Math.round(v * gain)];
        const i = 4 * (y * w + x);
        img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
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
      return el("figure", {}, big, el("figcaption", {},
        `${label}: mean ${d.stats.mean[c].toPrecision(3)}, peak ${d.stats.scale[c].toPrecision(3)}`));
    });
    const bars = el("figure", { class: "cnn-x-bars" }, el("figcaption", {}, "Loading this unit on every photo …"));
    this.unitPanel.replaceChildren(
      el("h3", {}, `${layer.name}, channel ${c}`),
      el("p", {}, `Each pixel of this map sees a ${rf.size}×${rf.size} square of the input; neighbouring `
        + `pixels' squares are ${rf.jump} pixels apart.`),
      el("div", { class: "cnn-x-unit-maps" }, photoFig, ...rows), bars);
    this.renderBars(bars, layer, c, loaded.map((d) => d.model));
  }

  async renderBars(figure, layer, c, models) {
    // The unit's mean activation on every photo, per network (a bar each), its peak as a tick; a click on
    // a photo's bars shows that photo.
    let rows;
    try {
      rows = await Promise.all(this.index.photos.map(async (p) => ({
        photo: p, stats: await Promise.all(models.map((m) => fetchJSON(`${p.id}/${m}.json`))) })));
    } catch (err) {
      figure.replaceChildren(el("figcaption", {}, `Could not load the other photos: ${err.message}`));
      return;
    }
    if (!figure.isConnected) return; // another unit was picked meanwhile
    const colour = Object.fromEntries(this.index.models.map((m) => [m.name, m.colour])); // the site's plot colours
    const top = Math.max(1e-12, ...rows.flatMap((r) => r.stats.map((s) => s.layers[layer.name].scale[c])));
    const W = 640, H = 150, left = 8, bottom = 36, group = (W - left) / rows.length, bw = (group - 12) / models.length;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "cnn-x-bar-chart", role: "img",
                               "aria-label": `${layer.name} channel ${c}: mean activation per photo` });
    rows.forEach((r, i) => {
      const g = svgEl("g", { class: "cnn-x-bar-group", "data-photo": r.photo.id });
      g.addEventListener("click", () => this.set({ photo: r.photo.id, unit: c }));
      models.forEach((m, k) => {
        const s = r.stats[k].layers[layer.name];
        const x = left + i * group + 6 + k * bw;
        const y = (v) => (H - bottom) * (1 - v / top);
        const bar = svgEl("rect", { x, y: y(s.mean[c]), width: bw - 2, height: (H - bottom) - y(s.mean[c]),
                                    fill: colour[m] || "#888", class: "cnn-x-bar", "data-model": m,
                                    "data-value": String(s.mean[c]) });
        bar.append(svgEl("title", {}, `${r.photo.title}, ${m}: mean ${s.mean[c].toPrecision(3)}, `
                                      + `peak ${s.scale[c].toPrecision(3)}`));
        g.append(bar, svgEl("line", { x1: x, x2: x + bw - 2, y1: y(s.scale[c]), y2: y(s.scale[c]),
                                      stroke: colour[m] || "#888", "stroke-width": 2 }));
      });
      const label = svgEl("text", { x: left + i * group + group / 2, y: H - bottom + 14, "text-anchor": "middle",
                                    class: "cnn-x-bar-label" });
      label.textContent = r.photo.id === this.state.photo ? `▸ ${r.photo.id}` : r.photo.id;
      g.append(label);
      svg.append(g);
    });
    const legend = models.map((m) => this.index.models.find((x) => x.name === m).label).join(" and ");
    figure.replaceChildren(svg, el("figcaption", {},
      `Channel ${c} of ${layer.name} on every photo: mean activation (bars) and peak (ticks), ${legend}, `
      + "on one scale. Click a photo to show it."));
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
                           box: () => explorer.lastBox || null };
  } catch (err) {
    root.textContent = `The explorer's data could not be loaded (${err.message}). Run \`nox -s build\`.`;
  }
}

main();
