// What a unit is made of and what it responds to on its own: its weights (from the filters chapter)
// and its activation-maximisation image (from that chapter), when the build ran them.
import { DATA, fetchGrey, fetchJSON, file } from "./data.js";
import { block, el, fmt, paint } from "./dom.js";

export async function renderWeights(view, section, layer, c, models) {
  const title = el("h4", {}, "Weights");
  if (!layer.name.includes("_conv")) {
    const i = view.index.layers.findIndex((l) => l.name === layer.name);
    const prev = view.index.layers[i - 1].name;
    section.replaceChildren(title, el("p", {}, "A max-pool has no weights: channel ", String(c),
      " here is the largest value of ", view.link(prev, c, `channel ${c} of ${prev}`), " in each 2×2 window."));
    return;
  }
  let data;
  try {
    data = await Promise.all(models.map(async (m) => {
      const [meta, norms] = await Promise.all([fetchJSON(file("weights", { model: m })),
                                               fetchGrey(file("weight_norms", { model: m, layer: layer.name }))]);
      return { model: m, meta: meta.layers[layer.name], norms };
    }));
  } catch (err) {
    section.replaceChildren(title,
      el("p", {}, `The weights could not be loaded: ${err.message}`));
    return;
  }
  if (!section.isConnected) return;
  const parts = data.map((d) => weightFigure(view, d, c));
  const across = layer.name === "block1_conv1" ? "red, green and blue"
    : `the ${data[0].meta.inputs} channels of ${data[0].meta.input_layer}`;
  section.replaceChildren(title, ...parts, el("p", { class: "cnn-x-caption" },
    `The strip: how strongly filter ${c} weighs each input, the L2 norm of its 3×3 kernel over ${across}, `
    + "left to right, scaled to the filter's strongest input. Hover over it, or focus it and use the arrow keys, "
    + "to read one; click it or press Enter to open that input unit."));
}

function weightFigure(view, { model, meta, norms }, c) {
  const inputs = meta.inputs;
  const scale = meta.row_max[c];
  const values = block(norms, 0, c, inputs, 1);
  const canvas = paint(values, inputs, 1, 1, view.lut(), "cnn-x-norms");
  const norm = (k) => (values[k] * scale) / 255;
  const order = [...values.keys()].sort((a, b) => values[b] - values[a] || a - b).slice(0, 5);
  const tip = el("span", { class: "cnn-x-caption" }, "");
  const input = meta.input_layer;
  const at = (e) => Math.min(inputs - 1, Math.floor(e.offsetX / canvas.clientWidth * inputs));
  let current = order[0] ?? 0;
  const show = (k) => {
    current = k;
    tip.textContent = input ? `input channel ${k} (${input}): kernel norm ${fmt(norm(k))}`
                            : `${["red", "green", "blue"][k]}: kernel norm ${fmt(norm(k))}`;
    canvas.setAttribute("aria-valuenow", String(k));
    canvas.setAttribute("aria-valuetext", tip.textContent);
  };
  // The strip works from the keyboard too: a slider over the inputs (arrows, Home, End; Enter opens one).
  Object.entries({ tabindex: "0", role: "slider", "aria-valuemin": "0", "aria-valuemax": String(inputs - 1),
                   "aria-label": `${view.label(model)}: filter ${c}'s kernel norm per input`
                     + (input ? "; Enter opens that input unit" : "") })
    .forEach(([k, v]) => canvas.setAttribute(k, v));
  canvas.addEventListener("mousemove", (e) => show(at(e)));
  canvas.addEventListener("focus", () => show(current));
  canvas.addEventListener("keydown", (e) => {
    const step = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 }[e.key];
    if (step !== undefined || e.key === "Home" || e.key === "End") {
      show(e.key === "Home" ? 0 : e.key === "End" ? inputs - 1 : Math.min(inputs - 1, Math.max(0, current + step)));
    } else if (e.key === "Enter" && input) {
      view.set({ layer: input, unit: current });
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation(); // not the grid's arrow keys
  });
  if (input) canvas.addEventListener("click", (e) => view.set({ layer: input, unit: at(e) }));
  const fig = el("figure", { class: "cnn-x-weight", "data-model": model }, el("figcaption", {}, view.label(model)));
  if (meta.rgb) fig.append(rgbKernel(meta.rgb[c]));
  fig.append(canvas, tip);
  fig.append(input
    ? el("p", { class: "cnn-x-caption" }, "Strongest inputs: ",
        ...order.flatMap((k, i) => [view.link(input, k, `${input} ${k}`), ` (${fmt(norm(k))})`,
                                    i < order.length - 1 ? ", " : "."]))
    : el("p", { class: "cnn-x-caption" }, "Left: the 3×3 kernel over red, green and blue as a colour image, "
        + "scaled to its own range (mid-grey: its middle)."));
  return fig;
}

function rgbKernel(w) {
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

export async function renderAM(view, section, layer, c, models) {
  const title = el("h4", {}, "Activation maximisation");
  let index;
  try {
    index = await fetchJSON(file("optimised"));
  } catch (err) {
    section.replaceChildren(title, el("p", {}, `The optimised images could not be loaded: ${err.message}`));
    return;
  }
  if (!section.isConnected) return;
  const parts = models.map((m) => {
    const done = index.units[m]?.[layer.name];
    let body;
    if (done && done.includes(c)) {
      body = el("img", { src: new URL(file("optimised_image", { model: m, layer: layer.name, unit: c }), DATA).href,
                         alt: `An image optimised to excite channel ${c} of ${layer.name}, ${view.label(m)}`,
                         width: "128", height: "128", class: "cnn-x-am-image" });
    } else if (done) {
      body = el("p", { class: "cnn-x-caption" }, "Not computed for this unit. This build optimised the filters ",
        ...done.flatMap((k, i) => [view.link(layer.name, k, String(k)), i < done.length - 1 ? ", " : ""]),
        `: the ${done.length} that the photos excite most.`);
    } else {
      body = el("p", { class: "cnn-x-caption" }, "This build optimises images for the last conv layer of each "
        + `block only (${Object.keys(index.units[m] || {}).join(", ")}).`);
    }
    return el("figure", { class: "cnn-x-am-one", "data-model": m }, el("figcaption", {}, view.label(m)), body);
  });
  section.replaceChildren(title, el("div", { class: "cnn-x-am-row" }, ...parts),
    el("p", { class: "cnn-x-caption" }, `An image optimised to excite this channel: ${index.settings}. `
      + "See the chapter on activation maximisation."));
}
