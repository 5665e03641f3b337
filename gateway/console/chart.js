/**
 * A line chart in SVG, one line per series, drawn from data (no library, no inline style):
 * time along the bottom, the value up the side.
 */
import { h, svg } from "./dom.js";

const WIDTH = 1000;
const HEIGHT = 260;
const PAD = { left: 56, right: 16, top: 14, bottom: 30 };

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

/** The points split where more than `gap` ms pass between two. */
function runs(points, gap) {
  const out = [];
  for (const point of points) {
    const run = out.at(-1);
    if (run && point[0] - run.at(-1)[0] <= gap) run.push(point);
    else out.push([point]);
  }
  return out;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * series: [{ name, points: [[epochMs, value], ...] }] in time order; from/to: the window
 * (epoch ms); gap: a longer time without a point breaks the line (no values is no reading);
 * unit: what the values are in; label: the chart's accessible description.
 */
export function lineChart({ series, from, to, gap = Infinity, unit, label }) {
  const values = series.flatMap((s) => s.points.map(([, v]) => v));
  const top = niceMax(Math.max(0, ...values));
  const x = (t) => PAD.left + ((t - from) / (to - from)) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);
  const parts = [];
  for (let i = 0; i <= 4; i += 1) {
    const value = (top * i) / 4;
    parts.push(
      svg("line", { class: "gridline", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      svg("text", { x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, `${+value.toFixed(2)}`),
    );
  }
  for (let i = 0; i <= 4; i += 1) {
    const t = from + ((to - from) * i) / 4;
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    parts.push(svg("text", { x: x(t), y: HEIGHT - 8, "text-anchor": anchor }, clock(t)));
  }
  parts.push(
    svg("line", { class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom }),
    svg("text", { x: 4, y: PAD.top + 4 }, unit),
  );
  series.forEach((s, i) => {
    for (const run of runs(s.points, gap)) {
      const points = run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      // a lone point is drawn as a short dash, so that it shows
      const drawn = run.length > 1 ? points : `${points} ${(x(run[0][0]) + 3).toFixed(1)},${y(run[0][1]).toFixed(1)}`;
      parts.push(svg("polyline", { class: `line c${i % 4}`, points: drawn }));
    }
  });
  const chart = svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label },
    parts,
  );
  const legend = h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    series.map((s, i) => h("li", {}, h("span", { class: `key c${i % 4}` }), s.name)),
  );
  return h("figure", { class: "chart-figure" }, chart, series.length > 1 ? legend : null);
}
