import { h } from './dom';

/** Modal dialogs (native <dialog>: focus kept inside, Escape cancels, focus returns to the opener). */

export interface ConfirmOptions {
  title: string;
  message: string | Node;
  confirm: string;
  danger?: boolean;
}

export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const ok = h('button', { type: 'submit', value: 'confirm', class: options.danger ? 'danger' : 'primary' }, options.confirm);
    const form = h('form', { method: 'dialog' }, h('div', { class: 'actions end' }, cancel, ok));
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-message' },
      h('h2', { id: 'dialog-title' }, options.title),
      h('div', { id: 'dialog-message' }, options.message),
      form,
    );
    cancel.addEventListener('click', () => dialog.close('cancel'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice has the focus: Enter does not destroy anything by accident.
    cancel.focus();
  });
}

/** A dialog holding a form; `submit` answers true to close it. */
export function formDialog(
  title: string,
  form: HTMLFormElement,
  submit: () => Promise<boolean>,
): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' }, h('h2', { id: 'dialog-title' }, title), form);
    let saved = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void submit().then((ok) => {
        if (ok) {
          saved = true;
          dialog.close();
        }
      });
    });
    form.querySelector('[data-cancel]')?.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(saved);
    });
    document.body.append(dialog);
    dialog.showModal();
    form.querySelector<HTMLElement>('input, select, textarea')?.focus();
  });
}
