// Small DOM helpers and the one way a grey block becomes a coloured canvas.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export function svgEl(tag, attrs = {}, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

export function fmt(v) {
  return Number(v).toPrecision(3);
}

export function block(source, x0, y0, w, h) {
  // The grey values of the w x h block at (x0, y0) of a grey source, row by row.
  const { grey, width } = source;
  const values = new Uint8ClampedArray(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) values[y * w + x] = grey[(y0 + y) * width + x0 + x];
  }
  return values;
}

export function paint(values, w, h, gain, lut, cls = "cnn-x-map") {
  // A w x h canvas of grey values coloured through a 256-entry lookup table, after multiplying by gain.
  const canvas = el("canvas", { width: String(w), height: String(h), class: cls });
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = lut[Math.min(255, Math.round(values[i] * gain))];
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export function greyLut() {
  return Array.from({ length: 256 }, (_, i) => [i, i, i]);
}
