import { button, h } from '../dom';
import { announce } from '../messages';

/** A Firebase identity that is no MyMONIT user (yet): /me answered 403. */
export function notEnabledView(
  main: HTMLElement,
  uid: string,
  email: string | null,
  actions: { retry: () => void; signOut: () => void },
): void {
  const copy = button('Copy the user id', () => {
    navigator.clipboard
      .writeText(uid)
      .then(() => announce('The user id was copied.', 'success'))
      .catch(() => announce('The user id could not be copied: select it and copy it by hand.', 'error'));
  });
  main.replaceChildren(
    h(
      'section',
      { class: 'card narrow', 'aria-labelledby': 'not-enabled-title' },
      h('h1', { id: 'not-enabled-title', tabindex: -1 }, 'Account not enabled'),
      h(
        'p',
        { class: 'notice', id: 'not-enabled' },
        'Your account is not yet enabled: ask an administrator to add you. Your user id for them: ',
        h('code', { id: 'uid', class: 'uid' }, uid),
      ),
      email ? h('p', {}, 'Signed in as ', h('strong', {}, email), '.') : null,
      h(
        'div',
        { class: 'actions' },
        copy,
        button('Check again', actions.retry),
        button('Sign out', actions.signOut),
      ),
    ),
  );
}
