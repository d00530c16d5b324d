// Receptive fields, from the geometry the generator wrote for each layer (index.json's
// layers[].receptive_field: size, jump and start in input pixels, from generator.chapters.explorer.render).

export function storedPixelBox(layer, x, y) {
  // The input square that stored map pixel (x, y) sees, in input pixels [x0, y0, x1, y1] (not clipped).
  // A stored pixel of a map averaged down ``factor`` times covers factor x factor true ones.
  const { size, jump, start } = layer.receptive_field;
  const f = layer.factor;
  const lo = (i) => start + jump * i * f - size / 2;
  const hi = (i) => start + jump * (i * f + f - 1) + size / 2;
  return [lo(x), lo(y), hi(x), hi(y)];
}

export function fieldAt(layer, at) {
  // The receptive field of the full-resolution map pixel at flat index ``at`` (row * width + column).
  const { size, jump, start } = layer.receptive_field;
  const x = at % layer.width, y = Math.floor(at / layer.width);
  const cx = start + jump * x, cy = start + jump * y;
  return { x, y, cx, cy, box: [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2] };
}

export function exampleOrder(photos, units, model, c) {
  // The photos by the unit's peak, strongest first (ties by photo id), each with its peak and where it is.
  return photos.map((p) => ({ photo: p, peak: units.peak[model][p.id][c], at: units.argmax[model][p.id][c] }))
    .sort((a, b) => b.peak - a.peak || a.photo.id.localeCompare(b.photo.id));
}
