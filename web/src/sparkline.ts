const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 120;

export interface Series {
  name: string;
  values: readonly number[];
  className: string;
}

/** Lines of the given series on one scale, newest on the right, with the scale's top as a label. */
export function sparkline(series: readonly Series[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('role', 'img');
  const top = Math.max(1, ...series.flatMap((line) => line.values));
  svg.setAttribute(
    'aria-label',
    `${series.map((line) => line.name).join(' and ')}, up to ${Math.round(top)}`,
  );
  for (const line of series) {
    const step = WIDTH / Math.max(1, line.values.length - 1);
    const points = line.values.map(
      (value, index) => `${(index * step).toFixed(1)},${(HEIGHT - (value / top) * (HEIGHT - 10)).toFixed(1)}`,
    );
    const polyline = document.createElementNS(SVG, 'polyline');
    polyline.setAttribute('points', points.join(' '));
    polyline.setAttribute('class', line.className);
    svg.appendChild(polyline);
  }
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '4');
  label.setAttribute('y', '12');
  label.textContent = `${Math.round(top)}/s`;
  svg.appendChild(label);
  return svg;
}
