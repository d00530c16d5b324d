// The unit view: one channel large on this photo (hover for its receptive field), then the same unit on
// every photo, its bar chart, its photo examples, its weights and its activation-maximisation image.
import { bars } from "./charts.js";
import { fetchGrey, fetchImage, fetchJSON, file, GENERATED } from "./data.js";
import { block, el, fmt, paint } from "./dom.js";
import { exampleOrder, fieldAt, storedPixelBox } from "./geometry.js";
import { tileCanvas } from "./grid.js";
import { renderAM, renderWeights } from "./weights.js";

const SHOWN = 224; // CSS pixels of the photo and of the large maps
const EXAMPLE = 96; // CSS pixels of a photo example

export function unitMapValues(units, sheet, c, chunk, photo, model) {
  // Unit c's small map on one photo and network, read from its row of its chunk's sheet.
  const { height: h, width: w, columns } = units;
  const j = columns.findIndex(([cp, cm]) => cp === photo && cm === model);
  return block(sheet, j * w, (c % chunk) * h, w, h);
}

export function renderUnit(view, root, layer, loaded) {
  const c = view.state.unit;
  if (c === null) {
    root.replaceChildren();
    return;
  }
  const rf = layer.receptive_field;
  const photo = view.index.photos.find((p) => p.id === view.state.photo);
  const n = view.index.input_size;
  const overlay = el("canvas", { class: "cnn-x-rf-box", width: String(SHOWN), height: String(SHOWN) });
  const note = el("figcaption", {}, "Hover over a map: the box shows the part of the photo that pixel sees.");
  const show = (box) => {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, SHOWN, SHOWN);
    view.hover = box;
    if (!box) return;
    const k = SHOWN / n;
    const [x0, y0, x1, y1] = box.map((v) => Math.min(n, Math.max(0, v)) * k);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#ff5722";
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  };
  const photoFig = el("figure", { class: "cnn-x-rf" },
    el("div", { class: "cnn-x-rf-stack" },
      el("img", { src: new URL(photo.seen, GENERATED).href, alt: photo.title, width: String(SHOWN),
                  height: String(SHOWN) }),
      overlay), note);
  const rows = loaded.map((d) => {
    const big = tileCanvas(layer, d.atlas, c, 1, view.lut());
    big.classList.add("cnn-x-big");
    big.addEventListener("mousemove", (e) => {
      const x = Math.min(layer.stored_width - 1, Math.floor(e.offsetX / big.clientWidth * layer.stored_width));
      const y = Math.min(layer.stored_height - 1, Math.floor(e.offsetY / big.clientHeight * layer.stored_height));
      const box = storedPixelBox(layer, x, y);
      const cut = box[0] < 0 || box[1] < 0 || box[2] > n || box[3] > n;
      note.textContent = `Map pixel (${x}, ${y}) sees input pixels ${Math.max(0, box[0])}–${Math.min(n, box[2])} `
        + `across and ${Math.max(0, box[1])}–${Math.min(n, box[3])} down`
        + (cut ? ` (its ${rf.size}×${rf.size} square, cut at the photo's border; the rest is padding).` : ".");
      show(box);
    });
    big.addEventListener("mouseleave", () => show(null));
    const peak = layer.factor > 1 ? "brightest stored pixel" : "peak";
    return el("figure", {}, big, el("figcaption", {},
      `${view.label(d.model)}: mean ${fmt(d.stats.mean[c])}, ${peak} ${fmt(d.stats.scale[c])}`));
  });
  const more = el("div", { class: "cnn-x-unit-more" }, el("p", {}, "Loading this unit on every photo …"));
  root.replaceChildren(
    el("h3", {}, `${layer.name}, channel ${c}`),
    el("p", {}, `Each pixel of this map sees a ${rf.size}×${rf.size} square of the input; neighbouring `
      + `pixels' squares are ${rf.jump} pixel${rf.jump === 1 ? "" : "s"} apart.`),
    el("div", { class: "cnn-x-unit-maps" }, photoFig, ...rows), more);
  renderMore(view, more, layer, c, loaded.map((d) => d.model));
}

async function renderMore(view, root, layer, c, models) {
  const chunk = view.index.chunk;
  let units, sheet;
  try {
    [units, sheet] = await Promise.all([fetchJSON(file("units", { layer: layer.name })),
                                        fetchGrey(file("unit_sheet", { layer: layer.name, chunk: Math.floor(c / chunk) }))]);
  } catch (err) {
    root.replaceChildren(el("p", {}, `Could not load this unit on the other photos: ${err.message}`));
    return;
  }
  if (!root.isConnected) return; // another unit was picked meanwhile
  view.unitData = { layer, c, models, units, sheet };
  const sections = [everyPhoto(view, layer, c, models, units, sheet), bars(view, layer, c, models, units),
                    examples(view, layer, c, models, units)];
  const weights = el("section", { class: "cnn-x-weights" }, el("h4", {}, "Weights"), el("p", {}, "Loading …"));
  const am = el("section", { class: "cnn-x-am" }, el("h4", {}, "Activation maximisation"), el("p", {}, "Loading …"));
  root.replaceChildren(...sections, weights, am);
  renderWeights(view, weights, layer, c, models);
  renderAM(view, am, layer, c, models);
}

