// Fetching what the generator wrote, once per URL (every view after the first is served from memory).
//
// Under generated/figures/feature_maps/explorer/ (see generator/render/explorer.py):
//   index.json                    photos (and their thumbnails), models, layers (sizes, atlas columns,
//                                 receptive-field geometry), colour maps
//   <photo>/<model>.json          per layer and channel: scale (activation of grey 255) and mean
//   <photo>/<model>/<layer>.png   one grey atlas per layer, channel c at tile (c // cols, c % cols)
//   units/<layer>.json            per model: each unit's scale in the unit view, and per photo its mean,
//                                 its peak at full resolution and where that peak is (row * width + column)
//   units/<layer>/<k>.png         units k*chunk .. k*chunk+chunk-1, a row each: one small map per [photo, model]
// and, when the build ran those techniques, the weights (figures/filters/explorer/) and the
// activation-maximisation images (figures/activation_max/explorer/).

export const DATA = new URL("../../generated/figures/feature_maps/explorer/", import.meta.url);
export const GENERATED = new URL("../../generated/", import.meta.url);
export const FIGURES = new URL("../../generated/figures/", import.meta.url);
const cache = new Map(); // url -> Promise

export function fetchJSON(rel, base = DATA) {
  const url = new URL(rel, base).href;
  if (!cache.has(url)) cache.set(url, fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${rel}: HTTP ${r.status}`);
    return r.json();
  }));
  return cache.get(url);
}

export function fetchImage(url) {
  if (!cache.has(url)) cache.set(url, new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${url}: could not load`));
    img.src = url;
  }));
  return cache.get(url);
}

export function fetchGrey(rel, base = DATA) {
  // A grey PNG's values: { grey: Uint8ClampedArray of width x height (one byte per pixel), width, height }.
  const url = new URL(rel, base).href;
  const key = `grey:${url}`;
  if (!cache.has(key)) cache.set(key, fetchImage(url).catch(() => {
    throw new Error(`${rel}: could not load`);
  }).then((img) => {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
    const grey = new Uint8ClampedArray(c.width * c.height);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
    return { grey, width: c.width, height: c.height };
  }));
  return cache.get(key);
}
