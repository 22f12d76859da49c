import { ApiError, errorMessage, type FieldError } from './api';
import { h } from './dom';
import { announce } from './messages';

/** Form plumbing: values, field errors next to their inputs, a busy submit button. */

export function values(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new FormData(form)) out[name] = typeof value === 'string' ? value : '';
  return out;
}

export function clearErrors(form: HTMLFormElement): void {
  form.querySelectorAll('.field-error, .form-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((control) => {
    control.removeAttribute('aria-invalid');
    const describedBy = (control.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id) => id && !id.endsWith('-error'))
      .join(' ');
    if (describedBy) control.setAttribute('aria-describedby', describedBy);
    else control.removeAttribute('aria-describedby');
  });
}

/** "body.email" → the form's control named "email"; anything else goes to the form's summary. */
export function showErrors(form: HTMLFormElement, message: string, errors: FieldError[] = []): void {
  clearErrors(form);
  const unplaced: FieldError[] = [];
  let first: HTMLElement | null = null;
  for (const error of errors) {
    const name = error.field.replace(/^(body|query|params)\./, '');
    const control = form.elements.namedItem(name);
    if (!(control instanceof HTMLElement)) {
      unplaced.push(error);
      continue;
    }
    const id = `${control.id || name}-error`;
    const note = h('p', { class: 'field-error', id }, error.message);
    control.insertAdjacentElement('afterend', note);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') ?? ''} ${id}`.trim());
    first ??= control;
  }
  const summary = h(
    'div',
    { class: 'form-error' },
    h('p', {}, message),
    unplaced.length > 0 ? h('ul', {}, unplaced.map((e) => h('li', {}, `${e.field.replace(/^body\./, '')}: ${e.message}`))) : null,
  );
  form.prepend(summary);
  announce(message, 'error');
  first?.focus();
}

/** Runs a form's action with its submit button disabled; shows what went wrong in words. */
export async function submitting(
  form: HTMLFormElement,
  action: () => Promise<void>,
  describe: (error: unknown) => string = errorMessage,
): Promise<boolean> {
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]');
  clearErrors(form);
  if (submit) submit.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await action();
    return true;
  } catch (error) {
    showErrors(form, describe(error), error instanceof ApiError ? error.fieldErrors : []);
    return false;
  } finally {
    if (submit) submit.disabled = false;
    form.removeAttribute('aria-busy');
  }
}
