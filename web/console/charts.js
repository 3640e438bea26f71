// uPlot wrappers: category bar charts (usage per day / per model) and a
// rolling time-series line chart (live metrics). uPlot is the global the
// classic script /console/uplot.js defines.

const live = new Set();

function css(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function widthOf(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.parentElement?.clientWidth || 600));
}

export function hasCharts() {
  return typeof window.uPlot === 'function';
}

function track(el, chart) {
  el._chart = chart;
  live.add(chart);
  if (!el._observer && 'ResizeObserver' in window) {
    el._observer = new ResizeObserver(() => {
      if (el._chart) el._chart.setSize({ width: widthOf(el), height: el._chart.height });
    });
    el._observer.observe(el);
  }
}

export function destroyChart(el) {
  if (el && el._chart) {
    live.delete(el._chart);
    el._chart.destroy();
    el._chart = null;
  }
}

// One bar per category. labels: category names; values: numbers.
export function barChart(el, labels, values, { series = 'value', xLabel = '', format = (v) => String(v), height = 220 } = {}) {
  destroyChart(el);
  el.replaceChildren();
  if (!hasCharts()) {
    el.textContent = 'Charts are unavailable (the uPlot script did not load); the table below has the numbers.';
    return null;
  }
  const U = window.uPlot;
  const xs = labels.map((_, i) => i);
  const axisColor = css('--fg-muted', '#555');
  const gridColor = css('--border', '#ddd');
  const color = css('--accent', '#1f5fbf');
  const many = labels.length > 6;
  const opts = {
    width: widthOf(el),
    height,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false, range: () => [-0.5, Math.max(labels.length, 1) - 0.5] },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      { stroke: axisColor, grid: { show: false }, ticks: { show: false },
        splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] ?? ''),
        rotate: many ? -40 : 0, size: many ? 70 : 40 },
      { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, size: 64,
        values: (u, splits) => splits.map((v) => format(v)) },
    ],
    series: [
      { label: xLabel, value: (u, i) => (i == null ? '' : labels[i] ?? '') },
      { label: series, stroke: color, fill: color + 'b0', width: 1, points: { show: false },
        value: (u, v) => (v == null ? '' : format(v)),
        paths: U.paths && U.paths.bars ? U.paths.bars({ size: [0.6, 80], align: 0 }) : undefined },
    ],
  };
  const chart = new U(opts, [xs, values], el);
  track(el, chart);
  return chart;
}

// A line chart over time (x: unix seconds). names: series labels.
export function timeChart(el, names, { height = 200, format = (v) => String(v) } = {}) {
  destroyChart(el);
  el.replaceChildren();
  if (!hasCharts()) {
    el.textContent = 'Charts are unavailable (the uPlot script did not load).';
    return null;
  }
  const U = window.uPlot;
  const colors = [css('--accent', '#1f5fbf'), css('--accent-2', '#b3261e'), '#2e7d32'];
  const axisColor = css('--fg-muted', '#555');
  const gridColor = css('--border', '#ddd');
  const opts = {
    width: widthOf(el),
    height,
    // At least the last five minutes, so a few samples do not stretch over years.
    scales: { x: { time: true, range: (u, min, max) => [Math.min(min ?? max, max - 300), max + 5] },
              y: { range: (u, min, max) => [0, max > 0 ? max * 1.2 : 1] } },
    axes: [
      { stroke: axisColor, grid: { stroke: gridColor, width: 1 } },
      { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, size: 56, values: (u, s) => s.map(format) },
    ],
    series: [{}, ...names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 2,
                                          value: (u, v) => (v == null ? '' : format(v)) }))],
  };
  const chart = new U(opts, [[], ...names.map(() => [])], el);
  track(el, chart);
  return chart;
}
