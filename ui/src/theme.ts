import { h } from './dom';

type Theme = 'light' | 'dark';
const KEY = 'berth-ui-theme';

/** The theme follows prefers-color-scheme until the user picks one; the choice (not a secret) is kept. */
export function themeToggle(): HTMLButtonElement {
  const root = document.documentElement;
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') root.dataset.theme = saved;
  const current = (): Theme => (root.dataset.theme as Theme | undefined) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const button = h('button', { type: 'button', class: 'theme-toggle' });
  const label = () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    button.textContent = next === 'dark' ? 'Dark theme' : 'Light theme';
    button.setAttribute('aria-label', `Switch to the ${next} theme`);
  };
  button.addEventListener('click', () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    localStorage.setItem(KEY, next);
    label();
  });
  label();
  return button;
}
