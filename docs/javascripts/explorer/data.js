// Fetching what the generator wrote, once per URL (every view after the first is served from memory).
//
// Everything lives under generated/figures/explorer/ (see generator/chapters/explorer/render.py), and
// index.json lists it: its "files" maps each kind of file to a URL template relative to that folder, which
// file() fills in. The kinds: thumb, scales, atlas (a layer on a photo), units and unit_sheet (the unit
// view), weights and weight_norms, optimised and optimised_image (activation maximisation).
export const DATA = new URL("../../generated/figures/explorer/", import.meta.url);
export const GENERATED = new URL("../../generated/", import.meta.url);
const cache = new Map(); // url -> Promise
let FILES = null; // index.json's "files"

export function useFiles(files) {
  FILES = files;
}

export function file(kind, fields = {}) {
  // The path (relative to DATA) of one file that index.json's "files" lists under `kind`.
  const template = FILES?.[kind];
  if (!template) throw new Error(`index.json lists no "${kind}" files: rebuild the site (nox -s build)`);
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    if (!(name in fields)) throw new Error(`file("${kind}") needs ${name}`);
    return encodeURIComponent(String(fields[name]));
  });
}

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
