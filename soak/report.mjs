/**
 * The soak run's arithmetic and drawings: least-squares growth per hour over the second
 * half of the run (after warm-up), and one SVG line plot per metric, drawn here (no
 * external service, no dependency).
 */

/** The metrics sampled per instance: key, title, unit, scale from the raw value. */
export const METRICS = [
  { key: "rss", title: "Resident memory (RSS)", unit: "MiB", scale: 1 / 2 ** 20 },
  { key: "heapUsed", title: "V8 heap used", unit: "MiB", scale: 1 / 2 ** 20 },
  { key: "heapTotal", title: "V8 heap total", unit: "MiB", scale: 1 / 2 ** 20 },
  { key: "eldP99", title: "Event-loop delay p99", unit: "ms", scale: 1000 },
  { key: "handles", title: "Active libuv resources (handles)", unit: "", scale: 1 },
  { key: "fds", title: "Open file descriptors", unit: "", scale: 1 },
];

/** Least squares of y on x: `{ slope, intercept }` (slope 0 for fewer than 2 points). */
export function linearFit(points) {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: points[0]?.[1] ?? 0 };
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/**
 * Growth per hour of `key` over the samples of the second half of the run (`t` in
 * seconds since the start), in the metric's display unit; with the mean over that half.
 */
export function growthPerHour(samples, key, scale = 1) {
  if (samples.length === 0) return { perHour: Number.NaN, mean: Number.NaN, n: 0 };
  const end = samples[samples.length - 1].t;
  const half = samples.filter((s) => s.t >= end / 2 && Number.isFinite(s[key]));
  const points = half.map((s) => [s.t / 3600, s[key] * scale]);
  const { slope } = linearFit(points);
  const mean = points.reduce((a, [, y]) => a + y, 0) / (points.length || 1);
  return { perHour: slope, mean, n: points.length };
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A "nice" step for about `count` ticks over `span`. */
function niceStep(span, count) {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

const fmt = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3));

/**
 * An SVG line chart: one line per series (`{ label, points: [[tSeconds, value]] }`),
 * minutes on x, `unit` on y (from 0 unless the values are far above it), a shaded
 * second half (where growth is measured).
 */
export function svgPlot({ title, unit, series, width = 720, height = 300 }) {
  const m = { left: 64, right: 16, top: 32, bottom: 44 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const tMax = Math.max(60, ...all.map(([t]) => t));
  let yMax = Math.max(...all.map(([, y]) => y), 0);
  let yMin = Math.min(...all.map(([, y]) => y), 0);
  if (yMin > 0 && yMin > yMax * 0.5) yMin = yMin * 0.9;
  else yMin = Math.min(0, yMin);
  if (yMax === yMin) yMax = yMin + 1;
  const yStep = niceStep(yMax - yMin, 5);
  yMin = Math.floor(yMin / yStep) * yStep;
  yMax = Math.ceil(yMax / yStep) * yStep;
  const x = (t) => m.left + (t / tMax) * w;
  const y = (v) => m.top + h - ((v - yMin) / (yMax - yMin)) * h;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}${unit ? ` (${esc(unit)})` : ""}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<rect x="${x(tMax / 2).toFixed(1)}" y="${m.top}" width="${(w / 2).toFixed(1)}" height="${h}" fill="#f3f3f3"/>`,
    `<text x="${m.left}" y="18" font-size="13" font-weight="bold">${esc(title)}${unit ? ` (${esc(unit)})` : ""}</text>`,
  ];
  for (let v = yMin; v <= yMax + yStep / 2; v += yStep) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${m.left}" x2="${m.left + w}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`,
    );
  }
  const minutes = tMax / 60;
  const tStep = niceStep(minutes, 8);
  for (let mm = 0; mm <= minutes + 1e-9; mm += tStep) {
    const xx = x(mm * 60).toFixed(1);
    out.push(
      `<line x1="${xx}" x2="${xx}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="#333"/>`,
      `<text x="${xx}" y="${m.top + h + 16}" text-anchor="middle">${fmt(mm)}</text>`,
    );
  }
  out.push(
    `<text x="${m.left + w / 2}" y="${height - 8}" text-anchor="middle">minutes (shaded: second half, where growth is measured)</text>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#333"/>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points
      .filter(([, v]) => Number.isFinite(v))
      .map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ");
    out.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${pts}"/>`,
      `<rect x="${m.left + w - 150}" y="${m.top + 6 + i * 16}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${m.left + w - 134}" y="${m.top + 15 + i * 16}">${esc(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
