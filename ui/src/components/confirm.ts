import { h } from '../dom';

/** A modal dialog (native <dialog>: focus trapped, Escape cancels); resolves true on confirm. */
export function confirmDialog(title: string, body: string, action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const ok = h('button', { type: 'button', class: 'danger', value: 'ok' }, action);
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title', class: 'confirm' }, h('h2', { id: 'confirm-title' }, title), h('p', null, body), h('div', { class: 'actions' }, cancel, ok));
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener('click', () => done(false));
    ok.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
