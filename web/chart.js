// chart.js: a small hand-written canvas line chart for Pretext's training
// curve. Series on a left axis share an auto-scaled range starting at 0;
// series on the right axis use a fixed 0-1 range shown as 0-100%. It draws
// a few tick labels, a legend, and (once there are enough points) a faint
// per-step line under a smoothed one. A sparse series, measured at some
// steps only, is its points (those that have its key) joined by a line,
// never smoothed, and is left out of the legend until it has one. It
// follows the canvas's CSS size and the device pixel ratio.

const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const PAD = { left: 52, right: 48, top: 30, bottom: 36 };
const COLORS = { text: "#3d4450", grid: "#e3e6ea", axis: "#9aa1ab", empty: "#6b7280" };
const SMOOTH_FROM = 20; // points before the smoothed line appears
const SMOOTHING = 0.85; // EMA weight of the past

// niceStep is a round tick spacing (1, 2, 2.5 or 5 times a power of ten)
// that splits range into about count parts; integer spacing if asked.
export function niceStep(range, count, integer) {
  const raw = range / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / mag;
  const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
  return integer ? Math.max(1, Math.ceil(step)) : step;
}

// decimals is how many digits tick labels at spacing step need.
export function decimals(step) {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

// smooth is a debiased exponential moving average (TensorBoard's), which
// skips missing values.
export function smooth(values) {
  let ema = 0;
  let weight = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return NaN;
    ema = SMOOTHING * ema + (1 - SMOOTHING) * v;
    weight = SMOOTHING * weight + (1 - SMOOTHING);
    return ema / weight;
  });
}

// scales maps a chart's data onto the plot box {l, r, t, b} (CSS pixels,
// y downwards): points ({step, [series key]: value}), series (the chart's
// options.series) and xMax, the run's last step. It returns xs (step to
// x), yLeft and yRight (value to y), the left axis's range [lbot, ltop]
// and tick spacing lstep, and the tick values of the left and x axes.
export function scales(points, series, xMax, box) {
  const n = points.length;
  // x: from just before the first point (0 for a fresh run, later after
  // an imported model) to the run's last step.
  const x0 = n ? Math.max(0, points[0].step - 1) : 0;
  const x1 = Math.max(xMax || 0, n ? points[n - 1].step : 0, x0 + 1);
  const xs = (v) => box.l + ((v - x0) / (x1 - x0)) * (box.r - box.l);
  // left: 0 to a round number above the largest value, or from a round
  // number below the smallest when some are negative (SimSiam's loss is
  // a negative cosine).
  let lmax = 0;
  let lmin = 0;
  for (const s of series) {
    if (s.axis === "right") continue;
    for (const p of points) {
      if (!Number.isFinite(p[s.key])) continue;
      lmax = Math.max(lmax, p[s.key]);
      lmin = Math.min(lmin, p[s.key]);
    }
  }
  const lrange = lmax - lmin;
  const lstep = niceStep(lrange > 0 ? lrange : 1, Math.max(2, Math.floor((box.b - box.t) / 45)));
  const lbot = lmin < 0 ? Math.floor(lmin / lstep + 1e-9) * lstep : 0;
  const ltop = lmin < 0 && lmax === 0 ? 0 : Math.max(lbot + lstep, Math.ceil(lmax / lstep - 1e-9) * lstep);
  const yLeft = (v) => box.b - ((v - lbot) / (ltop - lbot)) * (box.b - box.t);
  const yRight = (v) => box.b - v * (box.b - box.t);
  const leftTicks = [];
  for (let i = 0; lbot + i * lstep <= ltop + lstep / 2; i++) leftTicks.push(lbot + i * lstep);
  const xstep = niceStep(x1 - x0, Math.max(2, Math.floor((box.r - box.l) / 80)), true);
  const xTicks = [];
  for (let v = Math.ceil(x0 / xstep) * xstep; v <= x1 + 1e-9; v += xstep) xTicks.push(v);
  return { x0, x1, xs, yLeft, yRight, lbot, ltop, lstep, leftTicks, xstep, xTicks };
}

// seriesPoints is the points series s draws: all of them, or for a sparse
// series those that have its key.
export function seriesPoints(points, s) {
  return s.sparse ? points.filter((p) => Number.isFinite(p[s.key])) : points;
}

// legendSeries is the series the legend names: a sparse series only once
// it has a point.
export function legendSeries(series, points) {
  return series.filter((s) => !s.sparse || points.some((p) => Number.isFinite(p[s.key])));
}

