import type { Page } from 'playwright-core';

/** A piece of visible text whose contrast with what is behind it is below WCAG's minimum. */
export interface ContrastFailure {
  text: string;
  ratio: number;
  color: string;
  background: string;
}

/**
 * Runs in the page: for every visible element holding text of its own, the WCAG 2 contrast ratio of
 * its colour against the first opaque background behind it (its own or an ancestor's), with the
 * element's opacity applied. Disabled controls are exempt, as WCAG exempts them. SVG text is drawn
 * with `fill`, not `color`, and is left to the table the chart comes with.
 */
const MEASURE = `(() => {
  const rgb = (s) => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const over = (top, bottom) => ({ r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const behind = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c.a === 1 ? c : over(c, behind(e.parentElement) || { r: 255, g: 255, b: 255, a: 1 }); } return rgb(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 }; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.closest('[hidden]') || el.matches(':disabled')) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!own) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || rect.right < 0 || rect.bottom < 0) continue;
    const bg = behind(el);
    let fg = rgb(style.color);
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    fg = over({ ...fg, a: fg.a * opacity }, bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push({ text: el.textContent.trim().slice(0, 60), ratio: Math.round(ratio * 100) / 100, color: style.color, background: 'rgb(' + [bg.r, bg.g, bg.b].map(Math.round).join(', ') + ')' });
  }
  return out;
})()`;

/** Every text on the page below WCAG AA contrast (4.5:1, 3:1 for large text). */
export function contrastFailures(page: Page): Promise<ContrastFailure[]> {
  return page.evaluate<ContrastFailure[]>(MEASURE);
}
