import { median, round } from './stats';
import type { Figure, RegistryKind } from './types';

export type RoundResults = Record<RegistryKind, Map<string, Figure>>;

export function figureLine(f: Figure): string {
  return `${f.name} ${round(f.value)} ${f.unit}`;
}

/** Berth's advantage in one round: >1 means Berth is better, whichever direction the figure runs. */
export function advantage(f: Figure, berth: number, reference: number): number {
  if (f.better === 'info') return NaN;
  if (f.better === 'higher') return reference > 0 ? berth / reference : NaN;
  if (berth === 0 && reference === 0) return 1;
  return berth > 0 ? reference / berth : Infinity;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '-' : 'inf';
  return String(round(v));
}

/** The figures of every round, each name once, in the order they first appeared. */
function figuresSeen(rounds: RoundResults[]): Figure[] {
  const names: Figure[] = [];
  const seen = new Set<string>();
  for (const r of rounds) {
    for (const f of [...r.berth.values(), ...r.reference.values()]) {
      if (!seen.has(f.name)) {
        seen.add(f.name);
        names.push(f);
      }
    }
  }
  return names;
}

function perRound(rounds: RoundResults[], f: Figure): { berth: number[]; reference: number[]; advantage: number[] } {
  const berth = rounds.map((r) => r.berth.get(f.name)?.value ?? NaN);
  const reference = rounds.map((r) => r.reference.get(f.name)?.value ?? NaN);
  return { berth, reference, advantage: rounds.map((_, i) => advantage(f, berth[i], reference[i])) };
}

/** The closing table: medians per registry and the median of the per-round advantages. */
export function ratioTable(rounds: RoundResults[]): string[] {
  const names = figuresSeen(rounds);
  const width = Math.max(30, ...names.map((f) => f.name.length)) + 2;
  const lines = [
    `${pad('figure', width)}${pad('unit', 11)}${pad('berth', 11, true)}${pad('reference', 11, true)}${pad('ratio', 9, true)}   per round`,
  ];
  for (const f of names) {
    const { berth: b, reference: ref, advantage: per } = perRound(rounds, f);
    const ratio = f.better === 'info' ? '(info)' : `${fmt(median(per))}x`;
    const perText = f.better === 'info' ? '' : per.map(fmt).join(' ');
    lines.push(`${pad(f.name, width)}${pad(f.unit, 11)}${pad(fmt(median(b)), 11, true)}${pad(fmt(median(ref)), 11, true)}${pad(ratio, 9, true)}   ${perText}`);
  }
  return lines;
}

export interface Mode {
  label: string;
  /** What the mode's figure names start with ('' for the plain groups). */
  prefix: string;
}

/**
 * Berth's median advantage per figure in each mode, side by side: one row per rate or wall time that
 * a prefixed mode measured, one column per mode ('-' where a mode lacks the figure).
 */
export function modeTable(rounds: RoundResults[], modes: Mode[]): string[] {
  const all = figuresSeen(rounds);
  const byName = new Map(all.map((f) => [f.name, f]));
  const bases: string[] = [];
  for (const f of all) {
    const mode = modes.find((m) => m.prefix !== '' && f.name.startsWith(m.prefix));
    const base = mode ? f.name.slice(mode.prefix.length) : null;
    if (base && /-(rate|wall)$/.test(base) && !bases.includes(base)) bases.push(base);
  }
  if (bases.length === 0) return [];
  const width = Math.max(30, ...bases.map((b) => b.length)) + 2;
  const col = Math.max(12, ...modes.map((m) => m.label.length)) + 2;
  const lines = [`${pad('figure', width)}${modes.map((m) => pad(m.label, col, true)).join('')}`];
  for (const base of bases) {
    const cells = modes.map((m) => {
      const f = byName.get(m.prefix + base);
      return pad(f ? `${fmt(median(perRound(rounds, f).advantage))}x` : '-', col, true);
    });
    lines.push(`${pad(base, width)}${cells.join('')}`);
  }
  return lines;
}

/**
 * The insight group's table: per figure measured under `<prefix><mode>-`, Berth in each mode against
 * Berth in `baseline` (its median per-round advantage: > 1 better, 0.95 is 5% slower), then each mode
 * against the reference.
 */
export function insightModeTable(rounds: RoundResults[], prefix: string, modes: readonly string[], baseline: string): string[] {
  const all = figuresSeen(rounds);
  const byName = new Map(all.map((f) => [f.name, f]));
  const bases: string[] = [];
  const head = `${prefix}${baseline}-`;
  for (const f of all) if (f.name.startsWith(head) && f.better !== 'info') bases.push(f.name.slice(head.length));
  if (bases.length === 0) return [];
  const others = modes.filter((m) => m !== baseline);
  const columns = [...others.map((m) => `${m}/${baseline}`), ...modes.map((m) => `${m}/reference`)];
  const width = Math.max(30, ...bases.map((b) => b.length)) + 2;
  const lines = [`${pad('figure', width)}${columns.map((c) => pad(c, 16, true)).join('')}`];
  for (const base of bases) {
    const cells: string[] = [];
    const off = byName.get(head + base)!;
    for (const m of others) {
      const f = byName.get(`${prefix}${m}-${base}`);
      const per = f ? rounds.map((r) => advantage(f, r.berth.get(f.name)?.value ?? NaN, r.berth.get(off.name)?.value ?? NaN)) : [];
      cells.push(f ? `${fmt(median(per))}x` : '-');
    }
    for (const m of modes) {
      const f = byName.get(`${prefix}${m}-${base}`);
      cells.push(f ? `${fmt(median(perRound(rounds, f).advantage))}x` : '-');
    }
    lines.push(`${pad(base, width)}${cells.map((c) => pad(c, 16, true)).join('')}`);
  }
  return lines;
}
