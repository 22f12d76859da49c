import './styles.css';
import { ApiError, NO_ACCESS, SESSION_EXPIRED, api, errorMessage, onSessionExpired, type User } from './api';
import { currentUser, initAuth, loadConfig, signOut, watchUser } from './auth';
import { button, h } from './dom';
import { announce, clearMessages } from './messages';
import { currentPath, onRouteChange, parse, type Route } from './router';
import { adminExperimentView, adminExperimentsView } from './views/admin-experiments';
import { adminUsersView } from './views/admin-users';
import { experimentView } from './views/experiment';
import { experimentsView } from './views/experiments';
import { notEnabledView } from './views/not-enabled';
import { signInView } from './views/signin';

/** Who is at the keyboard. */
type Session =
  | { state: 'starting' }
  | { state: 'signed-out' }
  | { state: 'not-enabled'; uid: string; email: string | null }
  | { state: 'user'; me: User }
  | { state: 'broken'; message: string };

let session: Session = { state: 'starting' };
let teardown: (() => void) | null = null;
/** Set by navigation and sign-in changes (not by the first load): the new page's heading gets the focus. */
let moveFocus = false;
let identified = false;

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;

function renderNav(route: Route): void {
  if (session.state !== 'user' && session.state !== 'not-enabled') {
    nav.replaceChildren();
    return;
  }
  const link = (target: string, label: string, active: boolean) =>
    h('a', { href: target, 'aria-current': active ? 'page' : null }, label);
  const links =
    session.state === 'user'
      ? [
          link('#/experiments', 'Experiments', route.name === 'experiments' || route.name === 'experiment'),
          ...(session.me.role === 'ADMIN'
            ? [
                link('#/admin/users', 'Users', route.name === 'admin-users'),
                link('#/admin/experiments', 'Manage experiments', route.name.startsWith('admin-experiment')),
              ]
            : []),
        ]
      : [];
  const who =
    session.state === 'user'
      ? `${session.me.name ?? session.me.user_id} (${session.me.role === 'ADMIN' ? 'administrator' : 'scientist'})`
      : (session.email ?? '');
  nav.replaceChildren(
    h('ul', { class: 'nav-links' }, links.map((a) => h('li', {}, a))),
    h('div', { class: 'nav-user' }, h('span', { class: 'who' }, who), button('Sign out', () => void leave(), { id: 'sign-out' })),
  );
}

async function leave(): Promise<void> {
  await signOut();
  announce('You are signed out.', 'info', { keep: true });
}

async function render(): Promise<void> {
  teardown?.();
  teardown = null;
  const controller = new AbortController();
  const viewCleanup: (() => void)[] = [() => controller.abort()];
  teardown = () => viewCleanup.forEach((f) => f());
  clearMessages();
  const route = parse(currentPath());
  renderNav(route);
  const { signal } = controller;
  try {
    switch (session.state) {
      case 'starting':
        main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
        return;
      case 'broken':
        main.replaceChildren(h('section', { class: 'card narrow' }, h('h1', { tabindex: -1 }, 'MyMONIT is not available'), h('p', { class: 'notice notice-error' }, session.message)));
        return;
      case 'signed-out':
        // The address stays: once signed in, the page asked for shows.
        signInView(main);
        document.title = 'Sign in · MyMONIT';
        return;
      case 'not-enabled':
        notEnabledView(main, session.uid, session.email, { retry: () => void identify(), signOut: () => void leave() });
        document.title = 'Account not enabled · MyMONIT';
        return;
      case 'user':
        break;
    }
    const me = session.me;
    const admin = me.role === 'ADMIN';
    const forbidden = () => {
      main.replaceChildren(
        h('section', { class: 'card narrow' }, h('h1', { tabindex: -1 }, 'No access'), h('p', { class: 'notice notice-error', id: 'page-error' }, NO_ACCESS)),
      );
    };
    switch (route.name) {
      case 'experiments':
        document.title = 'Experiments · MyMONIT';
        await experimentsView(main, me, signal);
        break;
      case 'experiment': {
        document.title = `${route.params.id} · MyMONIT`;
        const cleanup = await experimentView(main, me, route.params.id, signal);
        if (signal.aborted) cleanup();
        else viewCleanup.push(cleanup);
        break;
      }
      case 'admin-users':
        document.title = 'Users · MyMONIT';
        if (admin) await adminUsersView(main, me, signal);
        else forbidden();
        break;
      case 'admin-experiments':
        document.title = 'Manage experiments · MyMONIT';
        if (admin) await adminExperimentsView(main, signal);
        else forbidden();
        break;
      case 'admin-experiment':
        document.title = `Manage ${route.params.id} · MyMONIT`;
        if (admin) await adminExperimentView(main, route.params.id, signal);
        else forbidden();
        break;
      default:
        document.title = 'Not found · MyMONIT';
        main.replaceChildren(
          h('section', { class: 'card narrow' }, h('h1', { tabindex: -1 }, 'Page not found'), h('p', {}, 'This address is not a page of MyMONIT. ', h('a', { href: '#/experiments' }, 'Go to the experiments'), '.')),
        );
    }
  } catch (error) {
    if (!signal.aborted) announce(errorMessage(error), 'error');
  } finally {
    // Moving between pages: the new page's heading gets the focus (not on the first load).
    if (moveFocus && !signal.aborted && !main.contains(document.activeElement)) {
      (main.querySelector<HTMLElement>('h1[tabindex]') ?? main).focus({ preventScroll: true });
    }
    if (!signal.aborted && session.state !== 'starting') moveFocus = false;
    main.dataset.ready = session.state;
  }
}

/** Asks the API who the signed-in identity is. */
async function identify(): Promise<void> {
  const user = currentUser();
  if (!user) {
    session = { state: 'signed-out' };
    return void render();
  }
  try {
    session = { state: 'user', me: await api<User>('me', { subject: 'other' }) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      session = { state: 'not-enabled', uid: user.uid, email: user.email };
    } else if (error instanceof ApiError && error.status === 401) {
      return; // onSessionExpired signs out
    } else {
      session = { state: 'broken', message: errorMessage(error) };
    }
  }
  await render();
}

let expiring = false;
onSessionExpired(() => {
  if (expiring || !currentUser()) return;
  expiring = true;
  announce(SESSION_EXPIRED, 'error', { keep: true });
  void signOut().finally(() => {
    expiring = false;
  });
});

document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  // The hash is the router's: move the focus without touching it.
  event.preventDefault();
  main.focus();
});

async function start(): Promise<void> {
  void render();
  let configured: boolean;
  try {
    configured = initAuth(await loadConfig());
  } catch {
    session = { state: 'broken', message: 'The server cannot be reached: check your connection and reload the page.' };
    return void render();
  }
  if (!configured) {
    session = { state: 'broken', message: 'Sign-in is not configured on this server: ask its administrator to set the Firebase web settings.' };
    return void render();
  }
  watchUser((user) => {
    moveFocus = identified;
    identified = true;
    if (!user) {
      session = { state: 'signed-out' };
      void render();
    } else {
      void identify();
    }
  });
  onRouteChange(() => {
    moveFocus = true;
    void render();
  });
}

void start();
