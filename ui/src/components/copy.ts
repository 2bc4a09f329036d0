import { h } from '../dom';

/** A command shown in full with a button that puts it on the clipboard. */
export function copyCommand(label: string, command: string, announce: (m: string, kind?: 'info' | 'error') => void): HTMLElement {
  const button = h('button', { type: 'button', class: 'copy', 'aria-label': `Copy: ${command}` }, 'Copy');
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(command).then(
      () => {
        button.textContent = 'Copied';
        announce(`Copied: ${command}`);
        setTimeout(() => (button.textContent = 'Copy'), 2000);
      },
      () => announce('The browser refused access to the clipboard: select the command and copy it by hand.', 'error'),
    );
  });
  return h('div', { class: 'command' }, h('span', { class: 'command-label' }, label), h('code', null, command), button);
}
