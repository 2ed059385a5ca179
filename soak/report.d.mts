/** Types of soak/report.mjs (for test/soak/report.test.ts). */
export interface Metric {
  key: string;
  title: string;
  unit: string;
  scale: number;
}
export const METRICS: Metric[];
export function linearFit(points: Array<[number, number]>): { slope: number; intercept: number };
export function growthPerHour(
  samples: Array<{ t: number } & Record<string, number>>,
  key: string,
  scale?: number,
): { perHour: number; mean: number; n: number };
export function svgPlot(input: {
  title: string;
  unit: string;
  series: Array<{ label: string; points: Array<[number, number]> }>;
  width?: number;
  height?: number;
}): string;
export function table(header: string[], rows: string[][]): string;
