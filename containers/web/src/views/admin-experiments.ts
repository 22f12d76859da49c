import { ApiError, api, errorMessage, experimentPath, type Experiment, type ExperimentDetails, type Page, type User } from '../api';
import { confirmDialog } from '../dialog';
import { button, field, h } from '../dom';
import { formatTime } from '../format';
import { submitting, values } from '../forms';
import { announce } from '../messages';
import { href, navigate } from '../router';

/** Administration of experiments: list and create. */
export async function adminExperimentsView(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const tbody = h('tbody');
  const more = button('Load more', () => void load(false), { hidden: true });
  let cursor: string | null = null;

  const createForm = h(
    'form',
    { class: 'grid-form', id: 'create-experiment', 'aria-label': 'Create an experiment' },
    field(
      'Experiment id',
      h('input', { name: 'experiment_id', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' }),
      'What instruments put in their measures: letters, digits and . _ : - (e.g. ATLAS-TDAQ-01).',
    ),
    field('Name', h('input', { name: 'name', required: true, maxlength: 255, autocomplete: 'off' })),
    field('Description', h('textarea', { name: 'description', rows: 2, maxlength: 10000 })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create the experiment')),
  );
  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const v = values(createForm);
    void submitting(createForm, async () => {
      const body = { experiment_id: v.experiment_id.trim(), name: v.name.trim(), description: v.description };
      await api<Experiment>('experiments', { method: 'POST', body, subject: 'other' });
      announce(`Experiment ${body.experiment_id} was created: add its users below.`, 'success', { keep: true });
      navigate(href('admin', 'experiments', body.experiment_id));
    });
  });

  main.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': 'admin-experiments-title' },
      h('div', { class: 'page-head' }, h('h1', { id: 'admin-experiments-title', tabindex: -1 }, 'Manage experiments')),
      h('section', { class: 'card', 'aria-labelledby': 'create-experiment-title' }, h('h2', { id: 'create-experiment-title' }, 'Create an experiment'), createForm),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'all-experiments-title' },
        h('h2', { id: 'all-experiments-title' }, 'All experiments'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'data', id: 'admin-experiments' },
            h('caption', { class: 'visually-hidden' }, 'All experiments'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Experiment'),
                h('th', { scope: 'col' }, 'Name'),
                h('th', { scope: 'col', class: 'wide-only' }, 'Updated'),
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

  async function load(fresh: boolean): Promise<void> {
    if (fresh) cursor = null;
    try {
      const page = await api<Page<Experiment>>('experiments', { query: { limit: 200, cursor }, signal });
      if (fresh) tbody.replaceChildren();
      for (const e of page.items) {
        tbody.append(
          h(
            'tr',
            { 'data-experiment': e.experiment_id },
            h('th', { scope: 'row' }, h('a', { href: href('experiments', e.experiment_id) }, e.experiment_id)),
            h('td', {}, e.name),
            h('td', { class: 'wide-only' }, formatTime(e.updated_at)),
            h('td', {}, h('a', { class: 'button', href: href('admin', 'experiments', e.experiment_id), 'aria-label': `Manage experiment ${e.experiment_id}` }, 'Manage')),
          ),
        );
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (!signal.aborted) announce(errorMessage(error), 'error');
    }
  }
  await load(true);
}

/** One experiment for an admin: edit, its users (associations), delete. */
export async function adminExperimentView(main: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
  const title = h('h1', { id: 'admin-experiment-title', tabindex: -1 }, `Experiment ${id}`);
  main.replaceChildren(h('section', {}, title, h('p', { class: 'loading' }, 'Loading…')));
  let details: ExperimentDetails;
  try {
    details = await api<ExperimentDetails>(experimentPath(id), { signal });
  } catch (error) {
    if (signal.aborted) return;
    main.replaceChildren(
      h(
        'section',
        { class: 'card narrow' },
        title,
        h('p', { class: 'notice notice-error', id: 'page-error' }, errorMessage(error)),
        h('p', {}, h('a', { href: '#/admin/experiments' }, 'Back to the experiments')),
      ),
    );
    announce(errorMessage(error), 'error');
    return;
  }
  if (signal.aborted) return;

  /* Edit */
  const editForm = h(
    'form',
    { class: 'stack', id: 'edit-experiment', 'aria-label': 'Edit the experiment' },
    field('Name', h('input', { name: 'name', required: true, maxlength: 255, value: details.name })),
    field('Description', h('textarea', { name: 'description', rows: 3, maxlength: 10000 }, details.description)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save')),
  );
  editForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const v = values(editForm);
    void submitting(editForm, async () => {
      const saved = await api<Experiment>(experimentPath(id), { method: 'PUT', body: { name: v.name.trim(), description: v.description } });
      title.textContent = `${saved.name} (${id})`;
      announce(`Experiment ${id} was saved.`, 'success');
    });
  });

  /* Associations */
  const members = h('tbody');
  const userSelect = h('select', { name: 'user_id', required: true });
  const addForm = h(
    'form',
    { class: 'inline-form', id: 'add-association', 'aria-label': 'Give a user access' },
    field('User', userSelect),
    h('button', { type: 'submit', class: 'primary' }, 'Give access'),
  );
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const userId = userSelect.value;
    if (!userId) return;
    void submitting(addForm, async () => {
      await api(experimentPath(id, '/users'), { method: 'POST', body: { user_id: userId } });
      announce(`User ${userId} can now see experiment ${id}.`, 'success');
      await loadMembers();
    });
  });

  async function loadMembers(): Promise<void> {
    try {
      const [associated, all] = await Promise.all([
        api<{ items: User[] }>(experimentPath(id, '/users'), { signal }),
        api<Page<User>>('users', { query: { limit: 1000 }, signal, subject: 'other' }),
      ]);
      const ids = new Set(associated.items.map((u) => u.user_id));
      members.replaceChildren(
        ...associated.items.map((u) =>
          h(
            'tr',
            { 'data-user': u.user_id },
            h('th', { scope: 'row' }, u.user_id),
            h('td', {}, u.name ?? '—'),
            h('td', { class: 'wide-only' }, u.email ?? '—'),
            h('td', {}, button('Remove', () => void removeMember(u), { class: 'danger', 'aria-label': `Remove user ${u.user_id} from experiment ${id}` })),
          ),
        ),
      );
      if (associated.items.length === 0) {
        members.append(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No user is associated with this experiment (administrators see every experiment).')));
      }
      const candidates = all.items.filter((u) => !ids.has(u.user_id) && u.role === 'SCIENTIST');
      userSelect.replaceChildren(
        h('option', { value: '' }, candidates.length ? 'Choose a user…' : 'Every scientist already has access'),
        ...candidates.map((u) => h('option', { value: u.user_id }, `${u.user_id} — ${u.name ?? ''}`)),
      );
    } catch (error) {
      if (!signal.aborted) announce(errorMessage(error), 'error');
    }
  }

  async function removeMember(user: User): Promise<void> {
    const confirmed = await confirmDialog({
      title: `Remove ${user.user_id}?`,
      message: `${user.name ?? user.user_id} will no longer see experiment ${id}.`,
      confirm: 'Remove access',
      danger: true,
    });
    if (!confirmed) return;
    try {
      await api(experimentPath(id, `/users/${encodeURIComponent(user.user_id)}`), { method: 'DELETE' });
      announce(`User ${user.user_id} no longer sees experiment ${id}.`, 'success');
      await loadMembers();
    } catch (error) {
      announce(errorMessage(error), 'error');
    }
  }

  /* Delete */
  async function remove(): Promise<void> {
    let current = details;
    try {
      current = await api<ExperimentDetails>(experimentPath(id), { signal });
    } catch {
      // Ask with what is known.
    }
    const hasMeasures = current.sensor_count > 0;
    const confirmed = await confirmDialog({
      title: `Delete experiment ${id}?`,
      message: hasMeasures
        ? `It has measures of ${current.sensor_count} sensor${current.sensor_count === 1 ? '' : 's'}: they will be deleted with it, with its user associations. This cannot be undone.`
        : 'Its user associations are deleted with it. This cannot be undone.',
      confirm: hasMeasures ? 'Delete it and its measures' : 'Delete the experiment',
      danger: true,
    });
    if (!confirmed) return;
    try {
      await api(experimentPath(id), { method: 'DELETE', query: { force: hasMeasures ? 'true' : 'false' } });
    } catch (error) {
      // Measures arrived since: ask again, this time for them too.
      if (!(error instanceof ApiError && error.status === 409)) {
        announce(errorMessage(error), 'error');
        return;
      }
      const force = await confirmDialog({
        title: `Experiment ${id} has measures`,
        message: 'Delete it with all its measures? This cannot be undone.',
        confirm: 'Delete it and its measures',
        danger: true,
      });
      if (!force) return;
      try {
        await api(experimentPath(id), { method: 'DELETE', query: { force: 'true' } });
      } catch (again) {
        announce(errorMessage(again), 'error');
        return;
      }
    }
    announce(`Experiment ${id} was deleted.`, 'success', { keep: true });
    navigate('#/admin/experiments');
  }

  title.textContent = `${details.name} (${id})`;
  main.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': title.id },
      h('div', { class: 'page-head' }, h('div', {}, title, h('p', { class: 'meta' }, h('a', { href: href('experiments', id) }, 'Open the experiment’s measures'))), h('a', { class: 'button', href: '#/admin/experiments' }, 'All experiments')),
      h('section', { class: 'card', 'aria-labelledby': 'edit-title' }, h('h2', { id: 'edit-title' }, 'Name and description'), editForm),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'members-title' },
        h('h2', { id: 'members-title' }, 'Users who see this experiment'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'data', id: 'members' },
            h('caption', { class: 'visually-hidden' }, 'Associated users'),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User id'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'wide-only' }, 'Email'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
            members,
          ),
        ),
        addForm,
      ),
      h(
        'section',
        { class: 'card danger-zone', 'aria-labelledby': 'delete-title' },
        h('h2', { id: 'delete-title' }, 'Delete'),
        h('p', {}, 'Deleting the experiment also deletes its measures and who could see it.'),
        button('Delete the experiment', () => void remove(), { class: 'danger' }),
      ),
    ),
  );
  await loadMembers();
}
