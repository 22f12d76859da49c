import { api, errorMessage, type Experiment, type Page, type User } from '../api';
import { button, h } from '../dom';
import { formatTime } from '../format';
import { announce } from '../messages';
import { href } from '../router';

/** The experiments the signed-in user may see (admins: all of them). */
export async function experimentsView(main: HTMLElement, me: User, signal: AbortSignal): Promise<void> {
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'data', id: 'experiments' },
    h('caption', { class: 'visually-hidden' }, 'Experiments'),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Experiment'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'wide-only' }, 'Description'), h('th', { scope: 'col' }, 'Updated')),
    ),
    body,
  );
  const more = button('Load more', () => void load(), { hidden: true });
  const empty = h(
    'p',
    { class: 'empty', hidden: true },
    me.role === 'ADMIN'
      ? 'There is no experiment yet: create one under Manage experiments.'
      : 'You are not associated with any experiment yet: ask an administrator to give you access.',
  );
  main.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': 'experiments-title' },
      h('div', { class: 'page-head' }, h('h1', { id: 'experiments-title', tabindex: -1 }, 'Experiments'), me.role === 'ADMIN' ? h('a', { class: 'button', href: '#/admin/experiments' }, 'Manage experiments') : null),
      h('div', { class: 'table-wrap' }, table),
      empty,
      more,
    ),
  );

  let cursor: string | null = null;
  let count = 0;
  async function load(): Promise<void> {
    more.disabled = true;
    try {
      const page = await api<Page<Experiment>>('experiments', { query: { limit: 100, cursor }, signal });
      for (const e of page.items) {
        body.append(
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, h('a', { href: href('experiments', e.experiment_id) }, e.experiment_id)),
            h('td', {}, e.name),
            h('td', { class: 'wide-only description' }, e.description),
            h('td', {}, formatTime(e.updated_at)),
          ),
        );
      }
      count += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = count > 0;
      table.hidden = count === 0;
    } catch (error) {
      if (signal.aborted) return;
      announce(errorMessage(error), 'error');
      if (count === 0) {
        table.replaceWith(h('p', { class: 'notice notice-error', id: 'page-error' }, errorMessage(error)));
      }
    } finally {
      more.disabled = false;
    }
  }
  await load();
}
