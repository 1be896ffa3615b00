"use strict";
// A small time-series line chart on a <canvas>: a rolling window of points,
// a few series, a nice-numbered y axis. Each series' last and highest value
// in the window is also kept on the canvas as data-last-<key> and
// data-max-<key> (what a test or a screen reader can read).

(() => {
  Roost.LineChart = class {
    /** series: [{key, name, color, dash}] (dash: a canvas line dash, so
     *  equal series stay apart); windowMs: how much history to keep. */
    constructor(canvas, { series, windowMs = 5 * 60 * 1000 }) {
      this.canvas = canvas;
      this.series = series;
      this.windowMs = windowMs;
      this.points = []; // [{t, values: {key: number}}], oldest first
      // Redrawn to the new size; the listener goes with the canvas.
      const resize = () => {
        if (canvas.isConnected) this.draw();
        else window.removeEventListener("resize", resize);
      };
      window.addEventListener("resize", resize);
    }

    /** Adds a point (t in epoch milliseconds); points older than the window go. */
    push(t, values) {
      const last = this.points[this.points.length - 1];
      if (last && t <= last.t) return;
      this.points.push({ t, values });
      const oldest = t - this.windowMs;
      while (this.points.length > 2 && this.points[0].t < oldest) this.points.shift();
      this.publish();
      this.draw();
    }

    publish() {
      const d = this.canvas.dataset;
      d.points = this.points.length;
      for (const s of this.series) {
        const vals = this.points.map((p) => p.values[s.key]).filter((v) => typeof v === "number");
        d["last" + cap(s.key)] = vals.length ? vals[vals.length - 1] : "";
        d["max" + cap(s.key)] = vals.length ? Math.max(...vals) : "";
      }
    }

    draw() {
      const c = this.canvas;
      const ratio = window.devicePixelRatio || 1;
      const w = c.clientWidth, hgt = c.clientHeight;
      if (!w || !hgt) return;
      if (c.width !== Math.round(w * ratio) || c.height !== Math.round(hgt * ratio)) {
        c.width = Math.round(w * ratio);
        c.height = Math.round(hgt * ratio);
      }
      const g = c.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, w, hgt);
      const style = getComputedStyle(c);
      const dim = style.getPropertyValue("--dim") || "#8393a1";
      const line = style.getPropertyValue("--line") || "#26313b";
      const pad = { l: 52, r: 12, t: 10, b: 22 };
      const pw = w - pad.l - pad.r, ph = hgt - pad.t - pad.b;

      // The x axis spans the points kept (a minute at least, the window at
      // most), so a young broker's history is not squeezed to the right.
      const now = this.points.length ? this.points[this.points.length - 1].t : Date.now();
      const first = this.points.length ? this.points[0].t : now;
      const span = Math.min(this.windowMs, Math.max(60 * 1000, now - first));
      const t0 = now - span;
      let top = 0;
      for (const p of this.points) for (const s of this.series) {
        const v = p.values[s.key];
        if (typeof v === "number" && v > top) top = v;
      }
      const { max, step } = niceScale(top);
      const x = (t) => pad.l + ((t - t0) / span) * pw;
      const y = (v) => pad.t + ph - (v / max) * ph;

      g.font = "11px ui-sans-serif, system-ui, sans-serif";
      g.lineWidth = 1;
      g.textBaseline = "middle";
      g.textAlign = "right";
      for (let v = 0; v <= max + step / 2; v += step) {
        g.strokeStyle = line;
        g.beginPath();
        g.moveTo(pad.l, Math.round(y(v)) + 0.5);
        g.lineTo(w - pad.r, Math.round(y(v)) + 0.5);
        g.stroke();
        g.fillStyle = dim;
        g.fillText(short(v), pad.l - 6, y(v));
      }
      g.textBaseline = "top";
      g.textAlign = "left";
      g.fillText(new Date(t0).toLocaleTimeString(), pad.l, hgt - pad.b + 6);
      g.textAlign = "right";
      g.fillText(new Date(now).toLocaleTimeString(), w - pad.r, hgt - pad.b + 6);

      g.save();
      g.beginPath();
      g.rect(pad.l, pad.t - 2, pw, ph + 4);
      g.clip();
      g.lineWidth = 2;
      g.lineJoin = "round";
      // In order: a dashed series drawn over an equal solid one shows both.
      for (const s of this.series) {
        g.strokeStyle = s.color;
        g.setLineDash(s.dash || []);
        g.beginPath();
        let started = false;
        for (const p of this.points) {
          const v = p.values[s.key];
          if (typeof v !== "number") { started = false; continue; }
          if (started) g.lineTo(x(p.t), y(v));
          else { g.moveTo(x(p.t), y(v)); started = true; }
        }
        g.stroke();
      }
      g.restore();
    }
  };

  /** A y axis top at or above `top` with 4 or 5 round steps (1, 2 or 5 × 10^n). */
  function niceScale(top) {
    if (!(top > 0)) return { max: 1, step: 0.25 };
    const rough = top / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= rough);
    return { max: Math.ceil(top / step) * step, step };
  }

  function short(v) {
    if (v >= 1e6) return +(v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return +(v / 1e3).toFixed(1) + "k";
    return String(+v.toFixed(2));
  }

  function cap(k) { return k.charAt(0).toUpperCase() + k.slice(1); }
})();
