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

/** The closing table: medians per registry and the median of the per-round advantages. */
export function ratioTable(rounds: RoundResults[]): string[] {
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
  const width = Math.max(30, ...names.map((f) => f.name.length)) + 2;
  const lines = [
    `${pad('figure', width)}${pad('unit', 11)}${pad('berth', 11, true)}${pad('reference', 11, true)}${pad('ratio', 9, true)}   per round`,
  ];
  for (const f of names) {
    const b = rounds.map((r) => r.berth.get(f.name)?.value ?? NaN);
    const ref = rounds.map((r) => r.reference.get(f.name)?.value ?? NaN);
    const per = rounds.map((_, i) => advantage(f, b[i], ref[i]));
    const ratio = f.better === 'info' ? '(info)' : `${fmt(median(per))}x`;
    const perText = f.better === 'info' ? '' : per.map(fmt).join(' ');
    lines.push(`${pad(f.name, width)}${pad(f.unit, 11)}${pad(fmt(median(b)), 11, true)}${pad(fmt(median(ref)), 11, true)}${pad(ratio, 9, true)}   ${perText}`);
  }
  return lines;
}
