// Boxes and labels on a canvas, one colour per class.

// Distinct, saturated colours (Sasha Trubetskoy's list, the readable ones).
const PALETTE = [
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45',
  '#469990', '#9a6324', '#800000', '#808000', '#000075', '#ffe119', '#dcbeff', '#aaffc3',
];

export function colorFor(classId) {
  const i = Number.isInteger(classId) && classId >= 0 ? classId : 0;
  return PALETTE[i % PALETTE.length];
}

export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function textColorOn(hex) {
  const [r, g, b] = hexToRgb(hex);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000000' : '#ffffff';
}

// Draws detections (boxes in the picture's pixels, scaled by sx, sy to the
// canvas) and returns what it drew, in canvas pixels, strongest last (on top).
export function drawDetections(ctx, detections, { sx = 1, sy = 1, lineWidth, label } = {}) {
  const cw = ctx.canvas.width;
  const ch = ctx.canvas.height;
  const lw = lineWidth || Math.max(3, Math.round(Math.max(cw, ch) / 250));
  const fontPx = Math.max(12, Math.round(lw * 4.5));
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  const drawn = [];
  const sorted = [...detections].sort((a, b) => a.confidence - b.confidence);
  for (const d of sorted) {
    const color = colorFor(d.class_id);
    const x1 = Math.round(d.box.x1 * sx);
    const y1 = Math.round(d.box.y1 * sy);
    const x2 = Math.round(d.box.x2 * sx);
    const y2 = Math.round(d.box.y2 * sy);
    const w = Math.max(lw, x2 - x1);
    const h = Math.max(lw, y2 - y1);
    ctx.fillStyle = color;
    // Four solid strips inside the box: crisp edges of exactly this colour.
    ctx.fillRect(x1, y1, w, lw);
    ctx.fillRect(x1, y1 + h - lw, w, lw);
    ctx.fillRect(x1, y1, lw, h);
    ctx.fillRect(x1 + w - lw, y1, lw, h);
    const text = label ? label(d) : `${d.label} ${(d.confidence * 100).toFixed(0)}%`;
    const tw = Math.ceil(ctx.measureText(text).width) + 2 * lw;
    const th = fontPx + lw;
    const ty = y1 - th >= 0 ? y1 - th : y1 + lw;  // above the box, or inside when at the top
    const tx = Math.min(Math.max(0, x1), Math.max(0, cw - tw));
    ctx.fillRect(tx, ty, tw, th);
    ctx.fillStyle = textColorOn(color);
    ctx.fillText(text, tx + lw, ty + Math.round(lw / 2));
    drawn.push({ label: d.label, confidence: d.confidence, track_id: d.track_id ?? null, color, rgb: hexToRgb(color),
                 x1, y1, x2: x1 + w, y2: y1 + h, lineWidth: lw });
  }
  return drawn;
}