export class LineChart {
  // options: {series: [{key, label, short, color, axis: "left" | "right",
  // sparse}], xLabel, emptyText}.
  constructor(canvas, options) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.options = Object.assign({ series: [], xLabel: "step", emptyText: "" }, options);
    this.points = [];
    this.xMax = 0;
    this.frame = 0;
    if (window.ResizeObserver) new ResizeObserver(() => this.schedule()).observe(canvas);
    window.addEventListener("resize", () => this.schedule());
    this.watchPixelRatio();
    this.schedule();
  }

  // update sets the points ({step, [series key]: value}) and the last step
  // of the run (the x axis's end), and redraws now. Call it from a frame.
  update(points, xMax) {
    this.points = points;
    this.xMax = xMax || 0;
    this.draw();
  }

  // schedule redraws on the next animation frame (at most once a frame).
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  // watchPixelRatio redraws when the window moves to a screen with another
  // pixel density (zooming also fires resize).
  watchPixelRatio() {
    if (!window.matchMedia) return;
    const mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    if (!mq.addEventListener) return;
    mq.addEventListener("change", () => {
      this.schedule();
      this.watchPixelRatio();
    }, { once: true });
  }

  draw() {
    const { canvas, ctx, options } = this;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight; // fixed by CSS, so resizing the bitmap cannot loop
    if (!width || !height) return;
    const dpr = window.devicePixelRatio || 1;
    const bw = Math.round(width * dpr);
    const bh = Math.round(height * dpr);
    if (canvas.width !== bw || canvas.height !== bh) {
      canvas.width = bw;
      canvas.height = bh;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    const box = { l: PAD.left, r: width - PAD.right, t: PAD.top, b: height - PAD.bottom };
    if (box.r - box.l < 40 || box.b - box.t < 40) return;

    const pts = this.points;
    const n = pts.length;
    const { xs, yLeft, yRight, lstep, leftTicks, xTicks } = scales(pts, options.series, this.xMax, box);

    const line = (ax, ay, bx, by) => {
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.stroke();
    };

    // Grid lines and left ticks.
    ctx.lineWidth = 1;
    ctx.fillStyle = COLORS.text;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const ld = decimals(lstep);
    for (const v of leftTicks) {
      const y = Math.round(yLeft(v)) + 0.5;
      ctx.strokeStyle = COLORS.grid;
      line(box.l, y, box.r, y);
      ctx.fillText(v.toFixed(ld), box.l - 6, y);
    }
    // Right ticks: 0-100%.
    ctx.textAlign = "left";
    for (const v of [0, 0.25, 0.5, 0.75, 1]) ctx.fillText(Math.round(v * 100) + "%", box.r + 6, yRight(v));
    // x ticks.
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.strokeStyle = COLORS.axis;
    for (const v of xTicks) {
      const x = Math.round(xs(v)) + 0.5;
      line(x, box.b, x, box.b + 4);
      ctx.fillText(String(Math.round(v)), x, box.b + 6);
    }
    ctx.fillText(options.xLabel, (box.l + box.r) / 2, box.b + 21);
    // Axes.
    line(box.l + 0.5, box.t, box.l + 0.5, box.b);
    line(box.r + 0.5, box.t, box.r + 0.5, box.b);
    line(box.l, box.b + 0.5, box.r, box.b + 0.5);

    // Series, clipped to the plot.
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.l, box.t - 2, box.r - box.l, box.b - box.t + 4);
    ctx.clip();
    for (const s of options.series) this.drawSeries(s, xs, s.axis === "right" ? yRight : yLeft, box);
    ctx.restore();

    this.drawLegend(box);
    if (!n && options.emptyText) {
      ctx.fillStyle = COLORS.empty;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(options.emptyText, (box.l + box.r) / 2, (box.t + box.b) / 2);
    }
  }

  drawSeries(s, xs, ys, box) {
    const ctx = this.ctx;
    const pts = seriesPoints(this.points, s);
    const n = pts.length;
    if (!n) return;
    const raw = pts.map((p) => p[s.key]);
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineJoin = "round";
    if (s.sparse) {
      // A few measures: every one a dot, joined in order.
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(xs(p.step), ys(raw[i])) : ctx.moveTo(xs(p.step), ys(raw[i]))));
      ctx.stroke();
      for (const p of pts) {
        ctx.beginPath();
        ctx.arc(xs(p.step), ys(p[s.key]), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      return;
    }
    if (n === 1) {
      if (!Number.isFinite(raw[0])) return;
      ctx.beginPath();
      ctx.arc(xs(pts[0].step), ys(raw[0]), 3, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    // Long runs: at most about one raw point per pixel column.
    const stride = Math.max(1, Math.floor(n / (box.r - box.l)));
    const trace = (values) => {
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < n; i++) {
        if (i % stride && i !== n - 1) continue;
        const v = values[i];
        if (!Number.isFinite(v)) {
          pen = false;
          continue;
        }
        const x = xs(pts[i].step);
        const y = ys(v);
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
    };
    if (n < SMOOTH_FROM) {
      ctx.lineWidth = 2;
      trace(raw);
      return;
    }
    ctx.globalAlpha = 0.28;
    ctx.lineWidth = 1;
    trace(raw);
    ctx.globalAlpha = 1;
    ctx.lineWidth = 2;
    trace(smooth(raw));
  }

  // drawLegend draws each series' swatch and label above the plot, with
  // the short labels when the long ones do not fit.
  drawLegend(box) {
    const ctx = this.ctx;
    const y = Math.round(PAD.top / 2);
    let x = box.l;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const series = legendSeries(this.options.series, this.points);
    const width = (labels) => labels.reduce((w, l) => w + 44 + ctx.measureText(l).width, 0);
    const short = width(series.map((s) => s.label)) > this.canvas.clientWidth - box.l;
    for (const s of series) {
      const label = short && s.short ? s.short : s.label;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 18, y);
      ctx.stroke();
      ctx.fillStyle = COLORS.text;
      ctx.fillText(label, x + 24, y);
      x += 24 + ctx.measureText(label).width + 20;
    }
  }
}
