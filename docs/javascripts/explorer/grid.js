// The layer view: every channel of one layer as a grid of small maps, one grid per network.
import { block, el, paint } from "./dom.js";

export function tileValues(layer, atlas, c) {
  // Channel c's grey values in its layer atlas (tiles laid out ``cols`` to a row).
  const w = layer.stored_width, h = layer.stored_height;
  return block(atlas, (c % layer.cols) * w, Math.floor(c / layer.cols) * h, w, h);
}

export function tileCanvas(layer, atlas, c, gain, lut) {
  return paint(tileValues(layer, atlas, c), layer.stored_width, layer.stored_height, gain, lut);
}

export function order(layer, stats, sort) {
  // Channel indices in display order: by index, or by mean activation (ties by index).
  const out = [...Array(layer.channels).keys()];
  if (sort === "activation") out.sort((a, b) => stats.mean[b] - stats.mean[a] || a - b);
  return out;
}

export function grid(view, layer, data, channels) {
  const s = view.state;
  const label = view.label(data.model);
  const tiles = el("div", { class: "cnn-x-tiles", role: "listbox", "aria-label": `${label}: ${layer.name} maps` });
  const shared = Math.max(...data.stats.scale);
  const lut = view.lut();
  for (const c of channels) {
    const gain = s.scale === "layer" ? data.stats.scale[c] / (shared || 1) : 1;
    const mean = data.stats.mean[c].toPrecision(3);
    tiles.append(el("button", { type: "button", role: "option", class: "cnn-x-tile", "data-unit": String(c),
                                "aria-selected": String(c === s.unit),
                                "aria-label": `channel ${c}, mean activation ${mean}`,
                                title: `channel ${c}: mean ${mean}, peak ${data.stats.scale[c].toPrecision(3)}`,
                                onclick: () => view.pick(c) },
                    tileCanvas(layer, data.atlas, c, gain, lut),
                    el("span", { class: "cnn-x-tile-number", "aria-hidden": "true" }, String(c))));
  }
  return el("figure", { class: "cnn-x-grid", "data-model": data.model }, el("figcaption", {}, label), tiles);
}

export function arrowStep(key, tiles) {
  // How far an arrow key moves in the grid: one tile, or one row of the grid as it is laid out now.
  const cols = Math.max(1, tiles.filter((t) => t.offsetTop === tiles[0]?.offsetTop).length);
  return { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols }[key];
}