function everyPhoto(view, layer, c, models, units, sheet) {
  // The unit's map on every photo, one row per network, on one scale per network (the largest value
  // over the photos), so the row compares the photos.
  const { height: h, width: w } = units;
  const lut = view.lut();
  const table = el("table", { class: "cnn-x-every" });
  const head = el("tr", {}, el("th", {}, ""));
  for (const p of view.index.photos) {
    head.append(el("th", { scope: "col" }, p.id === view.state.photo ? `▸ ${p.id}` : p.id));
  }
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const m of models) {
    const tr = el("tr", { "data-model": m }, el("th", { scope: "row" }, view.label(m)));
    for (const p of view.index.photos) {
      const canvas = paint(unitMapValues(units, sheet, c, view.index.chunk, p.id, m), w, h, 1, lut, "cnn-x-small");
      const mean = units.mean[m][p.id][c];
      tr.append(el("td", {}, el("button", { type: "button", class: "cnn-x-small-button", "data-photo": p.id,
        title: `${p.title}: mean ${fmt(mean)}, peak ${fmt(units.peak[m][p.id][c])}`,
        "aria-label": `Show ${p.title} (channel ${c}, ${view.label(m)}: mean ${fmt(mean)})`,
        onclick: () => view.set({ photo: p.id, unit: c }) }, canvas)));
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

export function exampleList(view, layer, c, models, units) {
  // Every photo example shown: model, photo, peak, the peak's pixel and its receptive field.
  return models.flatMap((m) => exampleOrder(view.index.photos, units, m, c).map(({ photo, peak, at }) => {
    const { x, y, box } = fieldAt(layer, at);
    return { model: m, photo: photo.id, peak, x, y, box };
  }));
}

function drawExample(canvas, img, layer, at, n) {
  // The square around the peak's field, cut to the photo, scaled to fit and centred; the field outlined.
  const { size } = layer.receptive_field;
  const side = Math.max(size, 32); // small fields are shown with some context around them
  const { cx, cy, box } = fieldAt(layer, at);
  const x0 = Math.max(0, cx - side / 2), y0 = Math.max(0, cy - side / 2);
  const x1 = Math.min(n, cx + side / 2), y1 = Math.min(n, cy + side / 2);
  const k = EXAMPLE / Math.max(x1 - x0, y1 - y0);
  const ox = (EXAMPLE - (x1 - x0) * k) / 2, oy = (EXAMPLE - (y1 - y0) * k) / 2;
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
}

function examples(view, layer, c, models, units) {
  // Microscope's "dataset examples" over this build's photos: for each photo, the part of it that the
  // unit's strongest pixel sees (its receptive field, from the true geometry), strongest photo first.
  const { size } = layer.receptive_field;
  const side = Math.max(size, 32);
  const n = view.index.input_size;
  const rows = models.map((m) => {
    const cells = exampleOrder(view.index.photos, units, m, c).map(({ photo, peak, at }) => {
      const canvas = el("canvas", { width: String(EXAMPLE), height: String(EXAMPLE), class: "cnn-x-example" });
      const fig = el("figure", { "data-photo": photo.id }, canvas,
        el("figcaption", {}, peak > 0 ? `${photo.id}: ${fmt(peak)}` : `${photo.id}: silent`));
      if (peak > 0) {
        fetchImage(new URL(photo.seen, GENERATED).href).then((img) => drawExample(canvas, img, layer, at, n))
          .catch(() => {});
      }
      return fig;
    });
    return el("div", { class: "cnn-x-example-row", "data-model": m },
      el("p", { class: "cnn-x-caption" }, view.label(m)), el("div", { class: "cnn-x-examples" }, ...cells));
  });
  const what = side > size
    ? `the ${size}×${size} receptive field (outlined) of its strongest pixel, with context to ${side}×${side}`
    : `the ${size}×${size} receptive field of its strongest pixel`;
  return el("section", {}, el("h4", {}, "Photo examples"), ...rows,
    el("p", { class: "cnn-x-caption" }, `For each photo, ${what}, strongest photo first; the number is that `
      + "peak activation. Where the field reaches past the photo's edge (the network sees zero padding "
      + "there), only the part inside the photo is shown."));
}
