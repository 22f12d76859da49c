import { api, errorMessage, userPath, type Page, type Role, type User } from '../api';
import { confirmDialog, formDialog } from '../dialog';
import { button, field, h } from '../dom';
import { formatTime } from '../format';
import { submitting, values } from '../forms';
import { announce } from '../messages';

const ROLES: [Role, string][] = [
  ['SCIENTIST', 'Scientist'],
  ['ADMIN', 'Administrator'],
];

function roleSelect(value: Role = 'SCIENTIST'): HTMLSelectElement {
  const select = h('select', { name: 'role', required: true });
  for (const [role, label] of ROLES) {
    const option = h('option', { value: role }, label);
    option.selected = role === value;
    select.append(option);
  }
  return select;
}

function profileFields(user?: User): HTMLElement[] {
  return [
    field('Name', h('input', { name: 'name', required: true, maxlength: 255, autocomplete: 'off', value: user?.name ?? '' })),
    field(
      'Firebase user id',
      h('input', { name: 'username', required: true, maxlength: 128, autocomplete: 'off', spellcheck: 'false', value: user?.username ?? '' }),
      'The user id the person’s MyMONIT page shows them after they created their account.',
    ),
    field('Email', h('input', { name: 'email', type: 'email', required: true, maxlength: 320, autocomplete: 'off', value: user?.email ?? '' })),
    field('Role', roleSelect(user?.role)),
  ];
}

/** Administration of users: list (erased too), add, edit, erase (GDPR). */
export async function adminUsersView(main: HTMLElement, me: User, signal: AbortSignal): Promise<void> {
  const includeErased = h('input', { type: 'checkbox', id: 'include-erased', name: 'include_erased' });
  const tbody = h('tbody');
  const more = button('Load more', () => void load(false), { hidden: true });
  let cursor: string | null = null;

  const createForm = h(
    'form',
    { class: 'grid-form', id: 'create-user', 'aria-label': 'Add a user' },
    field('User id', h('input', { name: 'user_id', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' }), 'Letters, digits and . _ : - (e.g. S123).'),
    ...profileFields(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add the user')),
  );
  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const v = values(createForm);
    void submitting(createForm, async () => {
      const body = { user_id: v.user_id.trim(), name: v.name.trim(), username: v.username.trim(), email: v.email.trim(), role: v.role };
      await api<User>('users', { method: 'POST', body, subject: 'other' });
      announce(`User ${body.user_id} was added.`, 'success');
      createForm.reset();
      await load(true);
    });
  });

  main.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': 'users-title' },
      h('div', { class: 'page-head' }, h('h1', { id: 'users-title', tabindex: -1 }, 'Users')),
      h('section', { class: 'card', 'aria-labelledby': 'add-user-title' }, h('h2', { id: 'add-user-title' }, 'Add a user'), createForm),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'user-list-title' },
        h(
          'div',
          { class: 'toolbar' },
          h('h2', { id: 'user-list-title' }, 'All users'),
          h('label', { class: 'check', for: includeErased.id }, includeErased, h('span', {}, 'Show erased users')),
        ),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'data', id: 'users' },
            h('caption', { class: 'visually-hidden' }, 'Users'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'User id'),
                h('th', { scope: 'col' }, 'Name'),
                h('th', { scope: 'col', class: 'wide-only' }, 'Email'),
                h('th', { scope: 'col' }, 'Role'),
                h('th', { scope: 'col', class: 'wide-only' }, 'Firebase user id'),
                h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
              ),
            ),
            tbody,
          ),
        ),
        more,
      ),
    ),
  );
  includeErased.addEventListener('change', () => void load(true));

  function row(user: User): HTMLTableRowElement {
    const erased = user.erased_at !== null;
    const actions = erased
      ? h('span', { class: 'badge' }, `Erased ${formatTime(user.erased_at)}`)
      : h(
          'div',
          { class: 'actions' },
          button('Edit', () => void edit(user), { 'aria-label': `Edit user ${user.user_id}` }),
          user.user_id === me.user_id
            ? null
            : button('Erase', () => void erase(user), { class: 'danger', 'aria-label': `Erase user ${user.user_id}` }),
        );
    return h(
      'tr',
      { 'data-user': user.user_id, class: erased ? 'erased' : null },
      h('th', { scope: 'row' }, user.user_id),
      h('td', {}, user.name ?? '—'),
      h('td', { class: 'wide-only' }, user.email ?? '—'),
      h('td', {}, user.role === 'ADMIN' ? 'Administrator' : 'Scientist'),
      h('td', { class: 'wide-only' }, h('code', {}, user.username ?? '—')),
      h('td', {}, actions),
    );
  }

  async function load(fresh: boolean): Promise<void> {
    if (fresh) cursor = null;
    more.disabled = true;
    try {
      const page = await api<Page<User>>('users', {
        query: { limit: 200, cursor, include_erased: includeErased.checked ? 'true' : 'false' },
        signal,
        subject: 'other',
      });
      if (fresh) tbody.replaceChildren();
      tbody.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (!signal.aborted) {
        tbody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'notice-error' }, errorMessage(error))));
        announce(errorMessage(error), 'error');
      }
    } finally {
      more.disabled = false;
    }
  }

  async function edit(user: User): Promise<void> {
    const form = h(
      'form',
      { class: 'stack', 'aria-label': `Edit user ${user.user_id}` },
      ...profileFields(user),
      h('div', { class: 'actions end' }, h('button', { type: 'button', 'data-cancel': true }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Save')),
    );
    const saved = await formDialog(`Edit user ${user.user_id}`, form, () =>
      submitting(form, async () => {
        const v = values(form);
        await api<User>(userPath(user.user_id), {
          method: 'PUT',
          body: { name: v.name.trim(), username: v.username.trim(), email: v.email.trim(), role: v.role },
        });
      }),
    );
    if (saved) {
      announce(`User ${user.user_id} was saved.`, 'success');
      await load(true);
    }
  }

  async function erase(user: User): Promise<void> {
    const confirmed = await confirmDialog({
      title: `Erase user ${user.user_id}?`,
      message: h(
        'p',
        {},
        `This removes the name, email and Firebase user id of ${user.name ?? user.user_id} and their access to every experiment. `,
        'Only the user id and role stay, for the audit trail. This cannot be undone.',
      ),
      confirm: 'Erase the user',
      danger: true,
    });
    if (!confirmed) return;
    try {
      await api(userPath(user.user_id), { method: 'DELETE' });
      announce(`User ${user.user_id} was erased.`, 'success');
      await load(true);
    } catch (error) {
      announce(errorMessage(error), 'error');
    }
  }

  await load(true);
}
