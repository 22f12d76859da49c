import { authErrorMessage, register, resetPassword, signIn } from '../auth';
import { button, field, h } from '../dom';
import { submitting, values } from '../forms';
import { announce } from '../messages';

type Mode = 'signin' | 'register' | 'reset';

const TITLES: Record<Mode, string> = {
  signin: 'Sign in',
  register: 'Create an account',
  reset: 'Reset your password',
};

/** Sign in, create an account (e-mail and password) or get a password reset e-mail. */
export function signInView(main: HTMLElement, initial: Mode = 'signin'): void {
  const heading = h('h1', { id: 'auth-title', tabindex: -1 }, TITLES[initial]);
  const panel = h('div', { class: 'auth-panel' });
  const switchTo = (label: string, mode: Mode) => button(label, () => show(mode, true), { class: 'text-button' });

  function show(mode: Mode, focus = false): void {
    heading.textContent = TITLES[mode];
    const form = mode === 'signin' ? signInForm() : mode === 'register' ? registerForm() : resetForm();
    const alternatives =
      mode === 'signin'
        ? [h('p', {}, 'New to MyMONIT? ', switchTo('Create an account', 'register')), h('p', {}, switchTo('Forgot your password?', 'reset'))]
        : mode === 'register'
          ? [h('p', {}, 'Already have an account? ', switchTo('Sign in instead', 'signin'))]
          : [h('p', {}, switchTo('Back to sign in', 'signin'))];
    panel.replaceChildren(form, h('div', { class: 'alternatives' }, alternatives));
    if (focus) form.querySelector('input')?.focus();
  }

  main.replaceChildren(
    h(
      'section',
      { class: 'auth card', 'aria-labelledby': 'auth-title' },
      h('p', { class: 'lead' }, 'Measurements of your experiments, live.'),
      heading,
      panel,
    ),
  );
  show(initial);
}

const emailInput = (value = '') =>
  h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, value, spellcheck: 'false' });

function signInForm(): HTMLFormElement {
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Sign in' },
    field('Email', emailInput()),
    field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const { email, password } = values(form);
    void submitting(form, () => signIn(email.trim(), password), authErrorMessage);
  });
  return form;
}

function registerForm(): HTMLFormElement {
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Create an account' },
    h(
      'p',
      { class: 'hint' },
      'Once your account exists, an administrator must enable it for MyMONIT: the page will then show your user id to give them.',
    ),
    field('Email', emailInput()),
    field(
      'Password',
      h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 8 }),
      'At least 8 characters.',
    ),
    field('Repeat the password', h('input', { type: 'password', name: 'confirm', autocomplete: 'new-password', required: true, minlength: 8 })),
    h('button', { type: 'submit', class: 'primary' }, 'Create the account'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const { email, password, confirm } = values(form);
    void submitting(
      form,
      async () => {
        // eslint-disable-next-line security/detect-possible-timing-attacks -- two fields of the same form, not a secret check
        if (password !== confirm) {
          throw Object.assign(new Error('mismatch'), { code: 'mymonit/mismatch' });
        }
        await register(email.trim(), password);
        announce('Your account was created.', 'success', { keep: true });
      },
      (error) =>
        (error as { code?: string }).code === 'mymonit/mismatch'
          ? 'The two passwords differ: type the same password twice.'
          : authErrorMessage(error),
    );
  });
  return form;
}

function resetForm(): HTMLFormElement {
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Reset your password' },
    h('p', { class: 'hint' }, 'We will send a link to choose a new password to this address.'),
    field('Email', emailInput()),
    h('button', { type: 'submit', class: 'primary' }, 'Send the reset link'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const { email } = values(form);
    void submitting(
      form,
      async () => {
        try {
          await resetPassword(email.trim());
        } catch (error) {
          // Say the same whether or not the address has an account.
          if ((error as { code?: string }).code !== 'auth/user-not-found') throw error;
        }
        announce(`If an account exists for ${email.trim()}, a reset link is on its way: check your mailbox.`, 'success');
      },
      authErrorMessage,
    );
  });
  return form;
}
