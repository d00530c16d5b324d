// The unit's bar chart: its mean activation on every photo, per network, with its peak as a tick.
import { el, fmt, svgEl } from "./dom.js";

export function bars(view, layer, c, models, units) {
  const colour = Object.fromEntries(view.index.models.map((m) => [m.name, m.colour])); // the site's plot colours
  const photos = view.index.photos;
  // each network on its own scale: their activations can differ by orders of magnitude (a trained mean of 720
  // against an untrained 0.015), and one shared scale would hide the smaller network's bars entirely
  const top = Object.fromEntries(models.map((m) => [m, Math.max(1e-12, ...photos.map((p) => units.peak[m][p.id][c]))]));
  const W = 640, H = 150, left = 8, bottom = 36, group = (W - left) / photos.length, bw = (group - 12) / models.length;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "cnn-x-bar-chart", role: "img",
                             "aria-label": `${layer.name} channel ${c}: mean activation per photo` });
  const y = (v, m) => (H - bottom) * (1 - v / top[m]);
  photos.forEach((p, i) => {
    const g = svgEl("g", { class: "cnn-x-bar-group", "data-photo": p.id });
    g.addEventListener("click", () => view.set({ photo: p.id, unit: c }));
    models.forEach((m, k) => {
      const mean = units.mean[m][p.id][c], peak = units.peak[m][p.id][c];
      const x = left + i * group + 6 + k * bw;
      const bar = svgEl("rect", { x, y: y(mean, m), width: bw - 2, height: (H - bottom) - y(mean, m),
                                  fill: colour[m] || "#888", class: "cnn-x-bar", "data-model": m,
                                  "data-value": String(mean) });
      bar.append(svgEl("title", {}, `${p.title}, ${m}: mean ${fmt(mean)}, peak ${fmt(peak)}`));
      g.append(bar, svgEl("line", { x1: x, x2: x + bw - 2, y1: y(peak, m), y2: y(peak, m),
                                    stroke: colour[m] || "#888", "stroke-width": 2 }));
    });
    const label = svgEl("text", { x: left + i * group + group / 2, y: H - bottom + 14, "text-anchor": "middle",
                                  class: "cnn-x-bar-label" });
    label.textContent = p.id === view.state.photo ? `▸ ${p.id}` : p.id;
    g.append(label);
    svg.append(g);
  });
  const legend = models.map((m) => view.label(m)).join(" and ");
  return el("figure", { class: "cnn-x-bars" }, svg, el("figcaption", {},
    `Channel ${c} of ${layer.name} on every photo: mean activation (bars) and peak at full resolution `
    + `(ticks), ${legend}, each network scaled to its own largest peak`
    + (models.length > 1 ? ` (${models.map((m) => `${view.label(m)}: ${fmt(top[m])}`).join("; ")})` : "")
    + ". Click a photo to show it."));
}
