import { h } from './dom';

/** The page's one aria-live region: what happened, in words. */

export type MessageKind = 'info' | 'success' | 'error';

let keepOnce = false;

function region(): HTMLElement {
  return document.getElementById('messages')!;
}

/**
 * Shows a message to everyone (screen readers hear it through the live region).
 * `keep`: it survives the next navigation (e.g. a redirect to the sign-in page).
 */
export function announce(text: string, kind: MessageKind = 'info', options: { keep?: boolean } = {}): void {
  // A message meant to survive the next navigation is not undone by one shown before it.
  keepOnce = keepOnce || (options.keep ?? false);
  const close = h('button', { type: 'button', class: 'link-button', 'aria-label': 'Dismiss message' }, '×');
  const message = h('p', { class: `message message-${kind}`, 'data-kind': kind }, h('span', {}, text), close);
  close.addEventListener('click', () => clearMessages(true));
  region().replaceChildren(message);
}

/** Called on navigation: clears the last message unless it was meant to survive one. */
export function clearMessages(force = false): void {
  if (keepOnce && !force) {
    keepOnce = false;
    return;
  }
  keepOnce = false;
  region().replaceChildren();
}
