import { describe, expect, it } from "vitest";
import { growthPerHour, linearFit, svgPlot } from "../../soak/report.mjs";

describe("soak report arithmetic", () => {
  it("fits a line by least squares", () => {
    const fit = linearFit([
      [0, 1],
      [1, 3],
      [2, 5],
      [3, 7],
    ]);
    expect(fit.slope).toBeCloseTo(2, 10);
    expect(fit.intercept).toBeCloseTo(1, 10);
    // Noise around a flat line: slope 0.
    expect(
      linearFit([
        [0, 5],
        [1, 6],
        [2, 6],
        [3, 5],
      ]).slope,
    ).toBeCloseTo(0, 10);
    expect(linearFit([[4, 9]])).toEqual({ slope: 0, intercept: 9 });
  });

  it("measures growth per hour over the second half only (after warm-up)", () => {
    // First half (warm-up): a steep climb; second half: 60 MiB per hour exactly.
    const samples = [];
    for (let t = 0; t <= 1800; t += 10) {
      const mib = t < 900 ? t / 10 : 90 + ((t - 900) / 3600) * 60;
      samples.push({ t, rss: mib * 2 ** 20 });
    }
    const g = growthPerHour(samples, "rss", 1 / 2 ** 20);
    expect(g.perHour).toBeCloseTo(60, 6);
    expect(g.n).toBe(91);
    expect(g.mean).toBeCloseTo(97.5, 6);
    // Samples without the metric (a failed scrape) are left out, not counted as 0.
    const gaps = samples.map((s, i) => (i % 2 === 0 ? s : { t: s.t, rss: Number.NaN }));
    expect(growthPerHour(gaps, "rss", 1 / 2 ** 20).perHour).toBeCloseTo(60, 6);
  });

  it("draws one polyline per series, labels escaped", () => {
    const svg = svgPlot({
      title: "RSS <test>",
      unit: "MiB",
      series: [
        {
          label: "instance #1",
          points: [
            [0, 10],
            [60, 12],
            [120, Number.NaN],
            [180, 11],
          ],
        },
        {
          label: "a & b",
          points: [
            [0, 20],
            [180, 21],
          ],
        },
      ],
    });
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain("<title>RSS &lt;test&gt; (MiB)</title>");
    expect(svg).toContain(">a &amp; b<");
    expect(svg).not.toContain("NaN");
  });
});
