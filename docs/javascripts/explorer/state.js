// The explorer's state and its URL hash: #photo=chelsea&layer=block4_conv3&unit=213&model=both

export const DEFAULTS = { layer: "block1_conv1", model: "both", unit: null, sort: "index", scale: "channel",
                          cmap: "viridis" };
const OPTIONAL = [["sort", "index"], ["scale", "channel"], ["cmap", "viridis"]]; // written only when not default

export function parseHash(hash) {
  const out = {};
  for (const part of hash.replace(/^#/, "").split("&")) {
    const [k, v] = part.split("=");
    if (k) out[decodeURIComponent(k)] = decodeURIComponent(v || "");
  }
  return out;
}

export function stateFrom(hash, index, layers, current) {
  // The state a hash asks for: each valid value taken, each invalid or missing one kept from ``current``.
  const h = parseHash(hash);
  const s = { ...current };
  if (index.photos.some((p) => p.id === h.photo)) s.photo = h.photo;
  if (layers.has(h.layer)) s.layer = h.layer;
  if (h.model === "both" || index.models.some((m) => m.name === h.model)) s.model = h.model;
  for (const [k, ok] of [["sort", ["index", "activation"]], ["scale", ["channel", "layer"]],
                         ["cmap", [...Object.keys(index.colour_maps), "grey"]]]) {
    if (ok.includes(h[k])) s[k] = h[k];
  }
  const n = layers.get(s.layer).channels;
  const unit = Number.parseInt(h.unit, 10);
  s.unit = Number.isInteger(unit) && unit >= 0 && unit < n ? unit : null;
  return s;
}

export function hashOf(s) {
  const parts = [["photo", s.photo], ["layer", s.layer], ["model", s.model]];
  if (s.unit !== null) parts.push(["unit", s.unit]);
  for (const [k, d] of OPTIONAL) {
    if (s[k] !== d) parts.push([k, s[k]]);
  }
  return "#" + parts.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
}

export function unitHash(s, layer, unit) {
  // A link to another unit on this photo, in this network choice.
  return `#photo=${encodeURIComponent(s.photo)}&layer=${layer}&model=${s.model}&unit=${unit}`;
}
