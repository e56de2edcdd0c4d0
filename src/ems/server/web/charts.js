// Small live line charts for the EMS console, drawn as SVG by this file (no library, no CDN).
// A chart keeps the last POINTS readings of one or two series and redraws on every reading.
"use strict";

const Charts = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const POINTS = 60;
  const WIDTH = 300;
  const HEIGHT = 80;
  const COLOURS = ["#1f4e8c", "#b8640b"];

  function element(name, attributes) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    return node;
  }

  function format(value) {
    if (value >= 100) return Math.round(value).toLocaleString("en");
    return (Math.round(value * 10) / 10).toLocaleString("en");
  }

  class LineChart {
    constructor(container, names) {
      this.names = names;
      this.series = names.map(() => []);
      this.svg = element("svg", {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        preserveAspectRatio: "none",
        class: "line-chart",
      });
      this.title = element("title", {});
      this.svg.append(this.title);
      this.lines = names.map((_, i) =>
        element("polyline", { fill: "none", stroke: COLOURS[i], "stroke-width": 2 })
      );
      this.svg.append(...this.lines);
      this.legend = document.createElement("p");
      this.legend.className = "legend";
      container.replaceChildren(this.svg, this.legend);
    }

    add(values) {
      values.forEach((value, i) => {
        const points = this.series[i];
        points.push(Math.max(0, Number.isFinite(value) ? value : 0));
        if (points.length > POINTS) points.shift();
      });
      this.draw();
    }

    draw() {
      const top = Math.max(1, ...this.series.flat()) * 1.1;
      this.series.forEach((points, i) => {
        const step = WIDTH / (POINTS - 1);
        const offset = (POINTS - points.length) * step;
        const coordinates = points.map(
          (v, j) => `${(offset + j * step).toFixed(1)},${(HEIGHT - (v / top) * HEIGHT).toFixed(1)}`
        );
        this.lines[i].setAttribute("points", coordinates.join(" "));
      });
      const latest = this.names.map((name, i) => {
        const points = this.series[i];
        return `${name} ${format(points.length ? points[points.length - 1] : 0)}`;
      });
      const text = latest.join(" · ");
      this.title.textContent = `Last ${POINTS} readings; now: ${text}`;
      this.svg.setAttribute("aria-label", `now: ${text}`);
      this.legend.replaceChildren(
        ...latest.map((entry, i) => {
          const span = document.createElement("span");
          span.className = `series-${i}`;
          span.textContent = entry;
          return span;
        })
      );
    }
  }

  return { LineChart };
})();
